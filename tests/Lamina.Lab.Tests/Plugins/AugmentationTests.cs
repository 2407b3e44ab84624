using Lamina.Lab;
using Lamina.Core;
using Lamina.Core.Inference;
using Lamina.Lab.Plugins;

namespace Lamina.Lab.Tests.Plugins;

public sealed class AugmentationTests
{
    // A 3×3 RGB tile whose every pixel is different, so any two orientations differ.
    private static ImageTensor Numbered() => new(3, 3, 3, [.. Enumerable.Range(0, 27).Select(i => (float)i)]);

    [Fact]
    public void FlipRotate_DrawsEachOfTheEightOrientations_AndMovesPixelsWhole()
    {
        // Given a tile with distinct pixels
        var tile = Numbered();
        var random = new Random(1);

        // When it is augmented many times
        var seen = new HashSet<string>();
        for (var i = 0; i < 200; i++)
        {
            var result = new FlipRotate().Apply(tile, random);
            // Then every result is a rearrangement of whole pixels (RGB triples stay together)
            Assert.Equal(tile.Data.Order(), result.Data.Order());
            for (var p = 0; p < 9; p++) Assert.Equal(result.Data[p * 3] + 1, result.Data[p * 3 + 1]);
            seen.Add(string.Join(",", result.Data));
        }

        // And all eight orientations of the square come up, the original among them
        Assert.Equal(8, seen.Count);
        Assert.Contains(string.Join(",", tile.Data), seen);
    }

    [Fact]
    public void FlipRotate_OnANonSquareTile_SaysWhy()
    {
        var error = Assert.Throws<TrainingException>(() => new FlipRotate().Apply(new ImageTensor(2, 3, 3, new float[18]), new Random(1)));
        Assert.Contains("square", error.Message);
    }

    [Fact]
    public void ColorJitter_StaysInRange_AndTheSameSourceGivesTheSamePixels()
    {
        // Given a tile with values across 0..255
        var tile = new ImageTensor(4, 4, 3, [.. Enumerable.Range(0, 48).Select(i => i * 255f / 47)]);
        var jitter = new ColorJitter(brightness: 0.5, contrast: 0.5);

        // When jittered with two sources of the same seed, and one of another
        var a = jitter.Apply(tile, new Random(3));
        var b = jitter.Apply(tile, new Random(3));
        var c = jitter.Apply(tile, new Random(4));

        // Then the values stay in 0..255, the same seed gives the same pixels and another seed others
        Assert.All(a.Data, v => Assert.InRange(v, 0f, 255f));
        Assert.Equal(a.Data, b.Data);
        Assert.NotEqual(a.Data, c.Data);
    }

    [Fact]
    public void ColorJitter_RefusesAStrengthOfOneOrMore()
    {
        var error = Assert.Throws<TrainingException>(() => new ColorJitter(brightness: 1.0));
        Assert.Contains("brightness must be in [0, 1)", error.Message);
    }
}
