using System.Text.Json;
using System.Text.Json.Serialization;
using Lamina.Core;
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

    /// <summary>Opens the production store the settings name: the one place that chooses its backend.</summary>
    public static IProductionStore Open(StoreSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var location = settings.Production;
        return location.Backend switch
        {
            StoreBackend.Folder => new FolderProductionStore(location.Value),
            // wired when the PostgreSQL/S3 backends merge: new S3ProductionStore(S3Location.Parse(location.Value, settings.S3Environment(location)))
            StoreBackend.S3 => throw ProductionStoreException.BackendNotAvailable(location),
            _ => throw new ArgumentOutOfRangeException(nameof(location), location.Backend, "not a production store backend"),
        };
    }
}
