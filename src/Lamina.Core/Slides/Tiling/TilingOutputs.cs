using System.Text.Json;
using Lamina.Core.Slides.Tissue;
using NetVips;

namespace Lamina.Core.Slides.Tiling;

/// <summary>Files that show a tiling to a person: a QuPath-importable GeoJSON grid and a PNG overview.</summary>
public static class TilingOutputs
{
    /// <summary>
    /// Writes the plan's tiles as a GeoJSON FeatureCollection of Polygons in level-0 pixel coordinates, as QuPath imports
    /// them (annotations classified <c>Tile</c>, with index, grid position and tissue fraction).
    /// </summary>
    public static void WriteGeoJson(TilePlan plan, Stream stream)
    {
        ArgumentNullException.ThrowIfNull(plan);
        using var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = false });
        json.WriteStartObject();
        json.WriteString("type", "FeatureCollection");
        json.WriteStartArray("features");
        foreach (var tile in plan.Tiles)
        {
            json.WriteStartObject();
            json.WriteString("type", "Feature");
            json.WriteStartObject("geometry");
            json.WriteString("type", "Polygon");
            json.WriteStartArray("coordinates");
            json.WriteStartArray();
            double x0 = tile.X, y0 = tile.Y, x1 = tile.X + tile.Width, y1 = tile.Y + tile.Height;
            foreach (var (x, y) in new[] { (x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0) })
            {
                json.WriteStartArray();
                json.WriteNumberValue(x);
                json.WriteNumberValue(y);
                json.WriteEndArray();
            }
            json.WriteEndArray();
            json.WriteEndArray();
            json.WriteEndObject();
            json.WriteStartObject("properties");
            json.WriteString("objectType", "annotation");
            json.WriteStartObject("classification");
            json.WriteString("name", "Tile");
            json.WriteEndObject();
            json.WriteNumber("index", tile.Index);
            json.WriteNumber("column", tile.Column);
            json.WriteNumber("row", tile.Row);
            json.WriteNumber("tissueFraction", Math.Round(tile.TissueFraction, 4));
            json.WriteEndObject();
            json.WriteEndObject();
        }
        json.WriteEndArray();
        json.WriteEndObject();
    }

    /// <summary>
    /// Writes a PNG of the slide about <paramref name="maxSide"/> pixels a side (never more on single-level slides), with the tissue mask tinted green and
    /// the kept tiles outlined in blue.
    /// </summary>
    public static void WriteThumbnail(Slide slide, TilePlan plan, TissueMask? mask, string pngPath, int maxSide = 1024)
    {
        ArgumentNullException.ThrowIfNull(slide);
        ArgumentNullException.ThrowIfNull(plan);
        var overview = slide.ReadOverview(Math.Max(1, Math.Ceiling(Math.Max(slide.Width, slide.Height) / (double)maxSide)));
        var (width, height, rgb) = (overview.Image.Width, overview.Image.Height, overview.Image.Pixels);
        var scale = overview.Downsample;
        if (mask is not null)
        {
            for (var y = 0; y < height; y++)
            {
                for (var x = 0; x < width; x++)
                {
                    var mx = (int)((x + 0.5) * scale / mask.Downsample);
                    var my = (int)((y + 0.5) * scale / mask.Downsample);
                    if (mx >= mask.Width || my >= mask.Height || !mask[mx, my]) continue;
                    var i = (y * width + x) * 3;
                    rgb[i] = (byte)(rgb[i] * 0.6);
                    rgb[i + 1] = (byte)(rgb[i + 1] * 0.6 + 255 * 0.4);
                    rgb[i + 2] = (byte)(rgb[i + 2] * 0.6);
                }
            }
        }
        foreach (var tile in plan.Tiles)
        {
            var x0 = (int)(tile.X / scale);
            var y0 = (int)(tile.Y / scale);
            var x1 = Math.Min(width - 1, (int)((tile.X + tile.Width) / scale));
            var y1 = Math.Min(height - 1, (int)((tile.Y + tile.Height) / scale));
            for (var x = x0; x <= x1; x++)
            {
                Blue(rgb, width, x, y0);
                Blue(rgb, width, x, y1);
            }
            for (var y = y0; y <= y1; y++)
            {
                Blue(rgb, width, x0, y);
                Blue(rgb, width, x1, y);
            }
        }
        using var image = Image.NewFromMemory(rgb, width, height, 3, Enums.BandFormat.Uchar);
        image.Pngsave(pngPath);
    }

    private static void Blue(byte[] rgb, int width, int x, int y)
    {
        var i = (y * width + x) * 3;
        if (i < 0 || i + 2 >= rgb.Length) return;
        rgb[i] = 30;
        rgb[i + 1] = 60;
        rgb[i + 2] = 230;
    }
}
