using System.Text.Json;
using System.Text.Json.Serialization;
using Lamina.Core.Inference;

namespace Lamina.Core.Provenance;

/// <summary>A file of a published model and its digest, as the production store's manifest and the lock pin it.</summary>
public sealed record PublishedFile(string Name, string Sha256, long Size);

/// <summary>A model pinned by <c>lamina resolve</c>: where it is published and every file of it by digest.</summary>
/// <param name="Name">Its folder in a bundle: <c>models/&lt;Name&gt;/</c>.</param>
/// <param name="Run">The training run.</param>
/// <param name="Model">The model's name within the run.</param>
/// <param name="Location">Its folder in the production store, <c>&lt;run&gt;/&lt;model&gt;/</c>.</param>
/// <param name="Files">Every file, <c>model.json</c> first, as the production store's manifest records them.</param>
public sealed record LockedModel(string Name, Guid Run, string Model, string Location, IReadOnlyList<PublishedFile> Files)
{
    /// <summary>SHA-256 of the model card.</summary>
    public string CardSha256 => Files.Single(f => f.Name == ModelPackage.CardFile).Sha256;
}

/// <summary>A plug-in source file a bundle carries under <c>plugins/</c>.</summary>
/// <param name="Name">Its path under <c>plugins/</c>, with '/' separators.</param>
/// <param name="Run">The training run that recorded it (its bytes are in the blob store), or null for the analysis file's own sources.</param>
/// <param name="Source">For the analysis file's own sources: the file's full path when resolved.</param>
public sealed record LockedPlugin(string Name, string Sha256, long Size, Guid? Run = null, string? Source = null);

/// <summary>
/// <c>lamina.lock.json</c>, written by <c>lamina resolve</c> beside the resolved file: the source analysis file and the
/// resolved file by digest, and every model file and plug-in source a bundle of it holds.
/// </summary>
public sealed record LockFile
{
    public const string CurrentFormat = "lamina.lock/1";

    public const string FileName = "lamina.lock.json";

    private static JsonSerializerOptions Options => LaminaJson.IndentedOmittingNulls;

    public string Format { get; init; } = CurrentFormat;

    /// <summary>The short-form analysis file resolved, full path.</summary>
    public required string AnalysisFile { get; init; }

    public required string AnalysisFileSha256 { get; init; }

    /// <summary>The resolved (verbose) file's name, beside the lock.</summary>
    public required string ResolvedFile { get; init; }

    public required string ResolvedSha256 { get; init; }

    public required IReadOnlyList<string> SourcesPath { get; init; }

    public required IReadOnlyList<LockedModel> Models { get; init; }

    public required IReadOnlyList<LockedPlugin> Plugins { get; init; }

    /// <summary>The lock beside a resolved file.</summary>
    public static string PathBeside(string resolvedFile) => Path.Combine(Path.GetDirectoryName(Path.GetFullPath(resolvedFile))!, FileName);

    public byte[] ToJson() => JsonSerializer.SerializeToUtf8Bytes(this, Options);

    /// <exception cref="BundleException">A lock that cannot be read, or of another format.</exception>
    public static LockFile Read(string path)
    {
        try
        {
            var lockFile = JsonSerializer.Deserialize<LockFile>(File.ReadAllBytes(path), Options)
                ?? throw new BundleException($"{path}: empty lock file");
            return lockFile.Format == CurrentFormat ? lockFile
                : throw new BundleException($"{path}: lock format '{lockFile.Format}' is not {CurrentFormat}");
        }
        catch (JsonException e)
        {
            throw new BundleException($"{path}: not a valid lock file: {e.Message}", e);
        }
    }
}
