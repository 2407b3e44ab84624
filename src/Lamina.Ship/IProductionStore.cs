using System.Text.Json.Serialization;
using Lamina.Core;
using Lamina.Core.Inference;
using Lamina.Tracking;

namespace Lamina.Ship;

/// <summary>
/// The production store: published model packages, each under its run and model name with a manifest of digests. A folder
/// now, an S3 bucket later; callers never see where a file lies, only streams, manifests and descriptions for messages.
/// </summary>
public interface IProductionStore
{
    /// <summary>Where the store is, for messages: a folder, or a bucket and prefix.</summary>
    string Location { get; }

    /// <summary>Where a published model, or one file of it, is (or would be), for messages.</summary>
    string Describe(Guid run, string model, string? file = null);

    /// <summary>Whether the store holds that model, whole (a publish in progress or interrupted does not count).</summary>
    Task<bool> ContainsAsync(Guid run, string model, CancellationToken cancellationToken);

    /// <summary>Every published model, by run then name.</summary>
    Task<IReadOnlyList<(Guid Run, string Model)>> ListAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Publishes a model atomically: every file of <paramref name="manifest"/>, read from <paramref name="source"/>, is
    /// checked against its digest and size, then the model appears whole with its manifest, or not at all.
    /// </summary>
    /// <exception cref="ProductionStoreException">
    /// The model is already published (it is never replaced), a file differs from the manifest, or the manifest names a
    /// file that cannot be published.
    /// </exception>
    Task<PublishedModel> PublishAsync(PublishedManifest manifest, PublishedFileSource source, CancellationToken cancellationToken);

    /// <summary>Opens a published model: its manifest and card, after verifying every file against the manifest.</summary>
    /// <exception cref="ProductionStoreException">Not published, or a file missing, extra, or differing from its digest (the first named).</exception>
    Task<PublishedModel> OpenAsync(Guid run, string model, CancellationToken cancellationToken);

    /// <summary>Opens one file of a published model for reading, unverified (the caller checks the digest it pinned).</summary>
    /// <exception cref="PublishedFileNotFoundException">The model or the file is not there.</exception>
    Task<Stream> OpenFileAsync(Guid run, string model, string name, CancellationToken cancellationToken);

    /// <summary>Checks every file of a published model against its manifest: each one missing, altered or extra.</summary>
    /// <exception cref="ProductionStoreException">Not published, or its manifest cannot be read.</exception>
    Task<ProductionVerification> VerifyAsync(Guid run, string model, CancellationToken cancellationToken);
}

/// <summary>Opens the content of one file of a model being published.</summary>
public delegate Task<Stream> PublishedFileSource(PublishedFile file, CancellationToken cancellationToken);

/// <summary>
/// <c>manifest.json</c> of a published model: which run and model it is, who published it and why, and every file of the
/// package (its <c>model.json</c> first) with its SHA-256.
/// </summary>
public sealed record PublishedManifest
{
    public const string CurrentFormat = "lamina.published/1";

    public string Format { get; init; } = CurrentFormat;

    public required Guid Run { get; init; }

    public required string Model { get; init; }

    public required DateTimeOffset PublishedAt { get; init; }

    public required string PublishedBy { get; init; }

    public string? Reason { get; init; }

    public required IReadOnlyList<PublishedFile> Files { get; init; }

    /// <summary>SHA-256 of the package's model card.</summary>
    [JsonIgnore]
    public string CardSha256 => Files.Single(f => f.Name == ModelPackage.CardFile).Sha256;
}

/// <summary>A published model as found in the production store.</summary>
/// <param name="Location">Where it is, for messages (<see cref="IProductionStore.Describe"/>).</param>
/// <param name="ManifestSha256">SHA-256 of its <c>manifest.json</c> as stored: what the tracking store records at publication.</param>
public sealed record PublishedModel(string Location, PublishedManifest Manifest, string ManifestSha256, ModelCard Card);

/// <summary>A published model's files checked against its manifest; every problem named.</summary>
public sealed record ProductionVerification(Guid Run, string Model, IReadOnlyList<ProductionProblem> Problems)
{
    public bool Ok => Problems.Count == 0;
}

/// <summary>A file of a published model that is <see cref="DigestState.Missing"/>, <see cref="DigestState.Altered"/> or <see cref="DigestState.Extra"/>.</summary>
/// <param name="Message">The problem in a sentence that names the file where it lies.</param>
public sealed record ProductionProblem(string File, DigestState State, string Message);

/// <summary>
/// An error of a production store: a model not there or already there, a copy that does not verify, a manifest that
/// cannot be read, names that cannot be published. Every backend raises these, so callers catch by kind.
/// </summary>
public class ProductionStoreException : ShipException
{
    public ProductionStoreException(string message, Exception? inner = null) : base(message, inner) { }

    internal static ProductionStoreException NotPublished(Guid run, string model, string store) =>
        new($"model '{model}' of run {run} is not in the production store {store}") { At = $"{run}/{model}", Kind = LaminaErrorKind.NotFound };

    internal static ProductionStoreException AlreadyPublished(Guid run, string model, string location) =>
        new($"model '{model}' of run {run} is already in the production store ({location}): a published model is never replaced") { At = location, Kind = LaminaErrorKind.Conflict };

    internal static ProductionStoreException CopyDiffers(Guid run, string model, string file, string sha256, long size, string expected, long expectedSize) =>
        new($"model {run}/{model}: '{file}' has sha256 {sha256} ({size} bytes), the manifest says {expected} ({expectedSize} bytes); nothing was published")
        { At = $"{run}/{model}/{file}", Kind = LaminaErrorKind.Integrity };

    /// <summary>The first problem a verification found (the message names the file where it lies).</summary>
    internal static ProductionStoreException DoesNotVerify(ProductionProblem problem) => new(problem.Message) { At = problem.File, Kind = LaminaErrorKind.Integrity };

    internal static ProductionStoreException NameNotPublishable(Guid run, string model) =>
        new($"model {run}/{model}: the name cannot be published (a plain file name is needed)") { At = $"{run}/{model}", Kind = LaminaErrorKind.Validation };

    internal static ProductionStoreException FileNotPublishable(Guid run, string model, string file) =>
        new($"model {run}/{model}: the manifest names a file '{file}' that cannot be published") { At = $"{run}/{model}/{file}", Kind = LaminaErrorKind.Validation };

    internal static ProductionStoreException NoCard(Guid run, string model, string cardFile) =>
        new($"model {run}/{model}: the manifest has no {cardFile}") { At = $"{run}/{model}", Kind = LaminaErrorKind.Integrity };

    internal static ProductionStoreException EmptyManifest(string path) => new($"{path}: empty manifest") { At = path, Kind = LaminaErrorKind.Integrity };

    internal static ProductionStoreException InvalidManifest(string path, Exception inner) =>
        new($"{path}: not a valid manifest: {inner.Message}", inner) { At = path, Kind = LaminaErrorKind.Integrity };

    internal static ProductionStoreException ManifestFormat(string path, string format, string current) =>
        new($"{path}: manifest format '{format}' is not {current}") { At = path, Kind = LaminaErrorKind.Integrity };
}

/// <summary>A file asked of the production store that is not there.</summary>
public sealed class PublishedFileNotFoundException : ProductionStoreException
{
    public PublishedFileNotFoundException(string location) : base($"{location}: not in the production store")
    {
        Location = location;
        Kind = LaminaErrorKind.NotFound;
    }

    /// <summary>Where the file would be (<see cref="IProductionStore.Describe"/>).</summary>
    public string Location { get; }
}
