using Lamina.Core.Provenance;

namespace Lamina.Tracking;

/// <summary>Customer releases: which image runs at which customer, built from which bundle, base and customer commit.</summary>
public interface IReleaseStore
{
    /// <summary>
    /// Records a release with its <c>release.built</c> audit entry, in one transaction. The same customer and version
    /// recorded again with the same image digest changes nothing and returns the first record (<c>AlreadyRecorded</c>);
    /// the customer remote is stored with its credentials redacted.
    /// </summary>
    /// <exception cref="ReleaseConflictException">The customer's version was released before as another image: a release is never overwritten.</exception>
    Task<(ReleaseRecord Release, bool AlreadyRecorded)> RecordReleaseAsync(NewRelease release, CancellationToken cancellationToken);

    /// <summary>The releases of one customer, or of every customer when <paramref name="customer"/> is null, oldest first.</summary>
    Task<IReadOnlyList<ReleaseRecord>> ListReleasesAsync(string? customer, CancellationToken cancellationToken);

    /// <summary>The releases whose image has this digest (<c>sha256:…</c>), oldest first.</summary>
    Task<IReadOnlyList<ReleaseRecord>> FindReleasesByImageDigestAsync(string imageDigest, CancellationToken cancellationToken);
}

/// <summary>A model shipped in a release: its folder name in the bundle, its training run, its name there, and its card's digest.</summary>
public sealed record ReleasedModel(string Name, Guid Run, string Model, string CardSha256);

/// <summary>What <see cref="IReleaseStore.RecordReleaseAsync"/> records.</summary>
/// <param name="Customer">The customer's name (customer.yaml's <c>customer</c>).</param>
/// <param name="Version">The release version, the image's tag.</param>
/// <param name="Image">The image as pushed, <c>REPOSITORY:VERSION</c>.</param>
/// <param name="ImageDigest">The image manifest's digest, <c>sha256:HEX</c>.</param>
/// <param name="BundleDigest">The digest of the bundle layer, <c>sha256:HEX</c>.</param>
/// <param name="BaseImage">The base image's reference as given.</param>
/// <param name="BaseDigest">The base image manifest's digest, <c>sha256:HEX</c>.</param>
/// <param name="CustomerCommit">The customer repository's HEAD commit.</param>
/// <param name="CustomerRemote">The customer repository's remote (credentials are redacted when stored).</param>
/// <param name="SigningKeyId">The id of the key that signed the image, if signed.</param>
/// <param name="SignatureDigest">The digest of the signature manifest (<c>.sig</c>), if signed.</param>
/// <param name="AttestationDigest">The digest of the attestation manifest (<c>.att</c>), if signed.</param>
/// <param name="AuditAnchor">The audit trail's head when the bundle was built (<c>SEQ:HASH</c>), kept here rather than in the reproducible bundle.</param>
/// <param name="CreatedBy">Who released (<c>user@host</c>).</param>
public sealed record NewRelease(
    string Customer,
    string Version,
    string Image,
    string ImageDigest,
    string BundleDigest,
    string BaseImage,
    string BaseDigest,
    string? CustomerCommit,
    string? CustomerRemote,
    IReadOnlyList<ReleasedModel> Models,
    string? SigningKeyId,
    string? SignatureDigest,
    string? AttestationDigest,
    string? AuditAnchor,
    string CreatedBy);

/// <summary>A recorded release (see <see cref="NewRelease"/> for the fields).</summary>
public sealed record ReleaseRecord(
    Guid Id,
    string Customer,
    string Version,
    string Image,
    string ImageDigest,
    string BundleDigest,
    string BaseImage,
    string BaseDigest,
    string? CustomerCommit,
    string? CustomerRemote,
    IReadOnlyList<ReleasedModel> Models,
    string? SigningKeyId,
    string? SignatureDigest,
    string? AttestationDigest,
    string? AuditAnchor,
    DateTimeOffset CreatedAt,
    string CreatedBy)
{
    /// <summary>Equal content, the model lists compared item by item (records compare lists by reference).</summary>
    public bool SameAs(ReleaseRecord other) =>
        this with { Models = [] } == other with { Models = [] } && Models.SequenceEqual(other.Models);

    /// <summary>Checks the digests and names of a release about to be stored.</summary>
    internal static void Validate(NewRelease release)
    {
        ArgumentNullException.ThrowIfNull(release);
        ArgumentException.ThrowIfNullOrWhiteSpace(release.Customer);
        ArgumentException.ThrowIfNullOrWhiteSpace(release.Version);
        ArgumentException.ThrowIfNullOrWhiteSpace(release.Image);
        ArgumentException.ThrowIfNullOrWhiteSpace(release.BaseImage);
        ArgumentException.ThrowIfNullOrWhiteSpace(release.CreatedBy);
        foreach (var (name, digest) in new[] { ("image", release.ImageDigest), ("bundle", release.BundleDigest), ("base", release.BaseDigest) })
        {
            if (!IsOciDigest(digest)) throw new ArgumentException($"the {name} digest is sha256:<64 hex digits>, not '{digest}'", nameof(release));
        }
        foreach (var (name, digest) in new[] { ("signature", release.SignatureDigest), ("attestation", release.AttestationDigest) })
        {
            if (digest is not null && !IsOciDigest(digest)) throw new ArgumentException($"the {name} digest is sha256:<64 hex digits>, not '{digest}'", nameof(release));
        }
        foreach (var model in release.Models)
        {
            if (!Sha256Digest.IsValid(model.CardSha256)) throw new ArgumentException($"model '{model.Name}': the card digest is a SHA-256 digest, not '{model.CardSha256}'", nameof(release));
        }
    }

    /// <summary>True for <c>sha256:</c> followed by 64 lowercase hex digits.</summary>
    public static bool IsOciDigest(string? digest) =>
        digest is { Length: 71 } && digest.StartsWith("sha256:", StringComparison.Ordinal) && Sha256Digest.IsValid(digest[7..]);
}

/// <summary>A customer's version was released before as another image: releases are never overwritten.</summary>
public sealed class ReleaseConflictException : TrackingException
{
    /// <summary>Refuses <paramref name="refusedDigest"/> for the version <paramref name="existing"/> already holds.</summary>
    public ReleaseConflictException(ReleaseRecord existing, string refusedDigest)
        : base($"{existing.Customer} {existing.Version} was released on {existing.CreatedAt:yyyy-MM-dd HH:mm:ss}Z as {existing.ImageDigest}, " +
            $"not {refusedDigest}: a release is never overwritten; release a new version")
    {
        Existing = existing;
        At = $"{existing.Customer}:{existing.Version}";
        Kind = Lamina.Core.LaminaErrorKind.Conflict;
    }

    /// <summary>The release already recorded.</summary>
    public ReleaseRecord Existing { get; }
}
