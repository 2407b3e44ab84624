namespace Lamina.Core.Slides.Tissue;

/// <summary>
/// Where a slide has tissue: a grid of cells, each covering <see cref="Downsample"/>² level-0 pixels, true for tissue.
/// </summary>
public sealed class TissueMask
{
    private readonly bool[] _cells;
    // Summed-area table, (Width + 1) × (Height + 1), so any rectangle's tissue count is four look-ups.
    private readonly int[] _integral;

    /// <param name="cells">Row by row, <paramref name="width"/> × <paramref name="height"/> values; copied.</param>
    public TissueMask(int width, int height, double downsample, ReadOnlySpan<bool> cells)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        if (!(downsample > 0)) throw new ArgumentOutOfRangeException(nameof(downsample), downsample, "must be positive");
        if (cells.Length != width * height) throw new ArgumentException($"expected {width * height} cells, got {cells.Length}", nameof(cells));
        Width = width;
        Height = height;
        Downsample = downsample;
        _cells = cells.ToArray();
        _integral = new int[(width + 1) * (height + 1)];
        for (var y = 0; y < height; y++)
        {
            var rowSum = 0;
            for (var x = 0; x < width; x++)
            {
                rowSum += _cells[y * width + x] ? 1 : 0;
                _integral[(y + 1) * (width + 1) + x + 1] = _integral[y * (width + 1) + x + 1] + rowSum;
            }
        }
        TissueFraction = (double)_integral[^1] / (width * height);
    }

    /// <summary>Cells across.</summary>
    public int Width { get; }

    /// <summary>Cells down.</summary>
    public int Height { get; }

    /// <summary>Level-0 pixels per cell side.</summary>
    public double Downsample { get; }

    /// <summary>The fraction of all cells that are tissue.</summary>
    public double TissueFraction { get; }

    /// <summary>Whether cell (<paramref name="x"/>, <paramref name="y"/>) is tissue.</summary>
    public bool this[int x, int y] => _cells[y * Width + x];

    /// <summary>
    /// The fraction of the level-0 rectangle that is tissue, counting the cells whose centres lie inside it (the
    /// cell under the rectangle's centre when it is smaller than a cell); 0 outside the mask.
    /// </summary>
    public double FractionIn(double x0, double y0, double w0, double h0)
    {
        // Cells whose centre (i + 0.5) * Downsample lies in [x0, x0 + w0).
        var left = Math.Clamp((int)Math.Ceiling(x0 / Downsample - 0.5), 0, Width);
        var right = Math.Clamp((int)Math.Ceiling((x0 + w0) / Downsample - 0.5), 0, Width);
        var top = Math.Clamp((int)Math.Ceiling(y0 / Downsample - 0.5), 0, Height);
        var bottom = Math.Clamp((int)Math.Ceiling((y0 + h0) / Downsample - 0.5), 0, Height);
        if (right <= left || bottom <= top)
        {
            var cx = (int)Math.Floor((x0 + w0 / 2) / Downsample);
            var cy = (int)Math.Floor((y0 + h0 / 2) / Downsample);
            return cx >= 0 && cy >= 0 && cx < Width && cy < Height && this[cx, cy] ? 1 : 0;
        }
        var stride = Width + 1;
        var count = _integral[bottom * stride + right] - _integral[top * stride + right] - _integral[bottom * stride + left] + _integral[top * stride + left];
        return (double)count / ((right - left) * (bottom - top));
    }
}
