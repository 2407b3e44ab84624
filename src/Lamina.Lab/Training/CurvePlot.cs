using Lamina.Core;
using NetVips;

namespace Lamina.Lab.Training;

/// <summary>
/// Draws training curves and ROC curves as PNG without fonts or a plotting library: axes, grid, one colour per series,
/// a legend and tick labels in a built-in 3×5 pixel font. The same data always give the same bytes.
/// </summary>
public static class CurvePlot
{
    private const int Margin = 50;
    private const int Scale = 2; // font pixels per glyph pixel

    private static readonly byte[][] Palette =
    [
        [31, 119, 180], [255, 127, 14], [44, 160, 44], [214, 39, 40], [148, 103, 189],
        [140, 86, 75], [227, 119, 194], [127, 127, 127], [188, 189, 34], [23, 190, 207],
    ];

    /// <summary>Plots each series as a polyline over shared axes fitted to the data.</summary>
    public static byte[] LinePng(string title, IReadOnlyDictionary<string, IReadOnlyList<(double X, double Y)>> series, int width = 800, int height = 500)
    {
        ArgumentNullException.ThrowIfNull(series);
        var points = series.Values.SelectMany(s => s).Where(p => double.IsFinite(p.X) && double.IsFinite(p.Y)).ToList();
        var (x0, x1) = Range(points.Select(p => p.X));
        var (y0, y1) = Range(points.Select(p => p.Y));
        return Draw(title, series, width, height, x0, x1, y0, y1, diagonal: false);
    }

    /// <summary>Plots ROC curves (false-positive rate, true-positive rate) on the unit square with the chance diagonal.</summary>
    public static byte[] RocPng(string title, IReadOnlyDictionary<string, IReadOnlyList<(double X, double Y)>> curves, int width = 500, int height = 500) =>
        Draw(title, curves, width, height, 0, 1, 0, 1, diagonal: true);

    private static byte[] Draw(
        string title, IReadOnlyDictionary<string, IReadOnlyList<(double X, double Y)>> series, int width, int height,
        double x0, double x1, double y0, double y1, bool diagonal)
    {
        if (width < 2 * Margin + 10 || height < 2 * Margin + 10)
        {
            throw TrainingException.Mismatch($"a plot needs at least {2 * Margin + 10}×{2 * Margin + 10} pixels, got {width}×{height}");
        }
        var canvas = new Canvas(width, height);
        canvas.Fill(255, 255, 255);
        var (left, right, top, bottom) = (Margin, width - Margin / 2, Margin / 2 + 8, height - Margin);
        int Px(double x) => left + (int)Math.Round((x - x0) / (x1 - x0) * (right - left));
        int Py(double y) => bottom - (int)Math.Round((y - y0) / (y1 - y0) * (bottom - top));

        byte[] grid = [225, 225, 225];
        byte[] ink = [40, 40, 40];
        for (var i = 0; i <= 5; i++)
        {
            var gx = left + i * (right - left) / 5;
            var gy = bottom - i * (bottom - top) / 5;
            canvas.Line(gx, top, gx, bottom, grid);
            canvas.Line(left, gy, right, gy, grid);
            canvas.Text(Label(x0 + i * (x1 - x0) / 5), gx - 6, bottom + 6, ink);
            canvas.Text(Label(y0 + i * (y1 - y0) / 5), 2, gy - 5, ink);
        }
        canvas.Line(left, top, left, bottom, ink);
        canvas.Line(left, bottom, right, bottom, ink);
        if (diagonal) canvas.Line(Px(0), Py(0), Px(1), Py(1), [160, 160, 160]);
        canvas.Text(title, left, 4, ink);

        var index = 0;
        foreach (var (name, values) in series)
        {
            var colour = Palette[index % Palette.Length];
            var finite = values.Where(p => double.IsFinite(p.X) && double.IsFinite(p.Y)).ToList();
            for (var k = 1; k < finite.Count; k++)
            {
                canvas.Line(Px(finite[k - 1].X), Py(finite[k - 1].Y), Px(finite[k].X), Py(finite[k].Y), colour, thick: true);
            }
            if (finite.Count == 1) canvas.Rect(Px(finite[0].X) - 2, Py(finite[0].Y) - 2, 5, 5, colour);
            // Legend, top right, one row per series.
            var ly = top + 6 + index * 14;
            var lx = right - 10 - Canvas.TextWidth(name) - 16;
            canvas.Rect(lx, ly + 1, 10, 8, colour);
            canvas.Text(name, lx + 14, ly, ink);
            index++;
        }
        using var image = Image.NewFromMemory(canvas.Pixels, width, height, 3, Enums.BandFormat.Uchar);
        return image.PngsaveBuffer();
    }

