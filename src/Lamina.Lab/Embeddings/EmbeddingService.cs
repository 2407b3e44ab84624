using Lamina.Core.Inference;
using Lamina.Core.Slides;
using Lamina.Core.Slides.Tiling;

namespace Lamina.Lab.Embeddings;

/// <summary>One slide's tiles to embed, as a data set lists them.</summary>
/// <param name="SlidePath">The slide file.</param>
/// <param name="SlideSha256">SHA-256 of the slide file (from the data set's manifest).</param>
/// <param name="Options">The tiling the tiles come from: it decides the scale they are read at.</param>
/// <param name="Tiles">The tiles, in the order embeddings are returned.</param>
/// <param name="MppOverride">Microns per level-0 pixel the slide is opened with, replacing what it records (the data set's override), or null.</param>
public sealed record SlideRequest(string SlidePath, string SlideSha256, TilingOptions Options, IReadOnlyList<Tile> Tiles, double? MppOverride = null);

/// <summary>Where a tile comes from: its slide (by digest) and its place in the slide's tiling.</summary>
public sealed record TileOrigin(string SlideSha256, Tile Tile);

/// <summary>The embeddings of a request, slide by slide and tile by tile in request order, and where they came from.</summary>
/// <param name="Embeddings"><c>Embeddings[s][t]</c> belongs to tile t of slide s.</param>
/// <param name="Computed">Tiles run through the backbone.</param>
/// <param name="FromCache">Tiles whose embedding was found in the cache.</param>
public sealed record EmbeddingResult(IReadOnlyList<float[][]> Embeddings, long Computed, long FromCache);

/// <summary>How far an embedding request has got.</summary>
/// <param name="Slide">Slides finished.</param>
/// <param name="Slides">Slides in the request.</param>
/// <param name="Computed">Tiles run through the backbone so far.</param>
/// <param name="FromCache">Tiles found in the cache so far.</param>
/// <param name="Tiles">Tiles in the request.</param>
public sealed record EmbeddingProgress(int Slide, int Slides, long Computed, long FromCache, long Tiles);

/// <summary>
/// Turns slides' tiles into backbone embeddings through the <see cref="EmbeddingCache"/>: tiles already embedded with the
/// same slide, scale, preprocessing, augmentation and backbone are read back; only the rest are read, preprocessed and
/// embedded, then stored. Pixels live only a pipeline batch at a time; the embeddings are what is kept.
/// </summary>
public sealed class EmbeddingService(EmbeddingCache cache, TilePipelineOptions? pipelineOptions = null)
{
    /// <summary>The augmentation digest of tiles embedded without augmentation.</summary>
    public const string NoAugmentation = "none";

    /// <summary>Embeddings written to the cache in parts of at most this many tiles, so an interrupted run keeps most of its work.</summary>
    private const int PartTiles = 4096;

    /// <summary>Embeds the tiles of <paramref name="slides"/> without augmentation.</summary>
    /// <param name="preprocess">Applied to each tile as RGB values 0..255 (height × width × 3); must give the backbone's input, RGB in 0..1.</param>
    /// <param name="preprocessingDigest">Identifies <paramref name="preprocess"/>: part of the cache key.</param>
    public Task<EmbeddingResult> EmbedAsync(IReadOnlyList<SlideRequest> slides, Func<ImageTensor, ImageTensor> preprocess, string preprocessingDigest,
        Backbone backbone, IProgress<EmbeddingProgress>? progress = null, CancellationToken cancellationToken = default) =>
        EmbedAsync(slides, preprocess, preprocessingDigest, NoAugmentation, backbone, progress, cancellationToken);

    /// <summary>Embeds the tiles of <paramref name="slides"/>, computing only those the cache lacks.</summary>
    /// <param name="preprocess">Applied to each tile as RGB values 0..255 (height × width × 3); must give the backbone's input, RGB in 0..1.</param>
    /// <param name="preprocessingDigest">Identifies <paramref name="preprocess"/>: part of the cache key.</param>
    /// <param name="augmentationDigest">Identifies an augmentation folded into <paramref name="preprocess"/>, or <see cref="NoAugmentation"/>.</param>
    public Task<EmbeddingResult> EmbedAsync(IReadOnlyList<SlideRequest> slides, Func<ImageTensor, ImageTensor> preprocess, string preprocessingDigest,
        string augmentationDigest, Backbone backbone, IProgress<EmbeddingProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(preprocess);
        return EmbedAsync(slides, (image, _) => preprocess(image), preprocessingDigest, augmentationDigest, backbone, progress, cancellationToken);
    }

