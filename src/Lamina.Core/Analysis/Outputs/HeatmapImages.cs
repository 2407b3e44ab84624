using NetVips;

namespace Lamina.Core.Analysis.Outputs;

/// <summary>
/// Where a heatmap overlay lies over its slide: overlay pixel (x, y) covers level-0 pixels
/// [x·Downsample, +Downsample) × [y·Downsample, +Downsample).
/// </summary>
/// <param name="Width">Overlay width in pixels, ⌈slide width / Downsample⌉.</param>
/// <param name="Height">Overlay height in pixels, ⌈slide height / Downsample⌉.</param>
/// <param name="Downsample">Level-0 pixels per overlay pixel, a power of two.</param>
public sealed record OverlayInfo(int Width, int Height, int Downsample);

/// <summary>Writes heatmaps as images: a small colour-mapped PNG and a pyramidal TIFF overlay aligned with the slide.</summary>
public static class HeatmapImages
{
    /// <summary>The largest side of an overlay; past it the overlay is downsampled by powers of two.</summary>
    public const int MaxOverlaySide = 16384;

    /// <summary>The fewest overlay pixels a cell's side is drawn with when the overlay is made coarser than the slide.</summary>
    public const int MinBlock = 4;

    // Marks overlay pixels whose centre lies outside the grid.
    private const float OutsideGrid = -1f;

