using Lamina.Core;

namespace Lamina.Ship;

/// <summary>An error of resolving, bundling or tracing: a pinned file altered or missing, a lock that does not match (a bundle that does not verify is Core's <see cref="BundleException"/>).</summary>
public sealed class ShipException : LaminaException
{
    public ShipException(string message, Exception? inner = null) : base(message, inner) { }

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
