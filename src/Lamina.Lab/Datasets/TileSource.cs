using Lamina.Core;
using Lamina.Core.Plugins;
using Lamina.Core.Slides;
using Lamina.Core.Slides.Tiling;
using Lamina.Lab.Experiments;

namespace Lamina.Lab.Datasets;

/// <summary>A tile with its class index in the data set's class list.</summary>
public sealed record LabelledTile(Tile Tile, int Label);

/// <summary>The tiles a source lays out on one slide, with the slide's geometry.</summary>
/// <param name="SlidePath">Absolute path of the slide.</param>
/// <param name="Name">The slide's name within the source (its path relative to the source's folder, '/' separators).</param>
/// <param name="AnnotationsPath">The annotation file the labels came from, if any.</param>
/// <param name="Options">How the tiles were cut: what reading them again takes.</param>
/// <param name="Group">The split group (a patient id, say) the slide belongs to; slides of one group share a split. Null: its own group.</param>
/// <param name="MppOverridden">Whether <paramref name="MicronsPerPixel"/> was given (an override), not read from the slide.</param>
public sealed record SlideTiles(
    string SlidePath,
    string Name,
    string? AnnotationsPath,
    long Width,
    long Height,
    double? MicronsPerPixel,
    TilingOptions Options,
    IReadOnlyList<LabelledTile> Tiles,
    string? Group = null,
    bool MppOverridden = false);

/// <summary>
/// A data loader that can lay out its labelled tiles without reading their pixels: what a <c>dataset</c> task
/// records in a manifest.
/// </summary>
public interface ITileSource
{
    /// <summary>The class names; a tile's label indexes this list.</summary>
    IReadOnlyList<string> ClassNames { get; }

    /// <summary>The settings that decide which tiles exist and how they are labelled, recorded in the manifest.</summary>
    IReadOnlyDictionary<string, object?> Settings { get; }

    /// <summary>Lays out the tiles of every slide, relative paths resolved against <paramref name="baseDirectory"/>.</summary>
    Task<IReadOnlyList<SlideTiles>> PlanAsync(string baseDirectory, IProgress<string>? progress, CancellationToken cancellationToken);

    /// <summary>
    /// Lays out the tiles of every slide, taking each slide's layout from <paramref name="cache"/> when its slide, labels and
    /// settings are unchanged. A source that cannot use the cache ignores it.
    /// </summary>
    Task<IReadOnlyList<SlideTiles>> PlanAsync(string baseDirectory, IProgress<string>? progress, TilePlanCache? cache, CancellationToken cancellationToken) =>
        PlanAsync(baseDirectory, progress, cancellationToken);
}

/// <summary>Every window a detector would see on a slide, and the annotated points it should find there (level-0 pixels).</summary>
public sealed record DetectionWindows(IReadOnlyList<Tile> Windows, IReadOnlyList<NetTopologySuite.Geometries.Coordinate> Points);

/// <summary>
/// A tile source whose tiles are windows labelled by annotated points (a mitosis detector's): it can give every window
/// of a slide, before labels leave some out and balancing samples the rest, with the points, so that a detector's
/// threshold and suppression radius are chosen on whole validation slides.
/// </summary>
public interface IDetectionSource
{
    /// <summary>The slide's windows and points, or null when this source does not label by points.</summary>
    DetectionWindows? DetectionWindowsOf(SlideTiles slide);
}

/// <summary>Finding a task's tile source among the experiment's data loaders.</summary>
public static class TileSources
{
    /// <summary>Creates loader <paramref name="loader"/>; a clear error when it cannot lay out tiles.</summary>
    public static ITileSource Create(Experiment experiment, string loader, PluginCatalog catalog, string taskType)
    {
        var spec = experiment.Loaders[loader];
        return PluginBinder.Create<IDataLoader>(spec, catalog) as ITileSource ?? throw LabException.NotATileSource(loader, spec.Cls, taskType);
    }
}
