using NetTopologySuite.Geometries;

namespace Lamina.Core.Slides.Tiling;

/// <summary>How to cut a slide into tiles.</summary>
/// <param name="TileSize">Side of the tiles delivered, in pixels.</param>
/// <param name="Overlap">Pixels (at the delivered scale) shared by neighbouring tiles; the stride is <c>TileSize - Overlap</c>. Default 0.</param>
/// <param name="Level">Read this pyramid level as it is. Exclusive with <paramref name="MicronsPerPixel"/>; with neither, level 0.</param>
/// <param name="MicronsPerPixel">Deliver tiles at this scale: read the nearest level at or above that resolution and resample. Needs the slide's microns per pixel.</param>
/// <param name="MinTissueFraction">Keep only tiles whose area is at least this fraction tissue (when a mask is given). Default 0.5.</param>
/// <param name="Region">Keep only tiles whose centre lies inside these polygons, in level-0 pixel coordinates. Default: everywhere.</param>
public sealed record TilingOptions(
    int TileSize,
    int Overlap = 0,
    int? Level = null,
    double? MicronsPerPixel = null,
    double MinTissueFraction = 0.5,
    Geometry? Region = null);
