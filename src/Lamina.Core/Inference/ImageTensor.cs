namespace Lamina.Core.Inference;

/// <summary>An image as 32-bit floats in height × width × channels order (RGB tiles are 3 channels).</summary>
public sealed class ImageTensor
{
    public ImageTensor(int height, int width, int channels, float[] data)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(channels);
        if (data.Length != height * width * channels)
        {
            throw new ArgumentException($"expected {height * width * channels} values for {height}x{width}x{channels}, got {data.Length}", nameof(data));
        }
        Height = height;
        Width = width;
        Channels = channels;
        Data = data;
    }

    public int Height { get; }

    public int Width { get; }

    public int Channels { get; }

    /// <summary>The values, row by row, channel values of a pixel side by side.</summary>
    public float[] Data { get; }

    public static ImageTensor FromRgb(int height, int width, ReadOnlySpan<byte> rgb)
    {
        var data = new float[rgb.Length];
        for (var i = 0; i < rgb.Length; i++)
        {
            data[i] = rgb[i];
        }
        return new ImageTensor(height, width, 3, data);
    }

    /// <summary>A new tensor of the same shape with <paramref name="map"/> applied to every value.</summary>
    public ImageTensor Map(Func<float, float> map)
    {
        var data = new float[Data.Length];
        for (var i = 0; i < data.Length; i++)
        {
            data[i] = map(Data[i]);
        }
        return new ImageTensor(Height, Width, Channels, data);
    }
}
