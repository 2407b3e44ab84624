using Lamina.Core;

namespace Lamina.Ship;

/// <summary>
/// The base of every error of the way to production: publishing, resolving, bundling, tracing (a pinned file altered or
/// missing, a lock that does not match, a publication that cannot be made). A bundle that does not verify is Core's
/// <see cref="BundleException"/>: production checks bundles without Ship.
/// </summary>
public class ShipException : LaminaException
{
    public ShipException(string message, Exception? inner = null) : base(message, inner) { }

    internal static ShipException CardBlobDiffers(Guid run, string model, string actual, string registered) =>
        new($"model {run}/{model}: the card blob has sha256 {actual}, the store registered {registered}") { At = $"{run}/{model}", Kind = LaminaErrorKind.Integrity };

    internal static ShipException CardFileNotPublishable(Guid run, string model, string file) =>
        new($"model {run}/{model}: the card names a file '{file}' that cannot be published") { At = $"{run}/{model}/{file}", Kind = LaminaErrorKind.Validation };

    internal static ShipException PublishedCopyMissing(string what, string location) =>
        new($"{what}, but its production copy {location} is missing; it was not restored (restore it from a backup)") { At = location, Kind = LaminaErrorKind.Integrity };

    internal static ShipException PublishedCopyAltered(string what, string problem, Exception? inner = null) =>
        new($"{what}, but its production copy was altered: {problem}", inner) { Kind = LaminaErrorKind.Integrity };

    internal static ShipException UnmarkedCopyDoesNotVerify(Guid run, string model, string location, Exception inner) =>
        new($"the production store holds a copy of model '{model}' of run {run} that is not marked published and does not verify ({inner.Message}); inspect and remove {location}, then publish again", inner)
        { At = location, Kind = LaminaErrorKind.Conflict };

    internal static ShipException UnmarkedCopyOfAnotherCard(Guid run, string model, string card, string registered, string location) =>
        new($"the production store holds a copy of model '{model}' of run {run} whose card ({card}) is not the registered one ({registered}); inspect and remove {location}, then publish again")
        { At = location, Kind = LaminaErrorKind.Conflict };

    internal static ShipException CopyOntoItself(string store) =>
        new($"the source and the target are the same tracking store ({store}): a store cannot be copied onto itself") { At = store, Kind = LaminaErrorKind.Usage };

    internal static ShipException CannotTransfer(string store) =>
        new($"the tracking store {store} cannot export or import its content (its backend has no transfer support yet)") { At = store, Kind = LaminaErrorKind.Usage };

    internal static ShipException AuditBroken(string store, Tracking.AuditBreak problem, bool before) =>
        new($"the audit chain of {store} is broken at entry {problem.Seq}: {problem.Problem}"
            + (before ? "; nothing was copied" : " after the copy"))
        { At = $"{store}#{problem.Seq}", Kind = LaminaErrorKind.Integrity };

    internal static ShipException BlobAltered(string digest, string actual, string store, string what) =>
        new($"blob {digest} in {store} ({what}) has sha256 {actual}: its bytes are not those its name says, so it was altered; it was not copied")
        { At = digest, Kind = LaminaErrorKind.Integrity };

    internal static ShipException BlobMissing(string digest, string store, string what) =>
        new($"blob {digest} ({what}) is missing from {store}; nothing of it was copied") { At = digest, Kind = LaminaErrorKind.Integrity };

    internal static ShipException DatasetDiffers(string id, string store) =>
        new($"data set {id} is already in {store} with a different record; it was not copied") { At = id, Kind = LaminaErrorKind.Conflict };

    internal static ShipException PublishedModelDiffers(Guid run, string model, string location, string manifest, string expected) =>
        new($"model {run}/{model} is published at {location} with manifest sha256 {manifest}, the source's is {expected}: a published model is never replaced")
        { At = location, Kind = LaminaErrorKind.Conflict };

    internal static ShipException Altered(string path, string expected, string actual) =>
        new($"{path}: sha256 {actual} differs from the pinned {expected}: the file was altered") { Kind = LaminaErrorKind.Integrity };

    internal static ShipException Missing(string path, string expected) =>
        new($"{path}: missing (pinned sha256 {expected})") { Kind = LaminaErrorKind.Integrity };

    internal static ShipException Extra(string path, string where) =>
        new($"{path}: not in {where}: the bundle holds a file nobody pinned") { Kind = LaminaErrorKind.Integrity };

    internal static ShipException NoLock(string lockPath, string resolved) =>
        new($"no lock file {lockPath} beside {resolved}: run `lamina resolve` to write the resolved file and its lock") { Kind = LaminaErrorKind.NotFound };

    internal static ShipException ResolvedEdited(string resolved, string expected, string actual) =>
        new($"{resolved}: sha256 {actual} differs from the lock's {expected}: the resolved file was edited after `lamina resolve`; resolve again") { Kind = LaminaErrorKind.Integrity };
}
