namespace Lamina.Lab.Synthetic;

/// <summary>Small RGBA images of mitotic figures: irregular clumps of very dark chromatin on a transparent ground.</summary>
internal static class MitosisStamps
{
    public const int Variants = 16;

    /// <summary>The figures' colour: far darker than any nucleus.</summary>
    public static readonly byte[] Colour = [32, 14, 52];

    /// <summary>Draws the variants, each <paramref name="size"/> pixels square, its centre pixel always inside the clump.</summary>
    public static byte[][] Draw(Random random, int size, double pixelsPerMicron)
    {
        var stamps = new byte[Variants][];
        for (var v = 0; v < Variants; v++)
        {
            var rgba = new byte[size * size * 4];
            // A metaphase plate or anaphase clumps: a few overlapping blobs around the centre, one on it.
            var blobs = 3 + random.Next(4);
            var centres = new (double X, double Y, double R)[blobs];
            var c = (size - 1) / 2.0;
            centres[0] = (c, c, (2.0 + random.NextDouble() * 0.8) * pixelsPerMicron);
            for (var b = 1; b < blobs; b++)
            {
                var angle = random.NextDouble() * 2 * Math.PI;
                var distance = (1.5 + random.NextDouble() * 2.0) * pixelsPerMicron;
                centres[b] = (c + distance * Math.Cos(angle), c + distance * Math.Sin(angle), (1.0 + random.NextDouble() * 1.2) * pixelsPerMicron);
            }
            var shade = random.Next(12);
            for (var y = 0; y < size; y++)
            {
                for (var x = 0; x < size; x++)
                {
                    // Distance inside the nearest blob's edge, in pixels: > 0 inside, with a one-pixel soft edge.
                    var depth = double.MinValue;
                    foreach (var (bx, by, r) in centres) depth = Math.Max(depth, r - Math.Sqrt((x - bx) * (x - bx) + (y - by) * (y - by)));
                    if (depth <= -1) continue;
                    var i = (y * size + x) * 4;
                    rgba[i] = (byte)(Colour[0] + shade);
                    rgba[i + 1] = (byte)(Colour[1] + shade / 2);
                    rgba[i + 2] = (byte)(Colour[2] + shade);
                    rgba[i + 3] = (byte)Math.Round(255 * Math.Clamp(depth + 1, 0, 1));
                }
            }
            stamps[v] = rgba;
        }
        return stamps;
    }
}
