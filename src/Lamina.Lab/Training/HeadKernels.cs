using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Lamina.Lab.Training;

/// <summary>
/// The arithmetic of a head's layers, written so that every value is one fixed chain of operations whatever the
/// blocking, the batch split, the thread count or the vector width of the processor:
/// <list type="bullet">
/// <item>a linear output is <see cref="Dot"/> plus the bias: fused multiply-adds (one rounding each), inputs in
/// ascending order, from zero;</item>
/// <item>a gradient is a chain of <see cref="Axpy"/> steps, one fused product per element, rows (or outputs) ascending.</item>
/// </list>
/// The kernels hold many such chains side by side in vector lanes and registers (a tile of rows × outputs, or
/// outputs × inputs) so that each load serves several multiply-adds, but no chain is ever split or reordered, so there is
/// no horizontal sum whose order would depend on the vector width. Fused multiply-adds are exact in .NET on every
/// processor (emulated where the hardware lacks them) and the JIT never reassociates float arithmetic.
/// Adding a product with a zero factor never changes a sum that started at +0 (a sum of finite floats reaches −0 only
/// from −0), so the kernels may skip or include such products without changing a bit.
/// </summary>
internal static class HeadKernels
{
    private static int Lanes => Vector<float>.Count;

    /// <summary>Σ a[k]·b[k] as one chain of fused multiply-adds, k ascending, from zero.</summary>
    public static float Dot(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        var sum = 0f;
        for (var k = 0; k < a.Length; k++) sum = MathF.FusedMultiplyAdd(a[k], b[k], sum);
        return sum;
    }

    /// <summary>y[k] = fma(alpha, x[k], y[k]) for every k.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Axpy(float alpha, ReadOnlySpan<float> x, Span<float> y)
    {
        var n = x.Length;
        var k = 0;
        if (Vectorised(n))
        {
            var va = new Vector<float>(alpha);
            for (; k + Lanes <= n; k += Lanes)
            {
                Vector.FusedMultiplyAdd(va, new Vector<float>(x.Slice(k)), new Vector<float>(y.Slice(k))).CopyTo(y.Slice(k));
            }
        }
        for (; k < n; k++) y[k] = MathF.FusedMultiplyAdd(alpha, x[k], y[k]);
    }

    /// <summary>Rows per block of <see cref="LinearForward"/>: two vectors' worth.</summary>
    public static int ForwardBlockRows => 2 * Vector<float>.Count;

