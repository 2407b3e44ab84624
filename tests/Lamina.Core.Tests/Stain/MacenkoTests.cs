using Xunit.Abstractions;
using Lamina.Core.Slides;
using Lamina.Core.Stain;

namespace Lamina.Core.Tests.Stain;

public sealed class MacenkoTests(ITestOutputHelper output)
{
    [Fact]
    public void Transform_SourceFittedOnTarget_MatchesTiaToolboxReferenceWithinItsTolerance()
    {
        var statistics = Macenko.Fit(StainTestImages.Target);

        var normalised = Macenko.Transform(StainTestImages.Source, statistics);

        // norm_macenko.png: tests/data/stain/macenko_reference.py, a NumPy transcription of TIAToolbox's Macenko.
        var difference = StainTestImages.MeanAbsoluteDifference(normalised, StainTestImages.Read("norm_macenko.png"));
        output.WriteLine($"mean absolute difference {difference:0.######}");
        Assert.True(difference < 0.01, $"mean absolute difference {difference:0.#####} against the reference");
    }

    [Fact]
    public void Transform_WithThePapersOpticalDensityThreshold_MatchesTheReference()
    {
        var statistics = Macenko.Fit(StainTestImages.Target, odThreshold: 0.15);

        var normalised = Macenko.Transform(StainTestImages.Source, statistics, odThreshold: 0.15);

        // norm_macenko_od015.png: macenko_reference.py with tissue = optical density at least 0.15 in every channel.
        var difference = StainTestImages.MeanAbsoluteDifference(normalised, StainTestImages.Read("norm_macenko_od015.png"));
        output.WriteLine($"mean absolute difference {difference:0.######}");
        Assert.True(difference < 0.01, $"mean absolute difference {difference:0.#####} against the reference");
        Assert.Equal(0.177804, statistics.StainMatrix[1][0], 5);
    }

    [Fact]
    public void Fit_Target_GivesTheReferenceStainVectorsAndMaxima()
    {
        var statistics = Macenko.Fit(StainTestImages.Target);

        // As printed by macenko_reference.py (NumPy's eigh, cov, percentile and lstsq).
        double[][] matrix = [[0.528078, 0.752271, 0.393982], [0.15004, 0.832777, 0.532889]];
        for (var r = 0; r < 2; r++)
        {
            for (var c = 0; c < 3; c++) Assert.Equal(matrix[r][c], statistics.StainMatrix[r][c], 5);
        }
        Assert.Equal(2.888928, statistics.MaxConcentrations[0], 5);
        Assert.Equal(1.096346, statistics.MaxConcentrations[1], 5);
    }

    [Fact]
    public void StainMatrix_PutsHaematoxylinFirst()
    {
        var matrix = Macenko.StainMatrix(StainTestImages.Source);

        Assert.True(matrix[0, 0] > matrix[1, 0], "haematoxylin absorbs more red than eosin");
        for (var r = 0; r < 2; r++)
        {
            var norm = Math.Sqrt(matrix[r, 0] * matrix[r, 0] + matrix[r, 1] * matrix[r, 1] + matrix[r, 2] * matrix[r, 2]);
            Assert.Equal(1, norm, 9);
        }
    }

    [Fact]
    public void Transform_ImageFittedOnItself_IsNearlyIdentity()
    {
        var source = StainTestImages.Source;

        var normalised = Macenko.Transform(source, Macenko.Fit(source));

        // Only what lies outside the plane of the two stains is lost.
        var difference = StainTestImages.MeanAbsoluteDifference(normalised, source);
        Assert.True(difference < 0.02, $"mean absolute difference {difference:0.#####}");
    }

    [Fact]
    public void Fit_BlankImage_FailsNamingTheMissingTissue()
    {
        var white = new RgbImage(16, 16, [.. Enumerable.Repeat((byte)255, 16 * 16 * 3)]);

        var error = Assert.Throws<StainException>(() => Macenko.Fit(white));

        Assert.Contains("no tissue", error.Message, StringComparison.Ordinal);
        Assert.Equal(LaminaErrorKind.Validation, error.Kind);
    }
}