    private static (double Min, double Max) Range(IEnumerable<double> values)
    {
        var list = values.ToList();
        if (list.Count == 0) return (0, 1);
        var (min, max) = (list.Min(), list.Max());
        if (max - min < 1e-12) return (min - 0.5, max + 0.5);
        var pad = (max - min) * 0.05;
        return (min - pad, max + pad);
    }

    private static string Label(double value) =>
        Math.Abs(value) >= 1000 || (Math.Abs(value) < 0.01 && value != 0)
            ? value.ToString("0.0E0", System.Globalization.CultureInfo.InvariantCulture)
            : value.ToString(Math.Abs(value) >= 10 ? "0" : "0.00", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>An RGB byte buffer with the few drawing operations the plots need.</summary>
    private sealed class Canvas(int width, int height)
    {
        // 3×5 glyphs, five rows of three bits each (most significant bit on the left).
        private static readonly Dictionary<char, string> Font = new()
        {
            ['0'] = "111101101101111", ['1'] = "010110010010111", ['2'] = "111001111100111", ['3'] = "111001111001111",
            ['4'] = "101101111001001", ['5'] = "111100111001111", ['6'] = "111100111101111", ['7'] = "111001010010010",
            ['8'] = "111101111101111", ['9'] = "111101111001111", ['.'] = "000000000000010", ['-'] = "000000111000000",
            ['+'] = "000010111010000", ['/'] = "001001010100100", ['_'] = "000000000000111", [':'] = "000010000010000",
            ['('] = "010100100100010", [')'] = "010001001001010", ['='] = "000111000111000",
            ['A'] = "010101111101101", ['B'] = "110101110101110", ['C'] = "011100100100011", ['D'] = "110101101101110",
            ['E'] = "111100110100111", ['F'] = "111100110100100", ['G'] = "011100101101011", ['H'] = "101101111101101",
            ['I'] = "111010010010111", ['J'] = "001001001101010", ['K'] = "101101110101101", ['L'] = "100100100100111",
            ['M'] = "101111111101101", ['N'] = "110101101101101", ['O'] = "010101101101010", ['P'] = "110101110100100",
            ['Q'] = "010101101110011", ['R'] = "110101110101101", ['S'] = "011100010001110", ['T'] = "111010010010010",
            ['U'] = "101101101101111", ['V'] = "101101101101010", ['W'] = "101101111111101", ['X'] = "101101010101101",
            ['Y'] = "101101010010010", ['Z'] = "111001010100111",
        };

        public byte[] Pixels { get; } = new byte[width * height * 3];

        public static int TextWidth(string text) => text.Length * 4 * Scale;

        public void Fill(byte r, byte g, byte b)
        {
            for (var k = 0; k < Pixels.Length; k += 3) (Pixels[k], Pixels[k + 1], Pixels[k + 2]) = (r, g, b);
        }

        public void Set(int x, int y, byte[] colour)
        {
            if ((uint)x >= (uint)width || (uint)y >= (uint)height) return;
            var k = (y * width + x) * 3;
            (Pixels[k], Pixels[k + 1], Pixels[k + 2]) = (colour[0], colour[1], colour[2]);
        }

        public void Rect(int x, int y, int w, int h, byte[] colour)
        {
            for (var j = 0; j < h; j++)
            {
                for (var i = 0; i < w; i++) Set(x + i, y + j, colour);
            }
        }

        /// <summary>Bresenham's line; thick lines add the pixels below and to the right.</summary>
        public void Line(int xa, int ya, int xb, int yb, byte[] colour, bool thick = false)
        {
            int dx = Math.Abs(xb - xa), sx = xa < xb ? 1 : -1;
            int dy = -Math.Abs(yb - ya), sy = ya < yb ? 1 : -1;
            var error = dx + dy;
            while (true)
            {
                Set(xa, ya, colour);
                if (thick)
                {
                    Set(xa + 1, ya, colour);
                    Set(xa, ya + 1, colour);
                }
                if (xa == xb && ya == yb) break;
                var e2 = 2 * error;
                if (e2 >= dy) { error += dy; xa += sx; }
                if (e2 <= dx) { error += dx; ya += sy; }
            }
        }

        public void Text(string text, int x, int y, byte[] colour)
        {
            foreach (var ch in text.ToUpperInvariant())
            {
                if (Font.TryGetValue(ch, out var glyph))
                {
                    for (var bit = 0; bit < 15; bit++)
                    {
                        if (glyph[bit] == '1') Rect(x + bit % 3 * Scale, y + bit / 3 * Scale, Scale, Scale, colour);
                    }
                }
                x += 4 * Scale;
            }
        }
    }
}
