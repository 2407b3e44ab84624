using Lamina.Core;
using Lamina.Core.Plugins;
using Lamina.Lab.Experiments;
using Lamina.Tracking;

namespace Lamina.Lab.Datasets;

/// <summary>
/// The <c>dataset</c> task: lays out a loader's labelled tiles, digests every slide, splits by slide, and stores the
/// manifest content-addressed, so the same data always gives the same data set id.
/// </summary>
internal sealed class DatasetTask(ITrackingStore store, IBlobStore blobs, ITileSource source, DatasetParams parameters, TimeProvider time, string? tilePlanCachePath = null)
{
    public static ITileSource SourceOf(Experiment experiment, DatasetParams parameters, PluginCatalog catalog) =>
        TileSources.Create(experiment, parameters.Loader, catalog, "dataset");

    public async Task<DatasetRecord> RunAsync(IRunContext run, CancellationToken cancellationToken) =>
        (await new DatasetBuilder(store, blobs, time) { TilePlanCachePath = tilePlanCachePath }.BuildAsync(source, parameters, run, "output", cancellationToken)).Record;
}
