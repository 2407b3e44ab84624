using Lamina.Core.Slides;
using NetTopologySuite.Geometries;
using NetVips;

namespace Lamina.Core.Analysis.Outputs;

/// <summary>Writes a one-look PNG of an analysis: the slide, its first heatmap, its regions outlined and its detections circled.</summary>
public static class SummaryImage
{
    private const double HeatmapOpacity = 0.45;
    private const double PointRadius = 4;

    /// <summary>
    /// Writes a PNG of the slide at most <paramref name="maxSide"/> pixels a side (from a pyramid level of at least half that,
    /// when the slide has one) with the first heatmap blended over it,
    /// region outlines 2 px wide and detections as small circles, each coloured by <see cref="ClassColors"/>; all
    /// coordinates are level-0 pixels.
    /// </summary>
    public static void Write(
        Slide slide,
        IReadOnlyList<Heatmap> heatmaps,
        IReadOnlyList<(string Classification, Geometry Geometry)> regions,
        IReadOnlyList<(string Classification, Detection Point)> points,
        string path,
        int maxSide = 1600)
    {
        ArgumentNullException.ThrowIfNull(slide);
        ArgumentNullException.ThrowIfNull(heatmaps);
        ArgumentNullException.ThrowIfNull(regions);
        ArgumentNullException.ThrowIfNull(points);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxSide, 1);
        var canvas = Thumbnail(slide, maxSide);
        if (heatmaps.Count > 0) canvas.Blend(heatmaps[0]);
        foreach (var (classification, geometry) in regions)
        {
            canvas.Outline(geometry, ClassColors.Of(classification));
        }
        foreach (var (classification, point) in points)
        {
            canvas.Circle(point.X, point.Y, ClassColors.Of(classification));
        }
        using var image = Image.NewFromMemory(canvas.Rgb, canvas.Width, canvas.Height, 3, Enums.BandFormat.Uchar);
        // Fast compression: the summary is written on every analysis's path; a larger file costs less than the time.
        image.Pngsave(path, compression: 1, keep: Enums.ForeignKeep.None);
    }

    private static Canvas Thumbnail(Slide slide, int maxSide)
    {
        var wanted = Math.Max(1, Math.Ceiling(Math.Max(slide.Width, slide.Height) / (double)maxSide));
        // A pyramid level that already fits (at least half of maxSide) is read as it is: reading the larger level below
        // it and shrinking costs up to four times the pixels, on every analysis.
        var fitting = slide.Levels.FirstOrDefault(l => l.Downsample >= wanted - 1e-6 && l.Downsample <= 2 * wanted);
        var overview = slide.ReadOverview(fitting?.Downsample ?? wanted);
        var (width, height, rgb) = (overview.Image.Width, overview.Image.Height, overview.Image.Pixels);
        if (Math.Max(width, height) <= maxSide) return new Canvas(width, height, rgb, overview.Downsample, overview.Downsample);
        // A pyramid level can land just under the downsample asked for; shrink the rest of the way.
        using var large = Image.NewFromMemory(rgb, width, height, 3, Enums.BandFormat.Uchar);
        using var small = large.ThumbnailImage(maxSide, height: maxSide, size: Enums.Size.Down);
        return new Canvas(small.Width, small.Height, small.WriteToMemory<byte>(),
            overview.Downsample * width / small.Width, overview.Downsample * height / small.Height);
    }

    /// <summary>An RGB thumbnail and its level-0 pixels per thumbnail pixel along each axis.</summary>
    private sealed class Canvas(int width, int height, byte[] rgb, double scaleX, double scaleY)
    {
        public int Width => width;

        public int Height => height;

        public byte[] Rgb => rgb;

        public void Blend(Heatmap map)
        {
            var rgba = Viridis.Rgba(map);
            var columns = Cells(width, scaleX, map.OriginX, map.CellSize, map.Columns);
            var rows = Cells(height, scaleY, map.OriginY, map.CellSize, map.Rows);
            for (var y = 0; y < height; y++)
            {
                if (rows[y] < 0) continue;
                for (var x = 0; x < width; x++)
                {
                    if (columns[x] < 0) continue;
                    var cell = (rows[y] * map.Columns + columns[x]) * 4;
                    if (rgba[cell + 3] == 0) continue;
                    var i = (y * width + x) * 3;
                    for (var k = 0; k < 3; k++)
                    {
                        rgb[i + k] = (byte)Math.Round(rgb[i + k] * (1 - HeatmapOpacity) + rgba[cell + k] * HeatmapOpacity);
                    }
                }
            }
        }

        public void Outline(Geometry geometry, (byte R, byte G, byte B) colour)
        {
            for (var n = 0; n < geometry.NumGeometries; n++)
            {
                switch (geometry.GetGeometryN(n))
                {
                    case Polygon polygon:
                        Line(polygon.ExteriorRing.Coordinates, colour);
                        foreach (var hole in polygon.InteriorRings) Line(hole.Coordinates, colour);
                        break;
                    case LineString line:
                        Line(line.Coordinates, colour);
                        break;
                    case Point point:
                        Circle(point.X, point.Y, colour);
                        break;
                    case GeometryCollection collection when !ReferenceEquals(collection, geometry):
                        Outline(collection, colour);
                        break;
                }
            }
        }

        public void Circle(double x0, double y0, (byte R, byte G, byte B) colour)
        {
            var (cx, cy) = (x0 / scaleX, y0 / scaleY);
            var reach = (int)Math.Ceiling(PointRadius + 1);
            for (var y = (int)Math.Floor(cy) - reach; y <= (int)Math.Floor(cy) + reach; y++)
            {
                for (var x = (int)Math.Floor(cx) - reach; x <= (int)Math.Floor(cx) + reach; x++)
                {
                    var distance = Math.Sqrt(Math.Pow(x + 0.5 - cx, 2) + Math.Pow(y + 0.5 - cy, 2));
                    if (Math.Abs(distance - PointRadius) <= 0.9) Set(x, y, colour);
                }
            }
        }

        // Each segment stepped one thumbnail pixel at a time with a 2×2 brush, so lines are 2 px wide in every direction.
        private void Line(Coordinate[] coordinates, (byte R, byte G, byte B) colour)
        {
            for (var i = 1; i < coordinates.Length; i++)
            {
                var (ax, ay) = (coordinates[i - 1].X / scaleX, coordinates[i - 1].Y / scaleY);
                var (bx, by) = (coordinates[i].X / scaleX, coordinates[i].Y / scaleY);
                var steps = Math.Max(1, (int)Math.Ceiling(Math.Max(Math.Abs(bx - ax), Math.Abs(by - ay))));
                for (var s = 0; s <= steps; s++)
                {
                    var x = (int)Math.Floor(ax + (bx - ax) * s / steps);
                    var y = (int)Math.Floor(ay + (by - ay) * s / steps);
                    Set(x, y, colour);
                    Set(x + 1, y, colour);
                    Set(x, y + 1, colour);
                    Set(x + 1, y + 1, colour);
                }
            }
        }

        private void Set(int x, int y, (byte R, byte G, byte B) colour)
        {
            if (x < 0 || y < 0 || x >= width || y >= height) return;
            var i = (y * width + x) * 3;
            (rgb[i], rgb[i + 1], rgb[i + 2]) = colour;
        }

        // The cell under the centre of each thumbnail pixel along one axis, or -1 outside the grid.
        private static int[] Cells(int length, double scale, double origin, double cellSize, int cells)
        {
            var index = new int[length];
            for (var i = 0; i < length; i++)
            {
                var cell = Math.Floor(((i + 0.5) * scale - origin) / cellSize);
                index[i] = cell >= 0 && cell < cells ? (int)cell : -1;
            }
            return index;
        }
    }
}
