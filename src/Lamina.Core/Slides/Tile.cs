namespace Lamina.Core.Slides;

/// <summary>
/// One tile of a tiling: the area it covers in level-0 pixel coordinates (what annotations and results are
/// expressed in), and its place in the tiling's grid. The pixels delivered for it are the tiling's tile size.
/// </summary>
/// <param name="Index">Position in the tiling's deterministic order (row by row, left to right).</param>
/// <param name="Column">Grid column.</param>
/// <param name="Row">Grid row.</param>
/// <param name="X">Left edge in level-0 pixels.</param>
/// <param name="Y">Top edge in level-0 pixels.</param>
/// <param name="Width">Width covered in level-0 pixels.</param>
/// <param name="Height">Height covered in level-0 pixels.</param>
/// <param name="TissueFraction">Fraction of the tile's area the tissue mask marks as tissue (1 when no mask was used).</param>
public readonly record struct Tile(int Index, int Column, int Row, long X, long Y, double Width, double Height, double TissueFraction)
{
    /// <summary>The centre in level-0 pixels.</summary>
    public (double X, double Y) Centre => (X + Width / 2, Y + Height / 2);
}
