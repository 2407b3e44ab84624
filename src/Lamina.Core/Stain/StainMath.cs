namespace Lamina.Core.Stain;

/// <summary>The small numerical pieces the stain methods share, written to give what NumPy gives.</summary>
internal static class StainMath
{
    /// <summary>
    /// The <paramref name="percent"/>-th percentile of <paramref name="sorted"/> (ascending), interpolating linearly
    /// between neighbours as <c>numpy.percentile</c> does by default.
    /// </summary>
    public static double Percentile(ReadOnlySpan<double> sorted, double percent)
    {
        if (sorted.Length == 0) throw new ArgumentException("no values", nameof(sorted));
        var index = percent / 100 * (sorted.Length - 1);
        var low = (int)Math.Floor(index);
        var high = Math.Min(low + 1, sorted.Length - 1);
        var t = index - low;
        return sorted[low] + (sorted[high] - sorted[low]) * t;
    }

    /// <summary>The percentile of a copy of <paramref name="values"/>, sorted.</summary>
    public static double PercentileOf(ReadOnlySpan<double> values, double percent)
    {
        var copy = values.ToArray();
        Array.Sort(copy);
        return Percentile(copy, percent);
    }

    /// <summary>A percentile of byte values given their histogram (linear interpolation as NumPy).</summary>
    public static double Percentile(ReadOnlySpan<long> histogram, long count, double percent)
    {
        var index = percent / 100 * (count - 1);
        var low = (long)Math.Floor(index);
        var high = Math.Min(low + 1, count - 1);
        var (a, b) = (ValueAt(histogram, low), ValueAt(histogram, high));
        return a + (b - a) * (index - low);
    }

    private static int ValueAt(ReadOnlySpan<long> histogram, long k)
    {
        long seen = 0;
        for (var v = 0; v < histogram.Length; v++)
        {
            seen += histogram[v];
            if (seen > k) return v;
        }
        return histogram.Length - 1;
    }

    /// <summary>
    /// Eigenvalues and eigenvectors of a symmetric 3×3 matrix by cyclic Jacobi rotations, eigenvalues ascending (as
    /// <c>numpy.linalg.eigh</c>); eigenvector k is column k of the returned matrix.
    /// </summary>
    public static (double[] Values, double[,] Vectors) SymmetricEigen(double[,] matrix)
    {
        var a = (double[,])matrix.Clone();
        var v = new double[3, 3] { { 1, 0, 0 }, { 0, 1, 0 }, { 0, 0, 1 } };
        for (var sweep = 0; sweep < 100; sweep++)
        {
            var off = Math.Abs(a[0, 1]) + Math.Abs(a[0, 2]) + Math.Abs(a[1, 2]);
            var scale = Math.Abs(a[0, 0]) + Math.Abs(a[1, 1]) + Math.Abs(a[2, 2]);
            if (off <= 1e-300 || off <= 1e-18 * scale) break;
            for (var p = 0; p < 2; p++)
            {
                for (var q = p + 1; q < 3; q++)
                {
                    if (a[p, q] == 0) continue;
                    var theta = (a[q, q] - a[p, p]) / (2 * a[p, q]);
                    var t = Math.Sign(theta == 0 ? 1 : theta) / (Math.Abs(theta) + Math.Sqrt(theta * theta + 1));
                    var c = 1 / Math.Sqrt(t * t + 1);
                    var s = t * c;
                    for (var k = 0; k < 3; k++)
                    {
                        var (akp, akq) = (a[k, p], a[k, q]);
                        a[k, p] = c * akp - s * akq;
                        a[k, q] = s * akp + c * akq;
                    }
                    for (var k = 0; k < 3; k++)
                    {
                        var (apk, aqk) = (a[p, k], a[q, k]);
                        a[p, k] = c * apk - s * aqk;
                        a[q, k] = s * apk + c * aqk;
                    }
                    for (var k = 0; k < 3; k++)
                    {
                        var (vkp, vkq) = (v[k, p], v[k, q]);
                        v[k, p] = c * vkp - s * vkq;
                        v[k, q] = s * vkp + c * vkq;
                    }
                }
            }
        }
        var order = new[] { 0, 1, 2 }.OrderBy(i => a[i, i]).ToArray();
        var values = order.Select(i => a[i, i]).ToArray();
        var vectors = new double[3, 3];
        for (var column = 0; column < 3; column++)
        {
            for (var row = 0; row < 3; row++) vectors[row, column] = v[row, order[column]];
        }
        return (values, vectors);
    }
}
