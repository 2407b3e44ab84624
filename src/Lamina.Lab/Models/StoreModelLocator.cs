using Lamina.Core.Analysis;
using Lamina.Tracking;

namespace Lamina.Lab.Models;

/// <summary>
/// Finds an analysis's models in the tracking store: a run id (or unique prefix) with <c>sourcing: auto</c> becomes the
/// run's model package, written once under <see cref="LaminaHome.PackagesPath"/> by card digest; manual references are
/// package folders as given.
/// </summary>
public sealed class StoreModelLocator(ITrackingStore store, IBlobStore blobs, LaminaHome home) : IModelLocator
{
    public async Task<string> LocateAsync(ModelReference model, CancellationToken cancellationToken)
    {
        if (model.Sourcing == ModelSourcing.Manual) return model.Reference;
        var stored = await ModelPackages.ResolveAsync(store, blobs, model.Model is null ? model.Reference : $"{model.Reference}/{model.Model}", cancellationToken);
        return await PackageFolderAsync(blobs, home, stored, cancellationToken);
    }

    /// <summary>
    /// The package folder of a stored model under <see cref="LaminaHome.PackagesPath"/>, by card digest, written once:
    /// where analyses and testing runs of that model open it.
    /// </summary>
    public static async Task<string> PackageFolderAsync(IBlobStore blobs, LaminaHome home, StoredModel stored, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(home);
        ArgumentNullException.ThrowIfNull(stored);
        var folder = Path.Combine(home.PackagesPath, stored.Record.CardDigest);
        if (Directory.Exists(folder)) return folder;
        // Written beside, then renamed: a folder under its digest is always a whole package (it is verified again when opened).
        var temporary = Path.Combine(home.PackagesPath, $".{stored.Record.CardDigest}.{Guid.NewGuid():N}");
        try
        {
            await ModelPackages.WriteToAsync(blobs, stored, temporary, cancellationToken);
            Directory.Move(temporary, folder);
        }
        catch (IOException) when (Directory.Exists(folder))
        {
            // Another analysis wrote the same package first.
        }
        finally
        {
            if (Directory.Exists(temporary)) Directory.Delete(temporary, recursive: true);
        }
        return folder;
    }
}
