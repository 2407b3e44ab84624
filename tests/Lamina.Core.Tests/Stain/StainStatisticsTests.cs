using Xunit.Abstractions;
using System.Diagnostics;
using Lamina.Core.Slides;
using Lamina.Core.Stain;

namespace Lamina.Core.Tests.Stain;

public sealed class StainStatisticsTests(ITestOutputHelper output)
{
    [Fact]
    public void Measure_IgnoresWhiteBackground()
    {
        var tissue = StainTestImages.Source;
        // The same tile beside a white one of the same size.
        var padded = new byte[tissue.Pixels.Length * 2];
        for (var y = 0; y < tissue.Height; y++)
        {
            Array.Copy(tissue.Pixels, y * tissue.Width * 3, padded, y * tissue.Width * 6, tissue.Width * 3);
            Array.Fill(padded, (byte)255, y * tissue.Width * 6 + tissue.Width * 3, tissue.Width * 3);
        }

        var alone = StainStatistics.Measure(tissue);
        var withBackground = StainStatistics.Measure(padded, tissue.Width * 2, tissue.Height);

        Assert.Equal(alone.Mean, withBackground.Mean);
        Assert.Equal(alone.Std, withBackground.Std);
        Assert.Equal(alone.TissueFraction / 2, withBackground.TissueFraction, 9);
    }

    [Fact]
    public void Measure_TellsTheNormalisedSourceFromTheOriginal()
    {
        var target = StainStatistics.Measure(StainTestImages.Target);
        var source = StainStatistics.Measure(StainTestImages.Source);
        var normalised = StainStatistics.Measure(Reinhard.Transform(StainTestImages.Source, Reinhard.Fit(StainTestImages.Target)));

        static double Distance(LabValues a, LabValues b) => Math.Sqrt(Math.Pow(a.L - b.L, 2) + Math.Pow(a.A - b.A, 2) + Math.Pow(a.B - b.B, 2));
        Assert.True(Distance(normalised.Mean!, target.Mean!) < Distance(source.Mean!, target.Mean!));
    }

    [Fact]
    public void Measure_BlankImage_HasNoTissue()
    {
        var statistics = StainStatistics.Measure(new RgbImage(4, 4, [.. Enumerable.Repeat((byte)255, 48)]));

        Assert.Equal(0, statistics.TissuePixels);
        Assert.Null(statistics.Mean);
        Assert.Null(statistics.Std);
    }

    [Fact]
    public void Measure_UniformColour_HasItsLabAndNoSpread()
    {
        // sRGB (150, 80, 160) is L* 45.30, a* 41.78, b* -31.24 (D65): 8-bit LAB (116, 170, 97).
        var statistics = StainStatistics.Measure(new RgbImage(2, 2, [150, 80, 160, 150, 80, 160, 150, 80, 160, 150, 80, 160]));

        Assert.Equal(new LabValues(116 / 2.55, 42, -31), statistics.Mean);
        Assert.Equal(new LabValues(0, 0, 0), statistics.Std);
        Assert.Equal(1, statistics.TissueFraction);
    }

    [Fact]
    public void Measure_TwoThousandSquareThumbnail_CountsItsTissue()
    {
        // A 2000 × 2000 thumbnail: the source tile repeated over the left half, white on the right.
        var tile = StainTestImages.Source;
        const int side = 2000;
        var rgb = new byte[side * side * 3];
        Array.Fill(rgb, (byte)255);
        for (var y = 0; y < side; y++)
        {
            for (var x = 0; x < side / 2; x++)
            {
                Array.Copy(tile.Pixels, ((y % tile.Height) * tile.Width + x % tile.Width) * 3, rgb, (y * side + x) * 3, 3);
            }
        }
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        var clock = Stopwatch.StartNew();

        var statistics = StainStatistics.Measure(rgb, side, side);

        output.WriteLine($"{clock.Elapsed.TotalMilliseconds:0} ms, {(Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalMilliseconds:0} ms of CPU");
        var alone = StainStatistics.Measure(tile);
        Assert.Equal(alone.TissueFraction / 2, statistics.TissueFraction, 2);
        Assert.Equal(alone.Mean!.L, statistics.Mean!.L, 0);
        Assert.Equal(alone.Mean.A, statistics.Mean.A, 0);
        Assert.Equal(alone.Mean.B, statistics.Mean.B, 0);
    }
}
