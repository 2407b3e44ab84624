using System.Text.Json;
using System.Text.Json.Serialization;
using Lamina.Core;
using Lamina.Core.Inference;
using Lamina.Core.Provenance;
using Lamina.Tracking;

namespace Lamina.Ship;

/// <summary>What every production store shares: where this machine's is, the manifest's name and JSON form, file digests.</summary>
public static class ProductionStore
{
    /// <summary>The environment variable (or <c>config.yaml</c> key) naming the production store.</summary>
    public const string EnvironmentVariable = StoreSettings.ProductionVariable;

    public const string ManifestFile = "manifest.json";

    internal static JsonSerializerOptions JsonOptions => LaminaJson.IndentedOmittingNulls;

    /// <summary>
    /// The store <c>LAMINA_PRODUCTION</c> names (the environment, else <c>config.yaml</c> in the Lamina home), else the
    /// folder <c>production/</c> inside the Lamina home folder (see <see cref="StoreSettings"/>).
    /// </summary>
    public static IProductionStore Resolve(string laminaHome) => Open(StoreSettings.Resolve(laminaHome));

    /// <summary>Refuses a manifest whose model or file names cannot be published (each a plain file name, once, the card among them).</summary>
    internal static void CheckPublishable(PublishedManifest manifest)
    {
        if (!IsPlainName(manifest.Model)) throw ProductionStoreException.NameNotPublishable(manifest.Run, manifest.Model);
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var file in manifest.Files)
        {
            if (!IsPlainName(file.Name) || file.Name == ManifestFile || !names.Add(file.Name))
            {
                throw ProductionStoreException.FileNotPublishable(manifest.Run, manifest.Model, file.Name);
            }
        }
        if (!names.Contains(ModelPackage.CardFile)) throw ProductionStoreException.NoCard(manifest.Run, manifest.Model, ModelPackage.CardFile);
    }

    internal static bool IsPlainName(string name) =>
        name.Length > 0 && Path.GetFileName(name) == name && !name.StartsWith('.') && name.IndexOfAny(Path.GetInvalidFileNameChars()) < 0;

    /// <summary>Reads <c>manifest.json</c> as stored at <paramref name="where"/> (named in the errors).</summary>
    internal static PublishedManifest ParseManifest(byte[] bytes, string where)
    {
        PublishedManifest manifest;
        try
        {
            manifest = JsonSerializer.Deserialize<PublishedManifest>(bytes, JsonOptions) ?? throw ProductionStoreException.EmptyManifest(where);
        }
        catch (JsonException e)
        {
            throw ProductionStoreException.InvalidManifest(where, e);
        }
        if (manifest.Format != PublishedManifest.CurrentFormat)
        {
            throw ProductionStoreException.ManifestFormat(where, manifest.Format, PublishedManifest.CurrentFormat);
        }
        return manifest;
    }

    /// <summary>Opens the production store the settings name: the one place that chooses its backend.</summary>
    public static IProductionStore Open(StoreSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var location = settings.Production;
        return location.Backend switch
        {
            StoreBackend.Folder => new FolderProductionStore(location.Value),
            StoreBackend.S3 => new S3ProductionStore(S3Location.Parse(location.Value, settings.S3Environment(location))),
            _ => throw new ArgumentOutOfRangeException(nameof(location), location.Backend, "not a production store backend"),
        };
    }
}