    /// <summary>
    /// Writes the heatmap as a viridis-coloured PNG (values 0..1, transparent where NaN), each cell an equal square block of
    /// pixels as large as fits in <paramref name="maxSide"/> (at least one pixel), with the same bytes on every run.
    /// </summary>
    public static void WritePng(Heatmap map, string path, int maxSide = 1024)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxSide, 1);
        var rgba = Viridis.Rgba(map);
        var block = Math.Max(1, maxSide / Math.Max(map.Columns, map.Rows));
        using var raw = Image.NewFromMemory(rgba, map.Columns, map.Rows, 4, Enums.BandFormat.Uchar);
        using var grid = raw.Copy(interpretation: Enums.Interpretation.Srgb);
        using var image = block == 1 ? grid.Copy() : grid.Zoom(block, block);
        // No metadata, so the bytes depend on the values only.
        image.Pngsave(path, compression: 9, filter: Enums.ForeignPngFilter.None, keep: Enums.ForeignKeep.None);
    }

    /// <summary>
    /// Writes the heatmap as an RGBA pyramidal tiled TIFF covering the slide's extent at the downsample
    /// <see cref="OverlayInfo.Downsample"/> (the least power of two that keeps both sides within
    /// <see cref="MaxOverlaySide"/>, or a larger one while every cell stays a whole block of at least
    /// <see cref="MinBlock"/> overlay pixels, so that the overlay is exact and small), each overlay pixel taking the colour of the cell under its centre (transparent where
    /// NaN or outside the grid), with a resolution of <paramref name="micronsPerPixel"/>·Downsample when it is known.
    /// </summary>
    /// <remarks>libvips builds the overlay tile by tile from the grid, so memory stays small even for a 100,000² slide.</remarks>
    public static OverlayInfo WriteOverlayTiff(Heatmap map, long slideWidth, long slideHeight, double? micronsPerPixel, string path)
    {
        Viridis.CheckHeatmap(map);
        ArgumentOutOfRangeException.ThrowIfLessThan(slideWidth, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(slideHeight, 1);
        if (micronsPerPixel is { } m && !(m > 0 && double.IsFinite(m)))
        {
            throw new ArgumentOutOfRangeException(nameof(micronsPerPixel), m, "microns per pixel must be positive");
        }
        var downsample = 1L;
        while (Math.Max(slideWidth, slideHeight) > MaxOverlaySide * downsample) downsample *= 2;
        // Coarser still while every cell stays a whole block of at least MinBlock overlay pixels: the overlay shows the
        // heatmap exactly, in a fraction of the pixels (a full-resolution overlay of an 8192² slide is 256 MB of RGBA).
        while (WholeBlocks(map, downsample * 2) && map.CellSize / (downsample * 2) >= MinBlock) downsample *= 2;
        var width = (int)((slideWidth + downsample - 1) / downsample);
        var height = (int)((slideHeight + downsample - 1) / downsample);

        var xs = CellCentres(width, downsample, map.OriginX, map.CellSize, map.Columns);
        var ys = CellCentres(height, downsample, map.OriginY, map.CellSize, map.Rows);
        using var overlay = Blocks(map, downsample, width, height) ?? Paint(map, xs, ys, width, height);
        using var srgb = overlay.Copy(interpretation: Enums.Interpretation.Srgb);
        // libvips takes resolution in pixels per millimetre whatever the unit written.
        var perMm = micronsPerPixel is { } mpp ? 1000 / (mpp * downsample) : (double?)null;
        srgb.Tiffsave(path,
            compression: Enums.ForeignTiffCompression.Deflate, predictor: Enums.ForeignTiffPredictor.Horizontal,
            tile: true, tileWidth: 256, tileHeight: 256, pyramid: true,
            // Nearest keeps cells their own colour at every pyramid level instead of blending them with their neighbours.
            regionShrink: Enums.RegionShrink.Nearest,
            // The fastest deflate: an overlay is flat colour and transparency, which even level 1 shrinks well, and
            // writing it is on every analysis's path (the service's too).
            level: 1,
            resunit: perMm is null ? null : Enums.ForeignTiffResunit.Cm, xres: perMm, yres: perMm,
            keep: Enums.ForeignKeep.None);
        return new OverlayInfo(width, height, (int)downsample);
    }

    // Whether cells and the grid's origin fall on whole multiples of the downsample.
    private static bool WholeBlocks(Heatmap map, long downsample) =>
        IsWhole(map.CellSize / downsample) && IsWhole(map.OriginX / downsample) && IsWhole(map.OriginY / downsample);

    private static bool IsWhole(double value) => value == Math.Floor(value);

    // When cells are whole blocks of overlay pixels starting on a pixel (the usual case: tiles on the level-0 grid), each
    // cell's block is exactly the pixels whose centres it holds, so the grid is replicated by zooming: no per-pixel
    // lookup. Null otherwise.
    private static Image? Blocks(Heatmap map, long downsample, int width, int height)
    {
        var block = map.CellSize / downsample;
        var (left, top) = (map.OriginX / downsample, map.OriginY / downsample);
        if (block < 1 || block != Math.Floor(block) || left != Math.Floor(left) || top != Math.Floor(top) || left < 0 || top < 0
            || left >= width || top >= height || block * Math.Max(map.Columns, map.Rows) > int.MaxValue / 2)
        {
            return null;
        }
        using var grid = Image.NewFromMemory(Viridis.Rgba(map), map.Columns, map.Rows, 4, Enums.BandFormat.Uchar);
        // Only what lies on the overlay is zoomed: cells past its right or bottom edge are cut off there.
        var columns = (int)Math.Min(map.Columns, Math.Ceiling((width - left) / block));
        var rows = (int)Math.Min(map.Rows, Math.Ceiling((height - top) / block));
        using var kept = grid.Crop(0, 0, columns, rows);
        using var cells = kept.Zoom((int)block, (int)block);
        return cells.Embed((int)left, (int)top, width, height, extend: Enums.Extend.Background, background: [0, 0, 0, 0]);
    }

    // Only the grid's extent goes through mapim; the rest of the overlay is a transparent border, which costs nothing.
    private static Image Paint(Heatmap map, float[] xs, float[] ys, int width, int height)
    {
        var (left, right) = Inside(xs);
        var (top, bottom) = Inside(ys);
        if (left > right || top > bottom) return Image.Black(width, height, bands: 4);
        // Within that extent every pixel maps into the grid, as the mapping is monotonic.
        using var grid = Image.NewFromMemory(Viridis.Rgba(map), map.Columns, map.Rows, 4, Enums.BandFormat.Uchar);
        using var column = Image.NewFromMemory(xs[left..(right + 1)], right - left + 1, 1, 1, Enums.BandFormat.Float);
        using var row = Image.NewFromMemory(ys[top..(bottom + 1)], 1, bottom - top + 1, 1, Enums.BandFormat.Float);
        using var mapX = column.Replicate(1, bottom - top + 1);
        using var mapY = row.Replicate(right - left + 1, 1);
        using var index = mapX.Bandjoin(mapY);
        using var nearest = Interpolate.NewFromName("nearest");
        using var cells = grid.Mapim(index, interpolate: nearest, background: [0, 0, 0, 0]);
        return cells.Embed(left, top, width, height, extend: Enums.Extend.Background, background: [0, 0, 0, 0]);
    }

    // The first and last index that falls inside the grid (first > last when none does).
    private static (int First, int Last) Inside(float[] coordinates)
    {
        var first = Array.FindIndex(coordinates, c => c != OutsideGrid);
        var last = Array.FindLastIndex(coordinates, c => c != OutsideGrid);
        return first < 0 ? (1, 0) : (first, last);
    }

    // For each overlay pixel along one axis, the grid coordinate of the centre of the cell under the pixel's centre.
    private static float[] CellCentres(int length, long downsample, double origin, double cellSize, int cells)
    {
        var coordinates = new float[length];
        for (var i = 0; i < length; i++)
        {
            var cell = Math.Floor(((i + 0.5) * downsample - origin) / cellSize);
            // +0.5 so nearest-neighbour lands inside the cell whichever way it rounds.
            coordinates[i] = cell >= 0 && cell < cells ? (float)(cell + 0.5) : OutsideGrid;
        }
        return coordinates;
    }
}
