using System.Globalization;
using Lamina.Core.Plugins;

namespace Lamina.Core.Inference;

/// <summary>
/// Per-channel normalisation as foundation models are trained with it: each value is divided by <c>max_value</c> (tiles
/// reach preprocessing as RGB 0..255) and then becomes <c>(x - mean[c]) / std[c]</c>. Give <c>mean</c> and <c>std</c>
/// (one per channel, on the 0..1 scale), or <c>preset: imagenet</c> (mean 0.485, 0.456, 0.406; std 0.229, 0.224, 0.225).
/// </summary>
public sealed class NormalizeMeanStd : IPreprocessing
{
    /// <summary>ImageNet's channel means on 0..1, as torchvision and timm give them.</summary>
    public static IReadOnlyList<double> ImageNetMean { get; } = [0.485, 0.456, 0.406];

    /// <summary>ImageNet's channel standard deviations on 0..1.</summary>
    public static IReadOnlyList<double> ImageNetStd { get; } = [0.229, 0.224, 0.225];

    private readonly float[] _offset;
    private readonly float[] _factor;

    /// <param name="mean">Per-channel means on the 0..1 scale; with <paramref name="std"/>, instead of a preset.</param>
    /// <param name="std">Per-channel standard deviations on the 0..1 scale, all positive.</param>
    /// <param name="preset"><c>imagenet</c>, instead of <paramref name="mean"/> and <paramref name="std"/>.</param>
    /// <param name="maxValue">
    /// The value of a full-intensity channel as tiles reach this step: 255 (the default) for tiles straight from the slide,
    /// 1 after a step that divided by 255 already.
    /// </param>
    public NormalizeMeanStd(double[]? mean = null, double[]? std = null, string? preset = null, double maxValue = 255)
    {
        if (preset is not null)
        {
            if (mean is not null || std is not null)
            {
                throw new ArgumentException($"give either preset '{preset}' or mean and std, not both");
            }
            if (!string.Equals(preset, "imagenet", StringComparison.OrdinalIgnoreCase))
            {
                throw new ArgumentException($"unknown preset '{preset}'; the presets are: imagenet");
            }
            (mean, std) = ([.. ImageNetMean], [.. ImageNetStd]);
        }
        if (mean is null || std is null)
        {
            throw new ArgumentException("give mean and std (one value per channel, on the 0..1 scale), or preset: imagenet");
        }
        if (mean.Length == 0 || mean.Length != std.Length)
        {
            throw new ArgumentException($"mean has {mean.Length} values and std {std.Length}: give one of each per channel");
        }
        if (std.Any(s => !(s > 0) || !double.IsFinite(s)))
        {
            throw new ArgumentException($"every std must be a positive number, got [{string.Join(", ", std.Select(s => s.ToString(CultureInfo.InvariantCulture)))}]");
        }
        if (mean.Any(m => !double.IsFinite(m)))
        {
            throw new ArgumentException("every mean must be a finite number");
        }
        if (!(maxValue > 0) || !double.IsFinite(maxValue))
        {
            throw new ArgumentException($"max_value must be a positive number, got {maxValue.ToString(CultureInfo.InvariantCulture)}");
        }
        Mean = mean;
        Std = std;
        MaxValue = maxValue;
        // (x / max - mean) / std, as one multiply-add per value: x * factor - offset.
        _factor = [.. std.Select(s => (float)(1 / (maxValue * s)))];
        _offset = [.. mean.Zip(std, (m, s) => (float)(m / s))];
    }

    /// <summary>The per-channel means, on the 0..1 scale.</summary>
    public IReadOnlyList<double> Mean { get; }

    /// <summary>The per-channel standard deviations, on the 0..1 scale.</summary>
    public IReadOnlyList<double> Std { get; }

    /// <summary>The value of a full-intensity channel as tiles reach this step.</summary>
    public double MaxValue { get; }

    public ImageTensor Apply(ImageTensor image)
    {
        ArgumentNullException.ThrowIfNull(image);
        var channels = image.Channels;
        if (channels != _factor.Length)
        {
            throw new ArgumentException($"NormalizeMeanStd has {_factor.Length} mean/std values, but the tile has {channels} channels");
        }
        var source = image.Data;
        var data = new float[source.Length];
        for (var i = 0; i < source.Length; i += channels)
        {
            for (var c = 0; c < channels; c++)
            {
                data[i + c] = source[i + c] * _factor[c] - _offset[c];
            }
        }
        return new ImageTensor(image.Height, image.Width, channels, data);
    }
}
