using Lamina.Lab;
using Lamina.Core.Inference;
using Lamina.Lab.Plugins;

namespace Lamina.Lab.Tests.Plugins;

public sealed class HedJitterTests
{
    // An H&E-like tile: purple nuclei, pink stroma, white background and the darkest and brightest values.
    private static ImageTensor Tile()
    {
        float[][] colours = [[120, 60, 160], [230, 170, 210], [255, 255, 255], [0, 0, 0], [90, 40, 130], [200, 120, 180]];
        var data = new float[8 * 8 * 3];
        for (var p = 0; p < 64; p++)
        {
            Array.Copy(colours[p % colours.Length], 0, data, p * 3, 3);
        }
        return new ImageTensor(8, 8, 3, data);
    }

    [Fact]
    public void SigmaZero_GivesTheTileBackWithinRounding()
    {
        var tile = Tile();

        var result = new HedJitter(sigma: 0).Apply(tile, new Random(3));

        for (var i = 0; i < tile.Data.Length; i++) Assert.InRange(result.Data[i] - tile.Data[i], -0.5f, 0.5f);
    }

    [Fact]
    public void SameSeed_GivesTheSamePixels_AnotherSeedOthers()
    {
        var tile = Tile();
        var jitter = new HedJitter(sigma: 0.1);

        var first = jitter.Apply(tile, new Random(42));
        var again = jitter.Apply(tile, new Random(42));
        var other = jitter.Apply(tile, new Random(43));

        Assert.Equal(first.Data, again.Data);
        Assert.NotEqual(first.Data, other.Data);
        Assert.NotEqual(tile.Data, first.Data);
    }

    [Fact]
    public void Output_StaysInRange_AndMovesMoreWithALargerSigma()
    {
        var tile = Tile();
        double MeanChange(double sigma)
        {
            var total = 0.0;
            for (var seed = 0; seed < 20; seed++)
            {
                var result = new HedJitter(sigma).Apply(tile, new Random(seed));
                Assert.All(result.Data, v => Assert.InRange(v, 0f, 255f));
                total += result.Data.Select((v, i) => Math.Abs(v - tile.Data[i])).Average();
            }
            return total / 20;
        }

        var light = MeanChange(0.02);
        var strong = MeanChange(0.2);

        Assert.True(light > 0.1, $"light jitter changed {light:0.###} on average");
        Assert.True(strong > 3 * light, $"strong {strong:0.###}, light {light:0.###}");
    }

    [Fact]
    public void Perturb_MatchesScikitImagesHedConversion()
    {
        var tile = new ImageTensor(1, 3, 3, [120, 60, 160, 230, 170, 210, 255, 255, 255]);

        var result = HedJitter.Perturb(tile, [1.1, 0.9, 1.0], [0.02, -0.01, 0.0]);

        // NumPy: s = (log(max(rgb/255, 1e-6)) / log(1e-6)) @ inv(rgb_from_hed); s·α + β; clip(exp(-(s·-log(1e-6)) @ rgb_from_hed), 0, 1)·255.
        float[] expected = [95.0679f, 56.2668f, 146.5451f, 193.7805f, 164.2949f, 197.0801f, 215.1494f, 240.9574f, 238.9682f];
        for (var i = 0; i < expected.Length; i++) Assert.Equal(expected[i], result.Data[i], 0.001f);
    }

    [Fact]
    public void SigmaOutOfRange_SaysWhy()
    {
        var error = Assert.Throws<TrainingException>(() => new HedJitter(sigma: 1.5));

        Assert.Contains("sigma", error.Message, StringComparison.Ordinal);
    }
}
