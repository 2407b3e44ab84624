using Lamina.Core;
using Lamina.Core.Inference;
using Lamina.Core.Provenance;
using Lamina.Tracking;

namespace Lamina.Tracking;

/// <summary>A model package found in the store: its registration and its card.</summary>
public sealed record StoredModel(ModelRecord Record, ModelCard Card);

/// <summary>
/// Model packages kept with the run that made them: the card and every file are the run's artifacts under
/// <c>model/NAME/</c>, content-addressed in the blob store.
/// </summary>
public static class ModelPackages
{
    public const string CardFile = "model.json";

    public static string ArtifactPrefix(string name) => $"model/{name}/";

    /// <summary>
    /// Stores the package's files (given by name → bytes, or by name → path for files too large to hold in memory, such
    /// as a backbone's external data; a file whose digest the blob store already holds may be left out) and its card
    /// with the run, and registers the model.
    /// </summary>
    public static async Task<string> StoreAsync(ITrackingStore store, IBlobStore blobs, Guid runId, ModelCard card,
        IReadOnlyDictionary<string, byte[]> files, CancellationToken cancellationToken, IReadOnlyDictionary<string, string>? paths = null)
    {
        foreach (var file in card.Files)
        {
            if (!files.TryGetValue(file.Name, out var bytes) && paths?.GetValueOrDefault(file.Name) is { } path)
            {
                (string Digest, long Size) put;
                await using (var stream = File.OpenRead(path))
                {
                    put = await blobs.PutAsync(stream, cancellationToken);
                }
                if (put.Digest != file.Sha256 || put.Size != file.Size)
                {
                    throw TrackingException.ModelFileDiffers(card.Name, file.Name, put.Digest, file.Sha256);
                }
                await store.AddArtifactAsync(runId, ArtifactPrefix(card.Name) + file.Name, put.Digest, put.Size, cancellationToken);
                continue;
            }
            if (bytes is null)
            {
                // Content-addressed: a file already stored (the same backbone for every model) need not be given again.
                if (!await blobs.ExistsAsync(file.Sha256, cancellationToken))
                {
                    throw TrackingException.ModelFileNotGiven(card.Name, file.Name);
                }
                await store.AddArtifactAsync(runId, ArtifactPrefix(card.Name) + file.Name, file.Sha256, file.Size, cancellationToken);
                continue;
            }
            var (digest, size) = await blobs.PutAsync(new MemoryStream(bytes, writable: false), cancellationToken);
            if (digest != file.Sha256 || size != file.Size)
            {
                throw TrackingException.ModelFileDiffers(card.Name, file.Name, digest, file.Sha256);
            }
            await store.AddArtifactAsync(runId, ArtifactPrefix(card.Name) + file.Name, digest, size, cancellationToken);
        }
        var json = card.ToJson();
        var (cardDigest, cardSize) = await blobs.PutAsync(new MemoryStream(json, writable: false), cancellationToken);
        await store.AddArtifactAsync(runId, ArtifactPrefix(card.Name) + CardFile, cardDigest, cardSize, cancellationToken);
        await store.RegisterModelAsync(runId, card.Name, card.Kind, cardDigest, cancellationToken);
        return cardDigest;
    }

    /// <summary>Every model of the store with its card.</summary>
    public static async Task<IReadOnlyList<StoredModel>> ListAsync(ITrackingStore store, IBlobStore blobs, CancellationToken cancellationToken)
    {
        var models = new List<StoredModel>();
        foreach (var record in await store.ListModelsAsync(cancellationToken))
        {
            models.Add(new StoredModel(record, await ReadCardAsync(blobs, record, cancellationToken)));
        }
        return models;
    }

    /// <summary>
    /// Finds a model by <c>RUN</c> (a run id or unique prefix, when the run made one model) or <c>RUN/NAME</c>.
    /// </summary>
    public static async Task<StoredModel> ResolveAsync(ITrackingStore store, IBlobStore blobs, string reference, CancellationToken cancellationToken)
    {
        var slash = reference.IndexOf('/', StringComparison.Ordinal);
        var runPart = slash < 0 ? reference : reference[..slash];
        var name = slash < 0 ? null : reference[(slash + 1)..];
        var run = await store.ResolveRunAsync(runPart, cancellationToken);
        var models = (await store.ListModelsAsync(cancellationToken)).Where(m => m.RunId == run.Id).ToList();
        var matches = name is null ? models : models.Where(m => m.Name == name).ToList();
        var record = matches.Count switch
        {
            1 => matches[0],
            0 when models.Count == 0 => throw ModelNotFoundException.NoModel(run.Id),
            0 => throw ModelNotFoundException.NoSuchModel(run.Id, name!, models.Select(m => m.Name)),
            _ => throw ModelNotFoundException.SeveralModels(run.Id, models.Select(m => m.Name), runPart),
        };
        return new StoredModel(record, await ReadCardAsync(blobs, record, cancellationToken));
    }

    /// <summary>Writes a stored model's package (card and files) into a folder, checking every digest.</summary>
    public static async Task WriteToAsync(IBlobStore blobs, StoredModel model, string directory, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(directory);
        foreach (var file in model.Card.Files)
        {
            await using var source = await blobs.OpenAsync(file.Sha256, cancellationToken);
            Sha256Digest digest;
            await using (var target = File.Create(Path.Combine(directory, file.Name)))
            {
                (digest, _) = await Sha256Digest.CopyAsync(source, target, cancellationToken);
            }
            if (digest.Hex != file.Sha256) throw TrackingException.BlobAltered(file.Sha256, digest.Hex, $"{model.Record.RunId}/{model.Record.Name}/{file.Name}");
        }
        await File.WriteAllBytesAsync(Path.Combine(directory, CardFile), model.Card.ToJson(), cancellationToken);
    }

    /// <summary>Reads a file of a stored package.</summary>
    public static async Task<byte[]> ReadFileAsync(IBlobStore blobs, PackageFile file, CancellationToken cancellationToken)
    {
        await using var source = await blobs.OpenAsync(file.Sha256, cancellationToken);
        using var buffer = new MemoryStream();
        await source.CopyToAsync(buffer, cancellationToken);
        return buffer.ToArray();
    }

    private static async Task<ModelCard> ReadCardAsync(IBlobStore blobs, ModelRecord record, CancellationToken cancellationToken)
    {
        await using var stream = await blobs.OpenAsync(record.CardDigest, cancellationToken);
        using var buffer = new MemoryStream();
        await stream.CopyToAsync(buffer, cancellationToken);
        return ModelCard.Parse(buffer.ToArray(), $"model {record.RunId}/{record.Name}");
    }

    public static PackageFile Describe(string name, byte[] bytes) =>
        new(name, Sha256Digest.Of(bytes).Hex, bytes.LongLength);
}
