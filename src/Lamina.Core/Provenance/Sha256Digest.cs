using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;
using System.Text;

namespace Lamina.Core.Provenance;

/// <summary>
/// The identity of stored content: the SHA-256 of its bytes, written as 64 lowercase hex digits (the form every Lamina
/// file, database row and blob name uses). The one place that says what a digest looks like and how it is computed.
/// </summary>
public readonly record struct Sha256Digest
{
    /// <summary>Hex digits a digest is written with.</summary>
    public const int HexLength = 64;

    /// <summary>Hex digits of the short form shown in tables and messages.</summary>
    public const int ShortLength = 12;

    /// <summary>The prefix of the <c>algorithm:hex</c> form (OCI, in-toto).</summary>
    public const string Algorithm = "sha256";

    private const int CopyBufferSize = 1 << 20;

    private readonly string? _hex;

    private Sha256Digest(string hex) => _hex = hex;

    /// <summary>64 lowercase hex digits.</summary>
    public string Hex => _hex ?? throw new InvalidOperationException("an empty Sha256Digest has no value");

    /// <summary>The first 12 hex digits, for people: tables and messages.</summary>
    public string Short => Hex[..ShortLength];

    /// <summary><c>sha256:&lt;hex&gt;</c>, as OCI descriptors and in-toto subjects write a digest.</summary>
    public string Prefixed => $"{Algorithm}:{Hex}";

    public override string ToString() => Hex;

    /// <summary>True for 64 lowercase hex digits, the only form a stored digest has.</summary>
    public static bool IsValid([NotNullWhen(true)] string? text) =>
        text is { Length: HexLength } && text.All(c => c is (>= '0' and <= '9') or (>= 'a' and <= 'f'));

    /// <summary>Reads a digest written as 64 lowercase hex digits, or as <c>sha256:&lt;hex&gt;</c>.</summary>
    public static bool TryParse([NotNullWhen(true)] string? text, out Sha256Digest digest)
    {
        var hex = text is not null && text.StartsWith(Algorithm + ":", StringComparison.Ordinal) ? text[(Algorithm.Length + 1)..] : text;
        digest = IsValid(hex) ? new Sha256Digest(hex) : default;
        return hex is not null && digest._hex is not null;
    }

    /// <summary>Reads a digest; <paramref name="what"/> names where the text came from for the error.</summary>
    /// <exception cref="ProvenanceException">The text is not 64 lowercase hex digits.</exception>
    public static Sha256Digest Parse(string? text, string what = "digest") =>
        TryParse(text, out var digest) ? digest : throw ProvenanceException.NotADigest(text, what);

    /// <summary>The digest of bytes.</summary>
    public static Sha256Digest Of(ReadOnlySpan<byte> bytes) => FromHash(SHA256.HashData(bytes));

    /// <summary>The digest of a text's UTF-8 bytes (canonical forms, cache keys).</summary>
    public static Sha256Digest OfText(string text) => Of(Encoding.UTF8.GetBytes(text));

    /// <summary>The digest of a stream read from its current position to its end.</summary>
    public static Sha256Digest Of(Stream stream) => FromHash(SHA256.HashData(stream));

    /// <inheritdoc cref="Of(Stream)"/>
    public static async Task<Sha256Digest> OfAsync(Stream stream, CancellationToken cancellationToken) =>
        FromHash(await SHA256.HashDataAsync(stream, cancellationToken).ConfigureAwait(false));

    /// <summary>The digest and size of a file, read once, sequentially.</summary>
    public static (Sha256Digest Digest, long Size) OfFile(string path)
    {
        using var stream = OpenSequential(path);
        return (Of(stream), stream.Length);
    }

    /// <inheritdoc cref="OfFile"/>
    public static async Task<(Sha256Digest Digest, long Size)> OfFileAsync(string path, CancellationToken cancellationToken)
    {
        await using var stream = OpenSequential(path);
        return (await OfAsync(stream, cancellationToken).ConfigureAwait(false), stream.Length);
    }

    /// <summary>
    /// Copies a stream to another while hashing it, so content is read once: the digest and size of what was written.
    /// </summary>
    public static async Task<(Sha256Digest Digest, long Size)> CopyAsync(Stream input, Stream output, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(output);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[CopyBufferSize];
        long size = 0;
        int read;
        while ((read = await input.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
        {
            hash.AppendData(buffer, 0, read);
            await output.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
            size += read;
        }
        return (FromHash(hash.GetHashAndReset()), size);
    }

    /// <summary>A digest from the 32 bytes of a finished SHA-256 (an <see cref="IncrementalHash"/>'s result).</summary>
    public static Sha256Digest FromHash(ReadOnlySpan<byte> hash) =>
        hash.Length == SHA256.HashSizeInBytes
            ? new Sha256Digest(Convert.ToHexStringLower(hash))
            : throw new ArgumentException($"a SHA-256 has {SHA256.HashSizeInBytes} bytes, not {hash.Length}", nameof(hash));

    private static FileStream OpenSequential(string path) =>
        new(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, FileOptions.SequentialScan);
}
