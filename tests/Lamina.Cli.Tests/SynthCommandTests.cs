using System.Globalization;
using System.Text.Json;

namespace Lamina.Cli.Tests;

/// <summary><c>lamina synth</c> as a user runs it: a real process writing real slides.</summary>
public sealed class SynthCommandTests : IDisposable
{
    private readonly TemporaryDirectory _temp = new();
    private readonly LaminaProcess _lamina;

    public SynthCommandTests() => _lamina = new LaminaProcess(_temp.Combine("home"));

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task Synth_WithJson_WritesEachSlideAndItsGroundTruth_AndListsThem()
    {
        var result = await _lamina.RunAsync(_temp.Path, "synth", "--out", "out", "--slides", "2", "--size", "1536x1024", "--seed", "40", "--json");

        Assert.True(result.ExitCode == 0, result.ToString());
        var slides = JsonDocument.Parse(result.Stdout).RootElement.GetProperty("slides").EnumerateArray().ToList();
        Assert.Equal(2, slides.Count);
        for (var i = 0; i < 2; i++)
        {
            Assert.Equal($"slide-00{i}.tif", slides[i].GetProperty("slide").GetString());
            Assert.Equal($"slide-00{i}.geojson", slides[i].GetProperty("ground_truth").GetString());
            Assert.Equal(40 + i, slides[i].GetProperty("seed").GetInt32());
            Assert.Equal(1536, slides[i].GetProperty("width").GetInt32());
            Assert.True(slides[i].GetProperty("carcinoma_mm2").GetDouble() > 0);
            Assert.True(slides[i].GetProperty("mitoses").GetInt32() >= 1);
            Assert.True(new FileInfo(_temp.Combine("out", $"slide-00{i}.tif")).Length > 10_000);
            Assert.True(File.Exists(_temp.Combine("out", $"slide-00{i}.geojson")));
        }
        Assert.NotEqual(File.ReadAllBytes(_temp.Combine("out", "slide-000.tif")), File.ReadAllBytes(_temp.Combine("out", "slide-001.tif")));
    }

    [Fact]
    public async Task Synth_WithoutJson_PrintsASummaryTable()
    {
        var result = await _lamina.RunAsync(_temp.Path, "synth", "--out", "out", "--size", "600x600", "--seed", "3", "--mpp", "0.5");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("slide-000.tif", result.Stdout);
        Assert.Contains("600 x 600", result.Stdout);
        Assert.Contains("mitoses", result.Stdout);
    }

    [Theory]
    [InlineData("--size", "1024", "--size: expected WIDTHxHEIGHT")]
    [InlineData("--size", "axb", "--size: expected WIDTHxHEIGHT")]
    [InlineData("--size", "-5x100", "--size: expected WIDTHxHEIGHT")]
    [InlineData("--size", "100x100", "--size: each side must be at least 512")]
    [InlineData("--slides", "0", "--slides: at least 1")]
    [InlineData("--mpp", "0", "--mpp: microns per pixel")]
    public async Task Synth_WithBadArguments_FailsWithOneClearLine(string option, string value, string expected)
    {
        var result = await _lamina.RunAsync(_temp.Path, "synth", "--out", "out", option, value);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains(expected, result.Stderr);
        Assert.Single(result.Stderr.Trim().Split('\n'));
        Assert.False(File.Exists(_temp.Combine("out", "slide-000.tif")));
    }

    [Fact]
    public async Task Synth_WithAStain_WritesOtherColours_SaysSo_AndTheSameTwice()
    {
        var plain = await _lamina.RunAsync(_temp.Path, "synth", "--out", "plain", "--size", "768x768", "--seed", "3");
        var pink = await _lamina.RunAsync(_temp.Path, "synth", "--out", "pink", "--size", "768x768", "--seed", "3", "--stain", "pink:1.5", "--scanner-gamma", "0.9");
        var again = await _lamina.RunAsync(_temp.Path, "synth", "--out", "again", "--size", "768x768", "--seed", "3", "--stain", "pink:1.5", "--scanner-gamma", "0.9");

        Assert.True(pink.ExitCode == 0, pink.ToString());
        Assert.True(plain.ExitCode == 0 && again.ExitCode == 0, plain.ToString() + again);
        Assert.Contains("slide-000: stained and scanned as haematoxylin", pink.Stdout);
        Assert.Contains("gamma 0.9", pink.Stdout);
        Assert.NotEqual(File.ReadAllBytes(_temp.Combine("plain", "slide-000.tif")), File.ReadAllBytes(_temp.Combine("pink", "slide-000.tif")));
        Assert.Equal(File.ReadAllBytes(_temp.Combine("again", "slide-000.tif")), File.ReadAllBytes(_temp.Combine("pink", "slide-000.tif")));
        Assert.Equal(File.ReadAllText(_temp.Combine("plain", "slide-000.geojson")), File.ReadAllText(_temp.Combine("pink", "slide-000.geojson")));
    }

    [Theory]
    [InlineData("--stain", "purple", "no stain variation named 'purple'")]
    [InlineData("--eosin", "300,1,1", "--eosin must be three numbers R,G,B from 0 to 255")]
    [InlineData("--scanner-gamma", "9", "the scanner gamma must be between 0.2 and 5")]
    public async Task Synth_WithABadStain_FailsWithOneClearLine(string option, string value, string expected)
    {
        var result = await _lamina.RunAsync(_temp.Path, "synth", "--out", "out", option, value);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains(expected, result.Stderr);
        Assert.False(File.Exists(_temp.Combine("out", "slide-000.tif")));
    }

    [Fact]
    public async Task Synth_WithoutOut_SaysItIsRequired()
    {
        var result = await _lamina.RunAsync(_temp.Path, "synth", "--size", "1024x1024");

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("--out", result.Stderr);
    }

    [Fact]
    public async Task Synth_OfATenThousandPixelSlide_KeepsPeakMemoryBelowHalfTheRawImage()
    {
        const int Size = 10240;
        using var process = _lamina.Start(_temp.Path, "synth", "--out", "big", "--size", $"{Size}x{Size}", "--seed", "2", "--json");
        // VmHWM only grows; the last reading before the process ends is its peak.
        var peakKb = 0L;
        var waiting = LaminaProcess.WaitAsync(process);
        while (!waiting.IsCompleted)
        {
            peakKb = Math.Max(peakKb, HighWaterMarkKb(process.Id));
            await Task.WhenAny(waiting, Task.Delay(50));
        }
        var result = await waiting;

        Assert.True(result.ExitCode == 0, result.ToString());
        var rawMb = (double)Size * Size * 3 / (1 << 20);
        var peakMb = peakKb / 1024.0;
        Assert.True(peakKb > 0, "no memory reading");
        Assert.True(peakMb < rawMb / 2, $"peak {peakMb:F0} MB for a {rawMb:F0} MB image");
    }

    private static long HighWaterMarkKb(int pid)
    {
        try
        {
            var line = File.ReadLines($"/proc/{pid}/status").FirstOrDefault(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
            return line is null ? 0 : long.Parse(line["VmHWM:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
        }
        catch (IOException)
        {
            return 0;
        }
    }
}
