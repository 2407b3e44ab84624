namespace Lamina.Core.Slides.Tiling;

/// <summary>
/// The tiles of one slide at one scale, in deterministic order (row by row, left to right), with what reading them takes:
/// each tile is <see cref="ReadSize"/>² pixels of <see cref="ReadLevel"/>, resampled to <see cref="OutputSize"/>².
/// </summary>
public sealed class TilePlan
{
    internal TilePlan(TilingOptions options, int readLevel, double readLevelDownsample, int readSize, double downsample,
        int gridColumns, int gridRows, IReadOnlyList<Tile> tiles, double? tissueFraction)
    {
        Options = options;
        ReadLevel = readLevel;
        ReadLevelDownsample = readLevelDownsample;
        ReadSize = readSize;
        Downsample = downsample;
        GridColumns = gridColumns;
        GridRows = gridRows;
        Tiles = tiles;
        TissueFraction = tissueFraction;
    }

    public TilingOptions Options { get; }

    /// <summary>The same scale and reading geometry with only <paramref name="tiles"/> (a labelled subset, a sample).</summary>
    public TilePlan WithTiles(IReadOnlyList<Tile> tiles) =>
        new(Options, ReadLevel, ReadLevelDownsample, ReadSize, Downsample, GridColumns, GridRows, tiles, TissueFraction);

    /// <summary>The pyramid level the pixels come from.</summary>
    public int ReadLevel { get; }

    /// <summary>That level's downsample.</summary>
    public double ReadLevelDownsample { get; }

    /// <summary>Pixels read at <see cref="ReadLevel"/> for one tile side.</summary>
    public int ReadSize { get; }

    /// <summary>Pixels delivered for one tile side: the tile size.</summary>
    public int OutputSize => Options.TileSize;

    /// <summary>Whether tiles are resampled (read size differs from output size).</summary>
    public bool Resamples => ReadSize != OutputSize;

    /// <summary>Level-0 pixels per delivered pixel.</summary>
    public double Downsample { get; }

    /// <summary>Bytes of one delivered tile (RGB).</summary>
    public int TileBytes => OutputSize * OutputSize * 3;

    public int GridColumns { get; }

    public int GridRows { get; }

    /// <summary>Tiles of the full grid, before any filter.</summary>
    public int GridTiles => GridColumns * GridRows;

    /// <summary>The tiles kept, in order; <see cref="Tile.Index"/> is the position in this list.</summary>
    public IReadOnlyList<Tile> Tiles { get; }

    public int KeptTiles => Tiles.Count;

    /// <summary>The tissue fraction of the whole slide by the mask used, or null when none was.</summary>
    public double? TissueFraction { get; }
}
