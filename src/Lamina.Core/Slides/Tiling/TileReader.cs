using System.Buffers;
using Lamina.Core.Slides.Internal;

namespace Lamina.Core.Slides.Tiling;

/// <summary>Reads one tile of a plan on the calling thread: the raw path the pipeline runs on each reader.</summary>
public static class TileReader
{
    /// <summary>Writes the tile's <see cref="TilePlan.OutputSize"/>² RGB pixels into <paramref name="rgb"/>, resampled when the plan says so.</summary>
    public static void ReadTile(Slide slide, TilePlan plan, Tile tile, Span<byte> rgb)
    {
        ArgumentNullException.ThrowIfNull(slide);
        ArgumentNullException.ThrowIfNull(plan);
        if (!plan.Resamples)
        {
            slide.ReadRegion(tile.X, tile.Y, plan.ReadLevel, plan.ReadSize, plan.ReadSize, rgb);
            return;
        }
        var source = ArrayPool<byte>.Shared.Rent(plan.ReadSize * plan.ReadSize * 3);
        try
        {
            slide.ReadRegion(tile.X, tile.Y, plan.ReadLevel, plan.ReadSize, plan.ReadSize, source);
            Resampler.For(plan.ReadSize, plan.OutputSize).Resize(source, rgb);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(source);
        }
    }
}
