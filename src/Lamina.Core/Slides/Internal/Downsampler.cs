namespace Lamina.Core.Slides.Internal;

/// <summary>Reads a whole slide at low resolution by box-averaging a level in bounded chunks.</summary>
internal static class Downsampler
{
    // Each chunk is at most about this many level pixels a side (16 MB of ARGB at 2048).
    private const int ChunkPixels = 2048;

    public static SlideOverview Read(Slide slide, double downsample)
    {
        if (!(downsample >= 1) || !double.IsFinite(downsample))
        {
            throw new ArgumentOutOfRangeException(nameof(downsample), downsample, "the downsample must be at least 1");
        }
        var level = slide.Levels[slide.BestLevelForDownsample(downsample)];
        // An integer box factor keeps every output pixel an exact block of level pixels (deterministic, no resampling).
        var factor = Math.Max(1, (int)Math.Floor(downsample / level.Downsample + 1e-6));
        var width = checked((int)((level.Width + factor - 1) / factor));
        var height = checked((int)((level.Height + factor - 1) / factor));
        var rgb = new byte[checked(width * height * 3)];
        var cellsPerChunk = Math.Max(1, ChunkPixels / factor);
        var chunk = new byte[checked(cellsPerChunk * factor * cellsPerChunk * factor * 3)];
        for (var cellY = 0; cellY < height; cellY += cellsPerChunk)
        {
            var y = (long)cellY * factor;
            var chunkHeight = (int)Math.Min((long)cellsPerChunk * factor, level.Height - y);
            for (var cellX = 0; cellX < width; cellX += cellsPerChunk)
            {
                var x = (long)cellX * factor;
                var chunkWidth = (int)Math.Min((long)cellsPerChunk * factor, level.Width - x);
                slide.ReadRegion((long)Math.Round(x * level.Downsample), (long)Math.Round(y * level.Downsample), level.Index, chunkWidth, chunkHeight, chunk);
                Accumulate(chunk, chunkWidth, chunkHeight, factor, cellX, cellY, width, rgb);
            }
        }
        return new SlideOverview(new RgbImage(width, height, rgb), level.Downsample * factor);
    }

    // Averages each factor×factor block of the chunk into its output pixel.
    private static void Accumulate(byte[] chunk, int chunkWidth, int chunkHeight, int factor, int cellX, int cellY, int width, byte[] rgb)
    {
        var cellsX = (chunkWidth + factor - 1) / factor;
        var cellsY = (chunkHeight + factor - 1) / factor;
        Span<long> sum = stackalloc long[3];
        for (var cy = 0; cy < cellsY; cy++)
        {
            var y1 = Math.Min((cy + 1) * factor, chunkHeight);
            for (var cx = 0; cx < cellsX; cx++)
            {
                var x1 = Math.Min((cx + 1) * factor, chunkWidth);
                sum.Clear();
                var n = 0;
                for (var y = cy * factor; y < y1; y++)
                {
                    var row = y * chunkWidth * 3;
                    for (var x = cx * factor; x < x1; x++)
                    {
                        var i = row + x * 3;
                        sum[0] += chunk[i];
                        sum[1] += chunk[i + 1];
                        sum[2] += chunk[i + 2];
                        n++;
                    }
                }
                var o = (((cellY + cy) * width) + cellX + cx) * 3;
                rgb[o] = (byte)((sum[0] + n / 2) / n);
                rgb[o + 1] = (byte)((sum[1] + n / 2) / n);
                rgb[o + 2] = (byte)((sum[2] + n / 2) / n);
            }
        }
    }
}
