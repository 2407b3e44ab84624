namespace Lamina.Core.Analysis.Outputs;

/// <summary>The viridis colormap (perceptually uniform, readable in greyscale and by most colour-blind readers), as 256 entries.</summary>
internal static class Viridis
{
    // matplotlib's viridis at ten evenly spaced stops; linear steps between them are indistinguishable from the full table.
    private static readonly (byte R, byte G, byte B)[] Stops =
    [
        (68, 1, 84), (72, 40, 120), (62, 74, 137), (49, 104, 142), (38, 130, 142),
        (31, 158, 137), (53, 183, 121), (109, 205, 89), (180, 222, 44), (253, 231, 37),
    ];

    private static readonly (byte R, byte G, byte B)[] Table = Build();

    /// <summary>The colour of a value in 0..1 (clamped), quantised to 256 levels; null for NaN.</summary>
    public static (byte R, byte G, byte B)? Of(float value) =>
        float.IsNaN(value) ? null : Table[(int)Math.Round(Math.Clamp(value, 0f, 1f) * 255f)];

    /// <summary>The heatmap's cells as RGBA bytes, row by row, transparent where NaN.</summary>
    public static byte[] Rgba(Heatmap map)
    {
        CheckHeatmap(map);
        var rgba = new byte[checked(map.Columns * map.Rows * 4)];
        for (var r = 0; r < map.Rows; r++)
        {
            for (var c = 0; c < map.Columns; c++)
            {
                if (Of(map.Values[r * map.Columns + c]) is not { } colour) continue;
                var i = (r * map.Columns + c) * 4;
                (rgba[i], rgba[i + 1], rgba[i + 2], rgba[i + 3]) = (colour.R, colour.G, colour.B, 255);
            }
        }
        return rgba;
    }

    /// <summary>Fails on a heatmap whose shape and values disagree, before anything is written.</summary>
    public static void CheckHeatmap(Heatmap map)
    {
        ArgumentNullException.ThrowIfNull(map);
        if (map.Columns < 1 || map.Rows < 1 || map.Values is null || map.Values.Length != (long)map.Columns * map.Rows)
        {
            throw new ArgumentException(
                $"heatmap '{map.Name}' has {map.Values?.Length ?? 0} values for {map.Columns}×{map.Rows} cells", nameof(map));
        }
        if (!(map.CellSize > 0) || !double.IsFinite(map.CellSize) || !double.IsFinite(map.OriginX) || !double.IsFinite(map.OriginY))
        {
            throw new ArgumentException($"heatmap '{map.Name}' needs a positive cell size and a finite origin", nameof(map));
        }
    }

    private static (byte R, byte G, byte B)[] Build()
    {
        var table = new (byte, byte, byte)[256];
        for (var i = 0; i < 256; i++)
        {
            var t = i / 255.0 * (Stops.Length - 1);
            var k = Math.Min((int)t, Stops.Length - 2);
            var f = t - k;
            var (a, b) = (Stops[k], Stops[k + 1]);
            table[i] = (Lerp(a.R, b.R, f), Lerp(a.G, b.G, f), Lerp(a.B, b.B, f));
        }
        return table;
    }

    private static byte Lerp(byte a, byte b, double f) => (byte)Math.Round(a + (b - a) * f);
}
