using System.Globalization;
using Lamina.Core.Slides.Tissue;
using NetTopologySuite.Geometries;
using NetTopologySuite.Geometries.Prepared;

namespace Lamina.Core.Slides.Tiling;

/// <summary>Plans the tiling of a slide: scale, grid, tissue and region filters.</summary>
public static class Tiler
{
    /// <summary>The smallest tile side (16 pixels).</summary>
    public const int MinTileSize = 16;

    /// <summary>The largest tile side (4,096 pixels: 48 MiB of RGB).</summary>
    public const int MaxTileSize = 4096;

    /// <summary>The finest scale tiles can be asked at (0.05 µm per pixel, beyond any scanner's resolution).</summary>
    public const double MinMicronsPerPixel = 0.05;

    /// <summary>The coarsest scale tiles can be asked at (100 µm per pixel: a whole slide in a few tiles).</summary>
    public const double MaxMicronsPerPixel = 100;

    /// <summary>
    /// The most tiles a grid may have (4 million): a large slide at full resolution in 224-pixel tiles is under half a
    /// million; more is a scale, size or overlap given by mistake, and would take hours and gigabytes before any output.
    /// </summary>
    public const long MaxGridTiles = 4_000_000;

    /// <summary>
    /// Lays a grid of tiles over the slide (only whole tiles inside it), keeping those with enough tissue by
    /// <paramref name="mask"/> (all, without one) and with their centre inside <see cref="TilingOptions.Region"/>.
    /// </summary>
    /// <exception cref="SlideException">Microns per pixel asked for a slide that has none.</exception>
    /// <exception cref="TilingException">Options that cannot work (both a level and microns, a level the slide lacks, overlap ≥ size).</exception>
    public static TilePlan Plan(Slide slide, TilingOptions options, TissueMask? mask = null)
    {
        ArgumentNullException.ThrowIfNull(slide);
        ArgumentNullException.ThrowIfNull(options);
        Validate(slide, options);
        int level, readSize;
        double downsample;
        if (options.MicronsPerPixel is { } mpp)
        {
            downsample = mpp / slide.RequireMicronsPerPixel();
            level = slide.BestLevelForDownsample(downsample);
            var exact = options.TileSize * downsample / slide.Levels[level].Downsample;
            // Within rounding of an integer, read exactly that (no resampling when the scale matches a level).
            readSize = Math.Abs(exact - Math.Round(exact)) < 1e-3 ? (int)Math.Round(exact) : (int)Math.Ceiling(exact);
        }
        else
        {
            level = options.Level ?? 0;
            downsample = slide.Levels[level].Downsample;
            readSize = options.TileSize;
        }
        var size0 = options.TileSize * downsample;
        var stride0 = (options.TileSize - options.Overlap) * downsample;
        CheckGrid(slide, options, downsample, size0, stride0);
        var columns = (int)Count(slide.Width, size0, stride0);
        var rows = (int)Count(slide.Height, size0, stride0);
        var region = options.Region is { } geometry ? PreparedGeometryFactory.Prepare(geometry) : null;
        var factory = new GeometryFactory();
        var tiles = new List<Tile>();
        for (var row = 0; row < rows; row++)
        {
            for (var column = 0; column < columns; column++)
            {
                var x = (long)Math.Round(column * stride0);
                var y = (long)Math.Round(row * stride0);
                var fraction = mask?.FractionIn(x, y, size0, size0) ?? 1;
                if (mask is not null && fraction < options.MinTissueFraction) continue;
                if (region is not null && !region.Contains(factory.CreatePoint(new Coordinate(x + size0 / 2, y + size0 / 2)))) continue;
                tiles.Add(new Tile(tiles.Count, column, row, x, y, size0, size0, fraction));
            }
        }
        return new TilePlan(options, level, slide.Levels[level].Downsample, readSize, downsample, columns, rows, tiles, mask?.TissueFraction);
    }

    /// <summary>
    /// Checks <paramref name="options"/> against the slide and the limits (<see cref="MinTileSize"/> to
    /// <see cref="MaxTileSize"/>, <see cref="MinMicronsPerPixel"/> to <see cref="MaxMicronsPerPixel"/>,
    /// <see cref="MaxGridTiles"/>) without reading a pixel: what <see cref="Plan"/> does first, for a caller that has
    /// slower work (tissue detection) to do before planning.
    /// </summary>
    /// <returns>The number of tiles of the full grid, before any filter.</returns>
    /// <exception cref="SlideException">Microns per pixel asked for a slide that has none.</exception>
    /// <exception cref="TilingException">Options out of range, or a grid of more than <see cref="MaxGridTiles"/> tiles.</exception>
    public static long Check(Slide slide, TilingOptions options)
    {
        ArgumentNullException.ThrowIfNull(slide);
        ArgumentNullException.ThrowIfNull(options);
        Validate(slide, options);
        var downsample = options.MicronsPerPixel is { } mpp ? mpp / slide.RequireMicronsPerPixel() : slide.Levels[options.Level ?? 0].Downsample;
        var size0 = options.TileSize * downsample;
        var stride0 = (options.TileSize - options.Overlap) * downsample;
        return CheckGrid(slide, options, downsample, size0, stride0);
    }

    // Counted in floating point before any list is made: a grid of billions must fail here, not after filling memory.
    private static long CheckGrid(Slide slide, TilingOptions options, double downsample, double size0, double stride0)
    {
        var columns = Count(slide.Width, size0, stride0);
        var rows = Count(slide.Height, size0, stride0);
        var tiles = columns * rows;
        if (!(tiles <= MaxGridTiles))
        {
            throw TilingException.TooManyTiles(slide.Path, tiles, columns, rows, options, slide.MicronsPerPixel is { } mpp ? mpp * downsample : null, MaxGridTiles);
        }
        return (long)tiles;
    }

    private static double Count(long extent, double size, double stride) =>
        extent + 1e-6 < size ? 0 : Math.Floor((extent - size) / stride + 1e-6) + 1;

    private static void Validate(Slide slide, TilingOptions options)
    {
        if (options.TileSize is < MinTileSize or > MaxTileSize) throw TilingException.TileSizeOutOfRange(options.TileSize, MinTileSize, MaxTileSize);
        if (options.Overlap < 0 || options.Overlap >= options.TileSize)
        {
            throw new TilingException($"the overlap must be at least 0 and less than the tile size {options.TileSize}, not {options.Overlap}");
        }
        if (options.Level is not null && options.MicronsPerPixel is not null)
        {
            throw new TilingException("give the scale either as a level or as microns per pixel, not both");
        }
        if (options.Level is { } level && (level < 0 || level >= slide.LevelCount))
        {
            throw new TilingException($"slide '{slide.Path}' has levels 0 to {slide.LevelCount - 1}, not {level}");
        }
        if (options.MicronsPerPixel is { } mpp && !(mpp is >= MinMicronsPerPixel and <= MaxMicronsPerPixel))
        {
            throw TilingException.MicronsPerPixelOutOfRange(mpp, MinMicronsPerPixel, MaxMicronsPerPixel);
        }
        if (!(options.MinTissueFraction is >= 0 and <= 1))
        {
            throw new TilingException($"the minimum tissue fraction must be between 0 and 1, not {options.MinTissueFraction.ToString(CultureInfo.InvariantCulture)}");
        }
    }
}
