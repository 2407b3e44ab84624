using Lamina.Core.Analysis;
using Lamina.Core.Plugins;
using Lamina.Lab.Demo;
using Lamina.Ship;
using Lamina.Tracking;

namespace Lamina.Cli.Commands;

/// <summary>
/// The demo's way to production, wired from Ship's parts as the commands use them: <c>lamina publish</c> each trained
/// model, <c>lamina resolve</c> the analysis file, <c>lamina bundle</c> it, then <c>lamina analyze</c> the held-out slide
/// from the bundle alone (manual models, plug-ins from the bundle, no tracking store).
/// </summary>
internal sealed class DemoReleaseSteps(ITrackingStore store, IBlobStore blobs, LaminaHome home)
{
    public async Task<(AnalysisResult Result, string OutputDirectory)> RunAsync(DemoRelease release, CancellationToken cancellationToken)
    {
        var production = CliContext.OpenProduction(home);
        var publisher = new ModelPublisher(store, blobs, production, TimeProvider.System);
        foreach (var run in release.TrainingRuns)
        {
            var published = await publisher.PublishAsync(new PublishRequest(run.ToString(), null, "lamina demo", AuditLog.CurrentActor), cancellationToken);
            release.Report($"lamina publish {run.ToString()[..8]}: {published.Manifest.Model} copied to {published.Location}, the run is now immutable");
        }

        var releaseFolder = Path.Combine(release.OutputDirectory, "release");
        var resolved = await new AnalysisResolver(store, blobs, production)
            .ResolveAsync(release.AnalysisFile, Path.Combine(releaseFolder, "resolved.yaml"), cancellationToken);
        release.Report($"lamina resolve analysis.yaml -o release/resolved.yaml: the verbose form, every model file pinned in {Path.GetRelativePath(release.OutputDirectory, resolved.LockPath)}");

        var bundleFolder = Path.Combine(release.OutputDirectory, "bundle");
        var bundle = await new BundleBuilder(production, blobs, store, new TrackingStoreAudit(store), TimeProvider.System)
            .BuildAsync(resolved.ResolvedFile, bundleFolder, cancellationToken);
        release.Report($"lamina bundle release/resolved.yaml -o bundle: {bundle.Files.Count} files verified, provenance.json (in-toto, SLSA) sha256 {bundle.ProvenanceSha256[..12]}");

        // From here on only the bundle, verified whole: its own analysis file, model folders and plug-in sources.
        var config = Path.Combine(bundleFolder, "analysis.yaml");
        var bundleProvenance = AnalyzeCommand.BundleOf(config);
        var loaded = AnalysisFileReader.LoadWithPlugins(config, home.PluginCachePath, BuiltInPlugins.Analysis);
        release.Report("lamina analyze held-out/slide-held-out.tif --config bundle/analysis.yaml --out analysis");
        var result = await new AnalysisEngine(loaded.Plugins.Catalog, new PackageFolderLocator())
            .RunAsync(loaded.File, loaded.File.Select(null), release.Slide, new AnalysisOptions(), cancellationToken);
        var output = Path.Combine(release.OutputDirectory, "analysis");
        AnalysisReport.Write(result, output, bundleProvenance);
        return (result, output);
    }
}
