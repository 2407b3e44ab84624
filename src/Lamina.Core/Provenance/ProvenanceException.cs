namespace Lamina.Core.Provenance;

/// <summary>A digest or a record of provenance that is malformed, or content that does not match its recorded digest.</summary>
public sealed class ProvenanceException : LaminaException
{
    public ProvenanceException(string message, Exception? inner = null) : base(message, inner) { }

    internal static ProvenanceException NotADigest(string? text, string what) =>
        new($"{what}: '{Shorten(text)}' is not a SHA-256 digest (64 lowercase hex digits)") { At = what, Kind = LaminaErrorKind.Validation };

    /// <summary>Content whose digest differs from the one recorded for it.</summary>
    public static ProvenanceException Altered(string what, Sha256Digest expected, Sha256Digest actual) =>
        new($"{what}: sha256 {actual} differs from the recorded {expected}: the content was altered") { At = what, Kind = LaminaErrorKind.Integrity };

    private static string Shorten(string? text) => text is null ? "(none)" : text.Length <= 80 ? text : text[..77] + "...";
}
