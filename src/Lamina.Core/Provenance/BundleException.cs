namespace Lamina.Core.Provenance;

/// <summary>A bundle that cannot be read or does not verify: no or a broken <c>provenance.json</c> or lock, a file altered, missing or unpinned.</summary>
public sealed class BundleException : LaminaException
{
    public BundleException(string message, Exception? inner = null) : base(message, inner) => Kind = LaminaErrorKind.Integrity;
}
