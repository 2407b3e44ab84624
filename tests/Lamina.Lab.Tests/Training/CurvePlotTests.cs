using Lamina.Lab.Plugins;
using Lamina.Lab.Training;

namespace Lamina.Lab.Tests.Training;

public sealed class CurvePlotTests
{
    private static readonly byte[] PngSignature = [137, 80, 78, 71, 13, 10, 26, 10];

    private static Dictionary<string, IReadOnlyList<(double X, double Y)>> Curves() => new()
    {
        ["train/loss"] = [.. Enumerable.Range(0, 20).Select(e => ((double)e, 1.0 / (e + 1)))],
        ["val/loss"] = [.. Enumerable.Range(0, 20).Select(e => ((double)e, 1.2 / (e + 1) + 0.05))],
    };

    [Fact]
    public void LinePng_IsAPngOfTheRequestedSize_AndDeterministic()
    {
        var png = CurvePlot.LinePng("loss", Curves(), 640, 400);
        Assert.Equal(PngSignature, png[..8]);
        using var image = NetVips.Image.NewFromBuffer(png);
        Assert.Equal((640, 400, 3), (image.Width, image.Height, image.Bands));
        Assert.Equal(png, CurvePlot.LinePng("loss", Curves(), 640, 400));
        if (Environment.GetEnvironmentVariable("LAMINA_PLOT_OUT") is { } dir) File.WriteAllBytes(Path.Combine(dir, "loss.png"), png);
    }

    [Fact]
    public void LinePng_DrawsEachSeriesInItsOwnColour()
    {
        var png = CurvePlot.LinePng("loss", Curves());
        using var image = NetVips.Image.NewFromBuffer(png);
        var pixels = image.WriteToMemory<byte>();
        var colours = new HashSet<(byte, byte, byte)>();
        for (var k = 0; k < pixels.Length; k += 3) colours.Add((pixels[k], pixels[k + 1], pixels[k + 2]));
        Assert.Contains(((byte)31, (byte)119, (byte)180), colours);
        Assert.Contains(((byte)255, (byte)127, (byte)14), colours);
    }

    [Fact]
    public void RocPng_PlotsACurve()
    {
        float[] scores = [0.9f, 0.8f, 0.3f, 0.6f, 0.1f, 0.2f, 0.4f, 0.1f];
        bool[] positive = [true, true, true, false, false, false, false, false];
        var png = CurvePlot.RocPng("roc", new Dictionary<string, IReadOnlyList<(double X, double Y)>> { ["auc 0.87"] = Auroc.Curve(scores, positive) });
        Assert.Equal(PngSignature, png[..8]);
        if (Environment.GetEnvironmentVariable("LAMINA_PLOT_OUT") is { } dir) File.WriteAllBytes(Path.Combine(dir, "roc.png"), png);
    }
}
