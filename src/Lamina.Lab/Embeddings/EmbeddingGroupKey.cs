using System.Globalization;
using System.Text;
using Lamina.Core.Provenance;
using Lamina.Core.Slides.Tiling;

namespace Lamina.Lab.Embeddings;

/// <summary>
/// Everything but the tile position that determines an embedding: the slide's bytes, the scale its pixels are read at,
/// the preprocessing and augmentation applied, and the backbone. Embeddings of one group share a cache folder.
/// </summary>
/// <param name="SlideSha256">SHA-256 of the slide file.</param>
/// <param name="Scale">How pixels are read, e.g. <c>level 0, read 224, out 224</c> (see <see cref="ScaleOf"/>).</param>
/// <param name="PreprocessingDigest">Identifies the preprocessing chain: its specs and its plug-ins' sources.</param>
/// <param name="AugmentationDigest">Identifies the augmentation, <see cref="EmbeddingService.NoAugmentation"/> without one.</param>
/// <param name="BackboneSha256">The backbone's <see cref="Core.Inference.Backbone.CacheIdentity"/>: its identity, and the provider when not the CPU.</param>
public sealed record EmbeddingGroupKey(string SlideSha256, string Scale, string PreprocessingDigest, string AugmentationDigest, string BackboneSha256)
{
    /// <summary>The key as one canonical string, stored in each cache file to check what it holds.</summary>
    public string Canonical =>
        $"lamina.embeddings/1\nslide {SlideSha256}\nscale {Scale}\npreprocessing {PreprocessingDigest}\naugmentation {AugmentationDigest}\nbackbone {BackboneSha256}\n";

    /// <summary>SHA-256 of <see cref="Canonical"/>, lower-case hex: the group's folder name.</summary>
    public string Digest => Sha256Digest.OfText(Canonical).Hex;

    /// <summary>The scale of a plan as the cache keys it: read level, pixels read per tile side, pixels delivered per tile side.</summary>
    public static string ScaleOf(TilePlan plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        return string.Create(CultureInfo.InvariantCulture, $"level {plan.ReadLevel}, read {plan.ReadSize}, out {plan.OutputSize}");
    }
}

/// <summary>Where a tile lies, in level-0 pixels: with its group, the key of one embedding.</summary>
public readonly record struct TileKey(long X, long Y, double Width, double Height)
{
    public static TileKey Of(Core.Slides.Tile tile) => new(tile.X, tile.Y, tile.Width, tile.Height);
}
