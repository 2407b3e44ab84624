using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;
using System.Threading.Channels;

namespace Lamina.Core.Slides.Tiling;

/// <summary>How the tile pipeline reads.</summary>
/// <param name="Readers">Threads reading tiles at once. Default: one per processor.</param>
/// <param name="BatchSize">Tiles per batch. Default 32.</param>
/// <param name="Capacity">Batches alive at once (being read, waiting, and the one the consumer holds): this bounds memory. Default 4.</param>
public sealed record TilePipelineOptions(int? Readers = null, int BatchSize = 32, int Capacity = 4)
{
    /// <summary>The reader count in effect.</summary>
    public int ReaderCount => Readers ?? Environment.ProcessorCount;
}

/// <summary>
/// A batch of consecutive tiles of a plan and their pixels: tile i's RGB is <c>Pixels[i * TileBytes .. (i + 1) * TileBytes]</c>.
/// The buffer is pooled: it stays valid until the consumer asks for the next batch; copy what must outlive that.
/// </summary>
public sealed class TileBatch
{
    internal TileBatch(int index, Tile[] tiles, byte[] pixels, int tileSize)
    {
        Index = index;
        Tiles = tiles;
        Pixels = pixels;
        TileSize = tileSize;
    }

    /// <summary>Position of the batch in the stream.</summary>
    public int Index { get; }

    public Tile[] Tiles { get; }

    public int Count => Tiles.Length;

    /// <summary>At least <see cref="Count"/> × <see cref="TileBytes"/> bytes of RGB, tile after tile.</summary>
    public byte[] Pixels { get; }

    public int TileSize { get; }

    public int TileBytes => TileSize * TileSize * 3;

    /// <summary>The RGB pixels of the batch's tile <paramref name="i"/>.</summary>
    public Span<byte> PixelsOf(int i) => Pixels.AsSpan(i * TileBytes, TileBytes);
}

/// <summary>
/// Streams a plan's tiles in its order, read on several threads and handed over in batches through bounded channels,
/// so memory stays at <see cref="TilePipelineOptions.Capacity"/> batches whatever the slide size.
/// </summary>
public static class TilePipeline
{
    private sealed class Job(int index, Tile[] tiles, byte[] buffer)
    {
        public int Index { get; } = index;
        public Tile[] Tiles { get; } = tiles;
        public byte[] Buffer { get; } = buffer;
        public int Remaining = tiles.Length;
        public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    /// <summary>
    /// The plan's tiles in order, in batches. Stopping early (break, dispose) or cancelling stops the readers and waits
    /// for them before returning; the first reader error is rethrown to the consumer.
    /// </summary>
    public static async IAsyncEnumerable<TileBatch> ReadAsync(Slide slide, TilePlan plan, TilePipelineOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(slide);
        ArgumentNullException.ThrowIfNull(plan);
        options ??= new TilePipelineOptions();
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(options.ReaderCount, nameof(options.Readers));
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(options.BatchSize, nameof(options.BatchSize));
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(options.Capacity, nameof(options.Capacity));

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var token = stop.Token;
        using var slots = new SemaphoreSlim(options.Capacity, options.Capacity);
        var buffers = new ConcurrentBag<byte[]>();
        var failure = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        // Jobs in plan order (the consumer awaits each in turn), and their tiles as work for the readers.
        var jobs = Channel.CreateBounded<Job>(new BoundedChannelOptions(options.Capacity) { SingleReader = true, SingleWriter = true });
        var work = Channel.CreateBounded<(Job Job, int Offset)>(new BoundedChannelOptions(Math.Max(options.BatchSize, options.ReaderCount * 2))
        {
            SingleWriter = true,
        });

        void Fail(Exception e)
        {
            failure.TrySetException(e);
            stop.Cancel();
        }

        var dispatcher = Task.Run(async () =>
        {
            try
            {
                var batchBytes = options.BatchSize * plan.TileBytes;
                for (int start = 0, index = 0; start < plan.Tiles.Count; start += options.BatchSize, index++)
                {
                    await slots.WaitAsync(token).ConfigureAwait(false);
                    var tiles = new Tile[Math.Min(options.BatchSize, plan.Tiles.Count - start)];
                    for (var i = 0; i < tiles.Length; i++) tiles[i] = plan.Tiles[start + i];
                    var job = new Job(index, tiles, buffers.TryTake(out var reused) ? reused : new byte[batchBytes]);
                    await jobs.Writer.WriteAsync(job, token).ConfigureAwait(false);
                    for (var i = 0; i < tiles.Length; i++) await work.Writer.WriteAsync((job, i), token).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
            }
            catch (Exception e)
            {
                Fail(e);
            }
            finally
            {
                work.Writer.TryComplete();
                jobs.Writer.TryComplete();
            }
        }, CancellationToken.None);

        var readers = Enumerable.Range(0, options.ReaderCount).Select(_ => Task.Run(async () =>
        {
            try
            {
                await foreach (var (job, offset) in work.Reader.ReadAllAsync(token).ConfigureAwait(false))
                {
                    TileReader.ReadTile(slide, plan, job.Tiles[offset], job.Buffer.AsSpan(offset * plan.TileBytes, plan.TileBytes));
                    if (Interlocked.Decrement(ref job.Remaining) == 0) job.Done.TrySetResult();
                }
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
            }
            catch (Exception e)
            {
                Fail(e);
            }
        }, CancellationToken.None)).ToArray();

        try
        {
            while (true)
            {
                Job? job;
                try
                {
                    if (!await jobs.Reader.WaitToReadAsync(token).ConfigureAwait(false)) break;
                    if (!jobs.Reader.TryRead(out job)) continue;
                    await Task.WhenAny(job.Done.Task, failure.Task).WaitAsync(token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (failure.Task.IsFaulted)
                {
                    job = null;
                }
                if (failure.Task.Exception is { } error) ExceptionDispatchInfo.Throw(error.InnerException!);
                cancellationToken.ThrowIfCancellationRequested();
                yield return new TileBatch(job!.Index, job.Tiles, job.Buffer, plan.OutputSize);
                // The consumer has moved on: the buffer and its slot can carry the next batch.
                buffers.Add(job.Buffer);
                slots.Release();
            }
            if (failure.Task.Exception is { } late) ExceptionDispatchInfo.Throw(late.InnerException!);
            cancellationToken.ThrowIfCancellationRequested();
        }
        finally
        {
            await stop.CancelAsync().ConfigureAwait(false);
            // Every reader and the dispatcher end before the slide may be disposed by the caller.
            await Task.WhenAll([dispatcher, .. readers]).ConfigureAwait(false);
        }
    }
}
