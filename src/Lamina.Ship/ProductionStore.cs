using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;
using Lamina.Core;
using Lamina.Core.Inference;

namespace Lamina.Ship;

/// <summary>A file of a published model and its digest.</summary>
public sealed record PublishedFile(string Name, string Sha256, long Size);

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

/// <summary>A published model as found in the production store, every file verified against its manifest.</summary>
/// <param name="Directory">The model's folder, <c>&lt;root&gt;/&lt;run&gt;/&lt;model&gt;/</c>.</param>
public sealed record PublishedModel(string Directory, PublishedManifest Manifest, ModelCard Card);

/// <summary>
/// The production store: published model packages under <c>&lt;run-id&gt;/&lt;model-name&gt;/</c>, each with a
/// <c>manifest.json</c> of digests. A model folder appears whole or not at all: it is written under a temporary name
/// beside its final place, verified, then renamed.
/// </summary>
public sealed class ProductionStore
{
    /// <summary>The environment variable naming the production store's folder.</summary>
    public const string EnvironmentVariable = "LAMINA_PRODUCTION";

    public const string ManifestFile = "manifest.json";

    // The manifest and the lock: Lamina's convention, without the nulls.
    internal static readonly JsonSerializerOptions JsonOptions = new(LaminaJson.Indented)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public ProductionStore(string root)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(root);
        Root = Path.GetFullPath(root);
    }

    public string Root { get; }

    /// <summary><c>LAMINA_PRODUCTION</c>, else <c>production/</c> inside the Lamina home folder.</summary>
    public static ProductionStore Resolve(string laminaHome) =>
        new(Environment.GetEnvironmentVariable(EnvironmentVariable) is { Length: > 0 } root ? root : Path.Combine(laminaHome, "production"));

    /// <summary>Where a model is (or would be) published.</summary>
    public string FolderOf(Guid run, string model) => Path.Combine(Root, run.ToString(), model);

    /// <summary>Whether the store holds that model (a complete folder with its manifest; temporary folders do not count).</summary>
    public bool Contains(Guid run, string model) => File.Exists(Path.Combine(FolderOf(run, model), ManifestFile));

    /// <summary>Every published model, by run then name.</summary>
    public IReadOnlyList<(Guid Run, string Model)> List() =>
        !Directory.Exists(Root) ? [] :
        [.. Directory.GetDirectories(Root)
            .Where(d => Guid.TryParse(Path.GetFileName(d), out _))
            .SelectMany(d => Directory.GetDirectories(d).Where(m => !Path.GetFileName(m).StartsWith('.') && File.Exists(Path.Combine(m, ManifestFile)))
                .Select(m => (Guid.Parse(Path.GetFileName(d)), Path.GetFileName(m))))
            .OrderBy(p => p.Item1).ThenBy(p => p.Item2, StringComparer.Ordinal)];

    /// <summary>Opens a published model and verifies every file against its manifest.</summary>
    /// <exception cref="LaminaException">Not published, or a file missing, extra, or differing from its digest (named).</exception>
    public PublishedModel Open(Guid run, string model)
    {
        var folder = FolderOf(run, model);
        if (!Contains(run, model)) throw new LaminaException($"model '{model}' of run {run} is not in the production store {Root}");
        var manifest = ReadManifest(Path.Combine(folder, ManifestFile));
        Verify(folder, manifest);
        var card = ModelCard.Parse(File.ReadAllBytes(Path.Combine(folder, ModelPackage.CardFile)), Path.Combine(folder, ModelPackage.CardFile));
        return new PublishedModel(folder, manifest, card);
    }

    /// <summary>Checks that <paramref name="folder"/> holds exactly the manifest's files with their digests and sizes.</summary>
    /// <exception cref="LaminaException">The first file missing, extra or altered, named.</exception>
    public static void Verify(string folder, PublishedManifest manifest)
    {
        foreach (var file in manifest.Files)
        {
            var path = Path.Combine(folder, file.Name);
            if (!File.Exists(path)) throw new LaminaException($"{path}: missing (the manifest records sha256 {file.Sha256})");
            var (digest, size) = Digest(path);
            if (digest != file.Sha256 || size != file.Size)
            {
                throw new LaminaException($"{path}: sha256 {digest} ({size} bytes) differs from the manifest's {file.Sha256} ({file.Size} bytes): the file was altered");
            }
        }
        var known = manifest.Files.Select(f => f.Name).Append(ManifestFile).ToHashSet(StringComparer.Ordinal);
        foreach (var extra in Directory.GetFiles(folder).Where(f => !known.Contains(Path.GetFileName(f))))
        {
            throw new LaminaException($"{extra}: not in the manifest of {folder}");
        }
    }

    /// <summary>SHA-256 and size of a file.</summary>
    public static (string Sha256, long Size) Digest(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, FileOptions.SequentialScan);
        return (Convert.ToHexStringLower(SHA256.HashData(stream)), stream.Length);
    }

    internal static PublishedManifest ReadManifest(string path)
    {
        try
        {
            var manifest = JsonSerializer.Deserialize<PublishedManifest>(File.ReadAllBytes(path), JsonOptions)
                ?? throw new LaminaException($"{path}: empty manifest");
            return manifest.Format == PublishedManifest.CurrentFormat ? manifest
                : throw new LaminaException($"{path}: manifest format '{manifest.Format}' is not {PublishedManifest.CurrentFormat}");
        }
        catch (JsonException e)
        {
            throw new LaminaException($"{path}: not a valid manifest: {e.Message}", e);
        }
    }
}
