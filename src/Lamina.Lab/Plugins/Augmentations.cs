using Lamina.Core;
using Lamina.Core.Inference;
using Lamina.Core.Plugins;

namespace Lamina.Lab.Plugins;

/// <summary>
/// One of the eight orientations of a square tile (rotations by a multiple of 90° and their mirror images), drawn
/// uniformly: tissue under a microscope has no up or left, so a model should not learn one.
/// </summary>
public sealed class FlipRotate : IAugmentation
{
    public ImageTensor Apply(ImageTensor image, Random random)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(random);
        if (image.Height != image.Width)
        {
            throw TrainingException.Mismatch($"FlipRotate: tiles must be square, got {image.Height}x{image.Width}");
        }
        var orientation = random.Next(8);
        var (size, channels) = (image.Height, image.Channels);
        var source = image.Data;
        var data = new float[source.Length];
        for (var y = 0; y < size; y++)
        {
            for (var x = 0; x < size; x++)
            {
                // Where output pixel (y, x) comes from: transpose for the odd orientations, then mirror rows and/or columns.
                var (sy, sx) = (orientation & 1) == 0 ? (y, x) : (x, y);
                if ((orientation & 2) != 0) sy = size - 1 - sy;
                if ((orientation & 4) != 0) sx = size - 1 - sx;
                Array.Copy(source, (sy * size + sx) * channels, data, (y * size + x) * channels, channels);
            }
        }
        return new ImageTensor(size, size, channels, data);
    }
}

/// <summary>
/// Brightness and contrast jitter: every value v (0..255) becomes (v − mean) · c + mean · b, clamped to 0..255, with b
/// and c drawn uniformly from 1 ± <c>brightness</c> and 1 ± <c>contrast</c> — the variation between stainings and
/// scanners that a model should shrug off.
/// </summary>
public sealed class ColorJitter : IAugmentation
{
    private readonly double _brightness;
    private readonly double _contrast;

    public ColorJitter(double brightness = 0.1, double contrast = 0.1)
    {
        if (brightness is < 0 or >= 1) throw TrainingException.BadParameter("ColorJitter", $"brightness must be in [0, 1), got {brightness}");
        if (contrast is < 0 or >= 1) throw TrainingException.BadParameter("ColorJitter", $"contrast must be in [0, 1), got {contrast}");
        (_brightness, _contrast) = (brightness, contrast);
    }

    public ImageTensor Apply(ImageTensor image, Random random)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(random);
        var b = (float)(1 + (random.NextDouble() * 2 - 1) * _brightness);
        var c = (float)(1 + (random.NextDouble() * 2 - 1) * _contrast);
        var sum = 0.0;
        foreach (var v in image.Data) sum += v;
        var mean = (float)(sum / image.Data.Length);
        return image.Map(v => Math.Clamp((v - mean) * c + mean * b, 0f, 255f));
    }
}
