using Lamina.Ship;
using Lamina.Tracking;

namespace Lamina.Cli;

/// <summary>What every command shares: the Ctrl+C token and the stores of this machine.</summary>
internal static class CliContext
{
    public static CancellationToken Cancellation { get; set; }

    public static LaminaHome Home => LaminaHome.Resolve().EnsureCreated();

    public static async Task<(ITrackingStore Store, IBlobStore Blobs)> OpenStoresAsync(LaminaHome home)
    {
        // Blobs or published models beside a missing or empty database mean it was lost: refused, not created afresh.
        var store = await SqliteTrackingStore.OpenAsync(home.DatabasePath, TimeProvider.System, Cancellation,
            contentFolders: [home.BlobsPath, OpenProduction(home).Location]);
        return (store, new FileBlobStore(home.BlobsPath));
    }

    /// <summary>The production store of this machine: <c>LAMINA_PRODUCTION</c>, else the folder in the Lamina home.</summary>
    public static IProductionStore OpenProduction(LaminaHome home) => ProductionStore.Resolve(home.Root);
}