    /// <summary>
    /// Embeds the tiles of <paramref name="slides"/>, computing only those the cache lacks, with a preprocessing that may
    /// depend on the tile (an augmentation seeded by the tile's slide and position): it must give the same pixels every
    /// time for the same tile, or the cache would keep one draw and call it all of them.
    /// </summary>
    /// <param name="preprocess">Applied to each tile as RGB values 0..255 (height × width × 3) with the tile's origin; must give the backbone's input, RGB in 0..1.</param>
    /// <param name="preprocessingDigest">Identifies <paramref name="preprocess"/>: part of the cache key.</param>
    /// <param name="augmentationDigest">Identifies an augmentation folded into <paramref name="preprocess"/>, or <see cref="NoAugmentation"/>.</param>
    public async Task<EmbeddingResult> EmbedAsync(IReadOnlyList<SlideRequest> slides, Func<ImageTensor, TileOrigin, ImageTensor> preprocess,
        string preprocessingDigest, string augmentationDigest, Backbone backbone, IProgress<EmbeddingProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(slides);
        ArgumentNullException.ThrowIfNull(preprocess);
        ArgumentException.ThrowIfNullOrWhiteSpace(preprocessingDigest);
        ArgumentException.ThrowIfNullOrWhiteSpace(augmentationDigest);
        ArgumentNullException.ThrowIfNull(backbone);

        var total = slides.Sum(s => (long)s.Tiles.Count);
        var results = new float[slides.Count][][];
        long computed = 0, fromCache = 0;
        for (var s = 0; s < slides.Count; s++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var request = slides[s];
            using var slide = Slide.Open(request.SlidePath, request.MppOverride);
            var plan = Tiler.Plan(slide, request.Options).WithTiles(request.Tiles);
            var key = new EmbeddingGroupKey(request.SlideSha256, EmbeddingGroupKey.ScaleOf(plan), preprocessingDigest, augmentationDigest, backbone.CacheIdentity);
            var known = cache.Load(key, backbone.Spec.EmbeddingSize);

            var missing = new List<Tile>();
            var seen = new HashSet<TileKey>();
            foreach (var tile in request.Tiles)
            {
                var tileKey = TileKey.Of(tile);
                if (known.ContainsKey(tileKey)) fromCache++;
                else if (seen.Add(tileKey)) missing.Add(tile);
            }
            progress?.Report(new EmbeddingProgress(s, slides.Count, computed, fromCache, total));

            if (missing.Count > 0)
            {
                var before = computed;
                var slideSha256 = request.SlideSha256;
                await foreach (var part in EmbedTilesAsync(slide, plan.WithTiles(missing), (image, tile) => preprocess(image, new TileOrigin(slideSha256, tile)),
                    backbone, cancellationToken).ConfigureAwait(false))
                {
                    cache.Store(key, part);
                    foreach (var (tileKey, embedding) in part) known[tileKey] = embedding;
                    computed += part.Count;
                    progress?.Report(new EmbeddingProgress(s, slides.Count, computed, fromCache, total));
                }
                if (computed - before != missing.Count) throw new InvalidOperationException($"embedded {computed - before} of {missing.Count} tiles");
            }
            results[s] = [.. request.Tiles.Select(t => known[TileKey.Of(t)])];
        }
        progress?.Report(new EmbeddingProgress(slides.Count, slides.Count, computed, fromCache, total));
        return new EmbeddingResult(results, computed, fromCache);
    }

    /// <summary>The plan's tiles embedded, in parts of at most <see cref="PartTiles"/>.</summary>
    private async IAsyncEnumerable<List<KeyValuePair<TileKey, float[]>>> EmbedTilesAsync(Slide slide, TilePlan plan, Func<ImageTensor, Tile, ImageTensor> preprocess,
        Backbone backbone, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var spec = backbone.Spec;
        var values = backbone.TileValues;
        var batch = backbone.BatchSize;
        var tiles = new float[batch * values];
        var keys = new TileKey[batch];
        var output = new float[batch * spec.EmbeddingSize];
        var pending = 0;
        var part = new List<KeyValuePair<TileKey, float[]>>();

        void Flush()
        {
            backbone.Embed(tiles.AsSpan(0, pending * values), pending, output);
            for (var i = 0; i < pending; i++) part.Add(new(keys[i], output.AsSpan(i * spec.EmbeddingSize, spec.EmbeddingSize).ToArray()));
            pending = 0;
        }

        var options = pipelineOptions ?? new TilePipelineOptions(BatchSize: batch);
        await foreach (var read in TilePipeline.ReadAsync(slide, plan, options, cancellationToken).ConfigureAwait(false))
        {
            for (var i = 0; i < read.Count; i++)
            {
                // Pixels are copied out of the pipeline's pooled buffer before the next batch reuses it.
                var image = preprocess(ImageTensor.FromRgb(read.TileSize, read.TileSize, read.PixelsOf(i)), read.Tiles[i]);
                if (image.Height != spec.TileSize || image.Width != spec.TileSize || image.Channels != spec.Channels)
                {
                    throw new InferenceException($"backbone {spec.Name} takes {spec.TileSize}x{spec.TileSize}x{spec.Channels} tiles, "
                        + $"the preprocessing gives {image.Height}x{image.Width}x{image.Channels}: tile at ({read.Tiles[i].X}, {read.Tiles[i].Y}) of {slide.Path}");
                }
                image.Data.CopyTo(tiles, pending * values);
                keys[pending++] = TileKey.Of(read.Tiles[i]);
                if (pending == batch) Flush();
            }
            if (part.Count >= PartTiles)
            {
                yield return part;
                part = [];
            }
        }
        if (pending > 0) Flush();
        if (part.Count > 0) yield return part;
    }
}