    /// <summary>
    /// output[r, o] = Dot(W[o], x[r]) + bias[o] for the outputs o in [<paramref name="from"/>, <paramref name="to"/>). A block of <see cref="ForwardBlockRows"/> rows is transposed into
    /// <paramref name="scratch"/> (inputs × block, at least that long) so that one vector holds the same input of
    /// several rows; tiles of 4 outputs × 2 vectors of rows then run each row's sum, k ascending, in their lanes.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void LinearForward(float[] weight, float[] bias, int inputs, int outputs, ReadOnlySpan<float> x, Span<float> output, int rows,
        Span<float> scratch, int from, int to)
    {
        var n = inputs;
        var block = ForwardBlockRows;
        if (from >= to) return;
        if (!Vector.IsHardwareAccelerated || scratch.Length < n * block)
        {
            for (var r = 0; r < rows; r++)
                for (var o = from; o < to; o++)
                    output[r * outputs + o] = Dot(weight.AsSpan(o * n, n), x.Slice(r * n, n)) + bias[o];
            return;
        }
        Span<float> sums = stackalloc float[2 * Lanes];
        ref var w = ref MemoryMarshal.GetArrayDataReference(weight);
        ref var t = ref MemoryMarshal.GetReference(scratch);
        for (var r0 = 0; r0 < rows; r0 += block)
        {
            var count = Math.Min(block, rows - r0);
            // Transpose: scratch[k · block + j] = x[r0 + j, k]; the lanes of absent rows hold zeros and are never written out.
            if (count < block) scratch.Slice(0, n * block).Clear();
            for (var j = 0; j < count; j++)
            {
                ref var source = ref Unsafe.AsRef(in x[(r0 + j) * n]);
                ref var target = ref Unsafe.Add(ref t, j);
                for (var k = 0; k < n; k++)
                {
                    target = Unsafe.Add(ref source, k);
                    target = ref Unsafe.Add(ref target, block);
                }
            }
            var o0 = from;
            for (; o0 + 4 <= to; o0 += 4)
            {
                Vector<float> a0 = default, a1 = default, a2 = default, a3 = default;
                Vector<float> c0 = default, c1 = default, c2 = default, c3 = default;
                // pa walks row o0 of W and pb row o0 + 2; rows o0 + 1 and o0 + 3 are n further on; pt walks the block.
                ref var pa = ref Unsafe.Add(ref w, o0 * n);
                ref var pb = ref Unsafe.Add(ref pa, 2 * n);
                ref var pt = ref t;
                for (var k = 0; k < n; k++)
                {
                    var lo = Vector.LoadUnsafe(ref pt);
                    var hi = Vector.LoadUnsafe(ref pt, (nuint)Lanes);
                    var s = new Vector<float>(pa);
                    a0 = Vector.FusedMultiplyAdd(s, lo, a0);
                    c0 = Vector.FusedMultiplyAdd(s, hi, c0);
                    s = new Vector<float>(Unsafe.Add(ref pa, n));
                    a1 = Vector.FusedMultiplyAdd(s, lo, a1);
                    c1 = Vector.FusedMultiplyAdd(s, hi, c1);
                    s = new Vector<float>(pb);
                    a2 = Vector.FusedMultiplyAdd(s, lo, a2);
                    c2 = Vector.FusedMultiplyAdd(s, hi, c2);
                    s = new Vector<float>(Unsafe.Add(ref pb, n));
                    a3 = Vector.FusedMultiplyAdd(s, lo, a3);
                    c3 = Vector.FusedMultiplyAdd(s, hi, c3);
                    pa = ref Unsafe.Add(ref pa, 1);
                    pb = ref Unsafe.Add(ref pb, 1);
                    pt = ref Unsafe.Add(ref pt, block);
                }
                WriteOut(a0, c0, bias[o0], sums, output, r0, count, outputs, o0);
                WriteOut(a1, c1, bias[o0 + 1], sums, output, r0, count, outputs, o0 + 1);
                WriteOut(a2, c2, bias[o0 + 2], sums, output, r0, count, outputs, o0 + 2);
                WriteOut(a3, c3, bias[o0 + 3], sums, output, r0, count, outputs, o0 + 3);
            }
            for (; o0 < to; o0++)
            {
                Vector<float> a0 = default, c0 = default;
                ref var pa = ref Unsafe.Add(ref w, o0 * n);
                ref var pt = ref t;
                for (var k = 0; k < n; k++)
                {
                    var s = new Vector<float>(pa);
                    a0 = Vector.FusedMultiplyAdd(s, Vector.LoadUnsafe(ref pt), a0);
                    c0 = Vector.FusedMultiplyAdd(s, Vector.LoadUnsafe(ref pt, (nuint)Lanes), c0);
                    pa = ref Unsafe.Add(ref pa, 1);
                    pt = ref Unsafe.Add(ref pt, block);
                }
                WriteOut(a0, c0, bias[o0], sums, output, r0, count, outputs, o0);
            }
        }
    }

    /// <summary>Adds the bias to one output's sums for a block of rows and writes the rows present.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void WriteOut(Vector<float> lo, Vector<float> hi, float bias, Span<float> sums, Span<float> output, int r0, int count, int outputs, int o)
    {
        var b = new Vector<float>(bias);
        (lo + b).CopyTo(sums);
        (hi + b).CopyTo(sums.Slice(Lanes));
        for (var j = 0; j < count; j++) output[(r0 + j) * outputs + o] = sums[j];
    }

    /// <summary>
    /// gradW[o] = Σ_r delta[r, o]·x[r] and gradB[o] = Σ_r delta[r, o] for the outputs o in [<paramref name="from"/>,
    /// <paramref name="to"/>), rows ascending, each product fused: the sums
    /// of one <see cref="Axpy"/> per (output, row) into cleared arrays. Tiles of 4 outputs × 2 vectors start at zero
    /// in registers and stay there over all rows, so the arrays are written once and never cleared or read.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void WeightGradient(ReadOnlySpan<float> x, ReadOnlySpan<float> delta, int rows, int inputs, int outputs, float[] gradW, float[] gradB,
        int from, int to)
    {
        var n = inputs;
        for (var o = from; o < to; o++)
        {
            var sum = 0f;
            for (var r = 0; r < rows; r++) sum += delta[r * outputs + o];
            gradB[o] = sum;
        }
        var o0 = from;
        var tail = 0;
        if (Vectorised(n))
        {
            var vectors = n / Lanes;
            tail = vectors * Lanes;
            var pairs = vectors & ~1;
            ref var xs = ref MemoryMarshal.GetReference(x);
            ref var ds = ref MemoryMarshal.GetReference(delta);
            ref var gw = ref MemoryMarshal.GetArrayDataReference(gradW);
            for (; o0 + 4 <= to; o0 += 4)
            {
                nuint g0 = (nuint)(o0 * n), g1 = g0 + (nuint)n, g2 = g1 + (nuint)n, g3 = g2 + (nuint)n;
                for (var v = 0; v < vectors; v += 2)
                {
                    var k = (nuint)(v * Lanes);
                    if (v < pairs)
                    {
                        var k1 = k + (nuint)Lanes;
                        Vector<float> a0 = default, a1 = default, a2 = default, a3 = default;
                        Vector<float> c0 = default, c1 = default, c2 = default, c3 = default;
                        for (var r = 0; r < rows; r++)
                        {
                            var xr = (nuint)(r * n);
                            var va = Vector.LoadUnsafe(ref xs, xr + k);
                            var vb = Vector.LoadUnsafe(ref xs, xr + k1);
                            ref var d = ref Unsafe.Add(ref ds, r * outputs + o0);
                            var s = new Vector<float>(d);
                            a0 = Vector.FusedMultiplyAdd(s, va, a0);
                            c0 = Vector.FusedMultiplyAdd(s, vb, c0);
                            s = new Vector<float>(Unsafe.Add(ref d, 1));
                            a1 = Vector.FusedMultiplyAdd(s, va, a1);
                            c1 = Vector.FusedMultiplyAdd(s, vb, c1);
                            s = new Vector<float>(Unsafe.Add(ref d, 2));
                            a2 = Vector.FusedMultiplyAdd(s, va, a2);
                            c2 = Vector.FusedMultiplyAdd(s, vb, c2);
                            s = new Vector<float>(Unsafe.Add(ref d, 3));
                            a3 = Vector.FusedMultiplyAdd(s, va, a3);
                            c3 = Vector.FusedMultiplyAdd(s, vb, c3);
                        }
                        a0.StoreUnsafe(ref gw, g0 + k); a1.StoreUnsafe(ref gw, g1 + k);
                        a2.StoreUnsafe(ref gw, g2 + k); a3.StoreUnsafe(ref gw, g3 + k);
                        c0.StoreUnsafe(ref gw, g0 + k1); c1.StoreUnsafe(ref gw, g1 + k1);
                        c2.StoreUnsafe(ref gw, g2 + k1); c3.StoreUnsafe(ref gw, g3 + k1);
                    }
                    else
                    {
                        Vector<float> a0 = default, a1 = default, a2 = default, a3 = default;
                        for (var r = 0; r < rows; r++)
                        {
                            var va = Vector.LoadUnsafe(ref xs, (nuint)(r * n) + k);
                            ref var d = ref Unsafe.Add(ref ds, r * outputs + o0);
                            a0 = Vector.FusedMultiplyAdd(new Vector<float>(d), va, a0);
                            a1 = Vector.FusedMultiplyAdd(new Vector<float>(Unsafe.Add(ref d, 1)), va, a1);
                            a2 = Vector.FusedMultiplyAdd(new Vector<float>(Unsafe.Add(ref d, 2)), va, a2);
                            a3 = Vector.FusedMultiplyAdd(new Vector<float>(Unsafe.Add(ref d, 3)), va, a3);
                        }
                        a0.StoreUnsafe(ref gw, g0 + k); a1.StoreUnsafe(ref gw, g1 + k);
                        a2.StoreUnsafe(ref gw, g2 + k); a3.StoreUnsafe(ref gw, g3 + k);
                    }
                }
            }
        }
        // The scalar tail of every output, and whole outputs left after the tiles (or when not vectorised).
        for (var o = from; o < to; o++)
        {
            var first = o < o0 ? tail : 0;
            if (first == n) continue;
            var row = gradW.AsSpan(o * n + first, n - first);
            row.Clear();
            for (var r = 0; r < rows; r++)
            {
                var g = delta[r * outputs + o];
                if (g != 0f) Axpy(g, x.Slice(r * n + first, n - first), row);
            }
        }
    }

    /// <summary>
    /// next[r, k] = Σ_o delta[r, o]·W[o, k] for the inputs k in [<paramref name="from"/>, <paramref name="to"/>), outputs
    /// ascending, each product fused (one <see cref="Axpy"/> per (output, row) into a cleared row). Tiles of 4 rows × 2
    /// vectors start at zero in registers and stay there over all outputs.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void InputGradient(float[] weight, int inputs, int outputs, ReadOnlySpan<float> delta, int rows, Span<float> next, int from, int to)
    {
        var n = inputs;
        if (from >= to) return;
        var r0 = 0;
        var end = from;
        if (Vector.IsHardwareAccelerated && to - from >= Lanes)
        {
            var vectors = (to - from) / Lanes;
            end = from + vectors * Lanes;
            var pairs = vectors & ~1;
            ref var w = ref MemoryMarshal.GetArrayDataReference(weight);
            ref var ds = ref MemoryMarshal.GetReference(delta);
            ref var ns = ref MemoryMarshal.GetReference(next);
            for (; r0 + 4 <= rows; r0 += 4)
            {
                nuint n0 = (nuint)(r0 * n), n1 = n0 + (nuint)n, n2 = n1 + (nuint)n, n3 = n2 + (nuint)n;
                ref var d0 = ref Unsafe.Add(ref ds, r0 * outputs);
                ref var d1 = ref Unsafe.Add(ref d0, outputs);
                ref var d2 = ref Unsafe.Add(ref d1, outputs);
                ref var d3 = ref Unsafe.Add(ref d2, outputs);
                for (var v = 0; v < vectors; v += 2)
                {
                    var k = (nuint)(from + v * Lanes);
                    if (v < pairs)
                    {
                        var k1 = k + (nuint)Lanes;
                        Vector<float> a0 = default, a1 = default, a2 = default, a3 = default;
                        Vector<float> c0 = default, c1 = default, c2 = default, c3 = default;
                        for (var o = 0; o < outputs; o++)
                        {
                            var wo = (nuint)(o * n);
                            var va = Vector.LoadUnsafe(ref w, wo + k);
                            var vb = Vector.LoadUnsafe(ref w, wo + k1);
                            var s = new Vector<float>(Unsafe.Add(ref d0, o));
                            a0 = Vector.FusedMultiplyAdd(s, va, a0);
                            c0 = Vector.FusedMultiplyAdd(s, vb, c0);
                            s = new Vector<float>(Unsafe.Add(ref d1, o));
                            a1 = Vector.FusedMultiplyAdd(s, va, a1);
                            c1 = Vector.FusedMultiplyAdd(s, vb, c1);
                            s = new Vector<float>(Unsafe.Add(ref d2, o));
                            a2 = Vector.FusedMultiplyAdd(s, va, a2);
                            c2 = Vector.FusedMultiplyAdd(s, vb, c2);
                            s = new Vector<float>(Unsafe.Add(ref d3, o));
                            a3 = Vector.FusedMultiplyAdd(s, va, a3);
                            c3 = Vector.FusedMultiplyAdd(s, vb, c3);
                        }
                        a0.StoreUnsafe(ref ns, n0 + k); a1.StoreUnsafe(ref ns, n1 + k);
                        a2.StoreUnsafe(ref ns, n2 + k); a3.StoreUnsafe(ref ns, n3 + k);
                        c0.StoreUnsafe(ref ns, n0 + k1); c1.StoreUnsafe(ref ns, n1 + k1);
                        c2.StoreUnsafe(ref ns, n2 + k1); c3.StoreUnsafe(ref ns, n3 + k1);
                    }
                    else
                    {
                        Vector<float> a0 = default, a1 = default, a2 = default, a3 = default;
                        for (var o = 0; o < outputs; o++)
                        {
                            var va = Vector.LoadUnsafe(ref w, (nuint)(o * n) + k);
                            a0 = Vector.FusedMultiplyAdd(new Vector<float>(Unsafe.Add(ref d0, o)), va, a0);
                            a1 = Vector.FusedMultiplyAdd(new Vector<float>(Unsafe.Add(ref d1, o)), va, a1);
                            a2 = Vector.FusedMultiplyAdd(new Vector<float>(Unsafe.Add(ref d2, o)), va, a2);
                            a3 = Vector.FusedMultiplyAdd(new Vector<float>(Unsafe.Add(ref d3, o)), va, a3);
                        }
                        a0.StoreUnsafe(ref ns, n0 + k); a1.StoreUnsafe(ref ns, n1 + k);
                        a2.StoreUnsafe(ref ns, n2 + k); a3.StoreUnsafe(ref ns, n3 + k);
                    }
                }
            }
        }
        // The columns after the whole vectors in the tiled rows, and whole ranges of the rows after the last block of four.
        for (var r = 0; r < rows; r++)
        {
            var first = r < r0 ? end : from;
            if (first == to) continue;
            var row = next.Slice(r * n + first, to - first);
            row.Clear();
            for (var o = 0; o < outputs; o++)
            {
                var g = delta[r * outputs + o];
                if (g != 0f) Axpy(g, weight.AsSpan(o * n + first, to - first), row);
            }
        }
    }

    /// <summary>output[k] = max(input[k], 0).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Relu(ReadOnlySpan<float> input, Span<float> output)
    {
        var k = 0;
        if (Vector.IsHardwareAccelerated)
        {
            for (; k + Lanes <= input.Length; k += Lanes)
            {
                Vector.Max(new Vector<float>(input.Slice(k)), Vector<float>.Zero).CopyTo(output.Slice(k));
            }
        }
        for (; k < input.Length; k++) output[k] = Math.Max(input[k], 0f);
    }

    /// <summary>next[k] = input[k] &gt; 0 ? delta[k] : 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ReluGradient(ReadOnlySpan<float> input, ReadOnlySpan<float> delta, Span<float> next)
    {
        var k = 0;
        var n = next.Length;
        if (Vector.IsHardwareAccelerated)
        {
            for (; k + Lanes <= n; k += Lanes)
            {
                var active = Vector.GreaterThan(new Vector<float>(input.Slice(k)), Vector<float>.Zero);
                Vector.ConditionalSelect(active, new Vector<float>(delta.Slice(k)), Vector<float>.Zero).CopyTo(next.Slice(k));
            }
        }
        for (; k < n; k++) next[k] = input[k] > 0f ? delta[k] : 0f;
    }

    /// <summary>output[k] = a[k] · b[k] over <paramref name="output"/>'s length.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Multiply(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> output)
    {
        var k = 0;
        var n = output.Length;
        if (Vector.IsHardwareAccelerated)
        {
            for (; k + Lanes <= n; k += Lanes)
            {
                (new Vector<float>(a.Slice(k)) * new Vector<float>(b.Slice(k))).CopyTo(output.Slice(k));
            }
        }
        for (; k < n; k++) output[k] = a[k] * b[k];
    }

    /// <summary>
    /// Inverted-dropout mask values for the elements numbered <paramref name="counter"/> onwards: 0 with probability
    /// <paramref name="rate"/>, else 1 / (1 − rate). Each element's draw is a hash of the seed and its own number
    /// (SplitMix64), so it does not depend on which thread draws it or in what order.
    /// </summary>
    public static void DropoutMask(Span<float> mask, ulong seed, ulong counter, float rate)
    {
        var threshold = (ulong)(rate * (1 << 24));
        var keep = 1f / (1f - rate);
        for (var i = 0; i < mask.Length; i++)
        {
            var z = unchecked(seed + (counter + (ulong)i) * 0x9E3779B97F4A7C15UL);
            z = unchecked((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL);
            z = unchecked((z ^ (z >> 27)) * 0x94D049BB133111EBUL);
            z ^= z >> 31;
            mask[i] = (z >> 40) < threshold ? 0f : keep;
        }
    }

    private static bool Vectorised(int n) => Vector.IsHardwareAccelerated && n >= Lanes;
}
