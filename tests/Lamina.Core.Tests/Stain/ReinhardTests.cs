using Xunit.Abstractions;
using Lamina.Core.Stain;

namespace Lamina.Core.Tests.Stain;

public sealed class ReinhardTests(ITestOutputHelper output)
{
    [Fact]
    public void Transform_SourceFittedOnTarget_MatchesTiaToolboxWithinItsTolerance()
    {
        var statistics = Reinhard.Fit(StainTestImages.Target);

        var normalised = Reinhard.Transform(StainTestImages.Source, statistics);

        var difference = StainTestImages.MeanAbsoluteDifference(normalised, StainTestImages.Read("norm_reinhard.png"));
        output.WriteLine($"mean absolute difference {difference:0.######}");
        Assert.True(difference < 0.01, $"mean absolute difference {difference:0.#####} against TIAToolbox's output");
    }

    [Fact]
    public void Transform_TargetFittedOnItself_IsNearlyIdentity()
    {
        var source = StainTestImages.Source;

        var normalised = Reinhard.Transform(source, Reinhard.Fit(source));

        var difference = StainTestImages.MeanAbsoluteDifference(normalised, source);
        Assert.True(difference < 0.005, $"mean absolute difference {difference:0.#####}");
    }

    [Fact]
    public void Transform_MovesSourceStatisticsToTarget()
    {
        var target = Reinhard.Fit(StainTestImages.Target);

        var after = Reinhard.Fit(Reinhard.Transform(StainTestImages.Source, target));

        for (var c = 0; c < 3; c++)
        {
            Assert.InRange(after.Means[c], target.Means[c] - 1.5, target.Means[c] + 1.5);
            Assert.InRange(after.Stds[c], target.Stds[c] * 0.9, target.Stds[c] * 1.1);
        }
    }

    [Fact]
    public void LabConversion_RoundTripsGreysAndStainColoursWithinTwoLevels()
    {
        byte[] rgb = [.. Enumerable.Range(0, 256).SelectMany(v => new[] { (byte)v, (byte)v, (byte)v }),
            200, 120, 180, 90, 40, 130, 230, 170, 210, 120, 60, 160];
        var lab = new byte[rgb.Length];
        var back = new byte[rgb.Length];

        StainColor.RgbToLab8(rgb, lab);
        StainColor.Lab8ToRgb(lab, back);

        // White is L 255, a and b 128 in OpenCV's 8-bit LAB.
        Assert.Equal(new byte[] { 255, 128, 128 }, lab[(255 * 3)..(256 * 3)]);
        var worst = Enumerable.Range(0, rgb.Length).Select(i => (Error: Math.Abs(back[i] - rgb[i]), Index: i)).Max();
        Assert.True(worst.Error <= 2, $"value {worst.Index}: {rgb[worst.Index]} came back as {back[worst.Index]}");
    }
}
