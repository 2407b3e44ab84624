using Lamina.Core.Slides;
using Lamina.Core.Slides.Tiling;

namespace Lamina.Core.Tests.Slides;

public sealed class TilePipelineTests : IDisposable
{
    private readonly TemporaryDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Theory]
    [InlineData(1, 7, 2)]
    [InlineData(4, 32, 4)]
    [InlineData(8, 5, 1)]
    public async Task ReadAsync_ManyReaders_DeliversThePlansTilesInOrderWithTheSinglePathsPixels(int readers, int batchSize, int capacity)
    {
        using var slide = Slide.Open(TestSlides.Cmu1Small);
        var plan = Tiler.Plan(slide, new TilingOptions(128, Overlap: 16, MicronsPerPixel: 0.7));
        var expected = new byte[plan.TileBytes];
        var seen = new List<Tile>();

        await foreach (var batch in TilePipeline.ReadAsync(slide, plan, new TilePipelineOptions(readers, batchSize, capacity)))
        {
            Assert.Equal(seen.Count / batchSize, batch.Index);
            for (var i = 0; i < batch.Count; i++)
            {
                TileReader.ReadTile(slide, plan, batch.Tiles[i], expected);
                Assert.True(expected.AsSpan().SequenceEqual(batch.PixelsOf(i)), $"tile {batch.Tiles[i].Index} differs");
            }
            seen.AddRange(batch.Tiles);
        }

        Assert.True(plan.Resamples);
        Assert.Equal(plan.Tiles, seen);
    }

    [Fact]
    public async Task ReadAsync_BreakAfterTheFirstBatch_StopsTheReadersAndReturns()
    {
        using var slide = Slide.Open(TestSlides.Cmu1Small);
        var plan = Tiler.Plan(slide, new TilingOptions(64));
        var batches = 0;

        await foreach (var batch in TilePipeline.ReadAsync(slide, plan, new TilePipelineOptions(4, 8, 2)))
        {
            batches++;
            break;
        }

        Assert.Equal(1, batches);
        // The readers are gone: disposing the slide now cannot race them, and reading it again works.
        var rgb = new byte[plan.TileBytes];
        TileReader.ReadTile(slide, plan, plan.Tiles[^1], rgb);
    }

    [Fact]
    public async Task ReadAsync_Cancelled_ThrowsOperationCanceled()
    {
        using var slide = Slide.Open(TestSlides.Cmu1Small);
        var plan = Tiler.Plan(slide, new TilingOptions(64));
        using var cancellation = new CancellationTokenSource();
        var batches = 0;

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var batch in TilePipeline.ReadAsync(slide, plan, new TilePipelineOptions(4, 8, 2), cancellation.Token))
            {
                batches++;
                await cancellation.CancelAsync();
            }
        });

        Assert.Equal(1, batches);
        Assert.True(plan.KeptTiles > 16);
    }

    [Fact]
    public async Task ReadAsync_ReaderFails_SurfacesTheErrorToTheConsumer()
    {
        var path = TestSlides.Pattern(_temp.Combine("pattern.tif"), 1024, 1024);
        var slide = Slide.Open(path);
        var plan = Tiler.Plan(slide, new TilingOptions(64));
        var batches = 0;

        var error = await Assert.ThrowsAnyAsync<ObjectDisposedException>(async () =>
        {
            await foreach (var batch in TilePipeline.ReadAsync(slide, plan, new TilePipelineOptions(2, 4, 2)))
            {
                // Closing the slide under the readers makes their next reads fail.
                if (batches++ == 0) slide.Dispose();
            }
        });

        Assert.True(batches < plan.KeptTiles / 4, $"{batches} batches after the failure");
        Assert.NotNull(error);
    }
}
