using Lamina.Core.Slides;
using Lamina.Core.Stain;

namespace Lamina.Core.Tests.Stain;

/// <summary>TIAToolbox's stain test images, copied into tests/data/stain (tests/data/README.md).</summary>
internal static class StainTestImages
{
    private static readonly string Root = FindRoot();

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Lamina.slnx"))) return dir.FullName;
        }
        throw new InvalidOperationException($"no Lamina.slnx above {AppContext.BaseDirectory}");
    }

    public static string Folder => Path.Combine(Root, "tests", "data", "stain");

    public static string SourcePath => Path.Combine(Folder, "source_image.png");

    public static string TargetPath => Path.Combine(Folder, "target_image.png");

    public static RgbImage Source => StainImages.Read(SourcePath);

    public static RgbImage Target => StainImages.Read(TargetPath);

    public static RgbImage Read(string name) => StainImages.Read(Path.Combine(Folder, name));

    /// <summary>Mean absolute difference of two images of the same size, on 0..1.</summary>
    public static double MeanAbsoluteDifference(RgbImage a, RgbImage b)
    {
        Assert.Equal((a.Width, a.Height), (b.Width, b.Height));
        double sum = 0;
        for (var i = 0; i < a.Pixels.Length; i++) sum += Math.Abs(a.Pixels[i] - b.Pixels[i]);
        return sum / a.Pixels.Length / 255;
    }
}
