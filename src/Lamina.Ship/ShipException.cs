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
        new($"model {run}/{model}: the card blob has sha256 {actual}, the store registered {registered}") { At = $"{run}/{model}" };

    internal static ShipException CardFileNotPublishable(Guid run, string model, string file) =>
        new($"model {run}/{model}: the card names a file '{file}' that cannot be published") { At = $"{run}/{model}/{file}" };

    internal static ShipException PublishedCopyMissing(string what, string location) =>
        new($"{what}, but its production copy {location} is missing; it was not restored (restore it from a backup)") { At = location };

    internal static ShipException PublishedCopyAltered(string what, string problem, Exception? inner = null) =>
        new($"{what}, but its production copy was altered: {problem}", inner);

    internal static ShipException UnmarkedCopyDoesNotVerify(Guid run, string model, string location, Exception inner) =>
        new($"the production store holds a copy of model '{model}' of run {run} that is not marked published and does not verify ({inner.Message}); inspect and remove {location}, then publish again", inner)
        { At = location };

    internal static ShipException UnmarkedCopyOfAnotherCard(Guid run, string model, string card, string registered, string location) =>
        new($"the production store holds a copy of model '{model}' of run {run} whose card ({card}) is not the registered one ({registered}); inspect and remove {location}, then publish again")
        { At = location };

    internal static ShipException Altered(string path, string expected, string actual) =>
        new($"{path}: sha256 {actual} differs from the pinned {expected}: the file was altered");

    internal static ShipException Missing(string path, string expected) =>
        new($"{path}: missing (pinned sha256 {expected})");

    internal static ShipException Extra(string path, string where) =>
        new($"{path}: not in {where}: the bundle holds a file nobody pinned");

    internal static ShipException NoLock(string lockPath, string resolved) =>
        new($"no lock file {lockPath} beside {resolved}: run `lamina resolve` to write the resolved file and its lock");

    internal static ShipException ResolvedEdited(string resolved, string expected, string actual) =>
        new($"{resolved}: sha256 {actual} differs from the lock's {expected}: the resolved file was edited after `lamina resolve`; resolve again");
}
