using System.Diagnostics;
using System.Text.Json.Nodes;
using Lamina.Core.Analysis;
using Lamina.Core.Inference;
using Lamina.Core.Plugins;
using Lamina.Core.Provenance;
using Microsoft.Extensions.Logging;

namespace Lamina.Serve;

/// <summary>
/// What the service serves: a bundle verified whole (every file against its provenance and lock), or a resolved
/// analysis file, with every analysis of its file loaded once (models verified, sessions created, one warm-up
/// inference each) for the service's lifetime.
/// </summary>
internal sealed class ServedBundle : IDisposable
{
    private readonly Dictionary<string, LoadedAnalysis> _analyses;

    private ServedBundle(string analysisFile, BundleVerification? bundle, Dictionary<string, LoadedAnalysis> analyses, JsonObject provenance)
    {
        AnalysisFile = analysisFile;
        Bundle = bundle;
        _analyses = analyses;
        Provenance = provenance;
    }

    public string AnalysisFile { get; }

    /// <summary>The verified bundle, or null when serving a resolved file outside one.</summary>
    public BundleVerification? Bundle { get; }

    /// <summary>What every report's provenance adds: the bundle, and the image digest when known.</summary>
    public JsonObject Provenance { get; }

    public IReadOnlyCollection<string> Names => _analyses.Keys;

    public IEnumerable<LoadedAnalysis> Analyses => _analyses.Values;

    public LoadedAnalysis? Find(string name) => _analyses.GetValueOrDefault(name);

    /// <summary>Verifies, loads and warms up everything; nothing is served from a bundle that does not verify.</summary>
    /// <exception cref="BundleException">A bundle file altered, missing or extra (named).</exception>
    /// <param name="scratch">Where the warm-up slide is made (and removed).</param>
    public static async Task<ServedBundle> LoadAsync(ServeOptions options, string pluginCache, string scratch, ILogger logger, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        BundleVerification? bundle = null;
        string analysisFile;
        if (options.Bundle is { } folder)
        {
            bundle = BundleVerifier.Verify(folder);
            analysisFile = Path.Combine(bundle.Directory, BundleLayout.AnalysisFileName);
            logger.LogInformation("bundle {Bundle} verified: {Files} files match provenance.json (sha256 {Provenance}) and the lock",
                bundle.Directory, bundle.Files.Count, bundle.ProvenanceSha256);
        }
        else
        {
            analysisFile = Path.GetFullPath(options.Config!);
            bundle = BundleVerifier.VerifyBundleOf(analysisFile);
        }
        var loaded = AnalysisFileReader.LoadWithPlugins(analysisFile, pluginCache, BuiltInPlugins.Analysis);
        var engine = new AnalysisEngine(loaded.Plugins.Catalog, new PackageFolderLocator());
        var analysisOptions = new AnalysisOptions(options.Provider == "cuda" ? ExecutionProvider.Cuda : ExecutionProvider.Cpu);
        var analyses = new Dictionary<string, LoadedAnalysis>(StringComparer.Ordinal);
        try
        {
            foreach (var definition in loaded.File.Analyses)
            {
                var analysis = await engine.LoadAsync(loaded.File, definition, analysisOptions, cancellationToken).ConfigureAwait(false);
                analyses[definition.Name] = analysis;
                var warm = analysis.WarmUp();
                logger.LogInformation("analysis {Analysis} loaded: models {Models}; warm-up inference {WarmUpSeconds:0.000} s",
                    definition.Name, string.Join(", ", analysis.Models.Select(m => m.Reference.Name)), warm.TotalSeconds);
            }
        }
        catch
        {
            foreach (var analysis in analyses.Values) analysis.Dispose();
            throw;
        }
        await WarmUpAsync(analyses.Values, scratch, logger, cancellationToken).ConfigureAwait(false);
        var provenance = bundle?.ToReportProvenance() ?? [];
        if (options.ImageDigest is { } image) provenance["image_digest"] = image;
        logger.LogInformation("loaded {Count} analyses in {Seconds:0.00} s", analyses.Count, clock.Elapsed.TotalSeconds);
        return new ServedBundle(analysisFile, bundle, analyses, provenance);
    }

    // Each analysis once over a small made-up slide: ONNX Runtime, OpenSlide and the features' code are then warm.
    private static async Task WarmUpAsync(IEnumerable<LoadedAnalysis> analyses, string scratch, ILogger logger, CancellationToken cancellationToken)
    {
        var folder = Directory.CreateDirectory(Path.Combine(scratch, "warm-up")).FullName;
        try
        {
            var slide = WarmUpSlide.Write(folder);
            foreach (var analysis in analyses)
            {
                // A made-up slide is unlike any training slide: its input findings do not matter, only the warmth.
                var result = await analysis.RunAsync(slide, inputs: new InputPolicy(Force: true), cancellationToken: cancellationToken).ConfigureAwait(false);
                logger.LogInformation("analysis {Analysis} warmed up on a made-up slide: {Tiles} tiles in {Seconds:0.000} s",
                    analysis.Name, result.Models.Sum(m => m.TilesSeen), result.Seconds);
            }
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    public void Dispose()
    {
        foreach (var analysis in _analyses.Values) analysis.Dispose();
    }
}
