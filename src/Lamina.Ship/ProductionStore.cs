using System.Text.Json;
using System.Text.Json.Serialization;
using Lamina.Core;
using Lamina.Core.Provenance;

namespace Lamina.Ship;

/// <summary>What every production store shares: where this machine's is, the manifest's name and JSON form, file digests.</summary>
public static class ProductionStore
{
    /// <summary>The environment variable naming the production store.</summary>
    public const string EnvironmentVariable = "LAMINA_PRODUCTION";

    public const string ManifestFile = "manifest.json";

    internal static JsonSerializerOptions JsonOptions => LaminaJson.IndentedOmittingNulls;

    /// <summary>The store <c>LAMINA_PRODUCTION</c> names, else the folder <c>production/</c> inside the Lamina home folder.</summary>
    public static IProductionStore Resolve(string laminaHome) =>
        new FolderProductionStore(Environment.GetEnvironmentVariable(EnvironmentVariable) is { Length: > 0 } root ? root : Path.Combine(laminaHome, "production"));

}
