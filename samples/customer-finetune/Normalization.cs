using Lamina.Core.Inference;
using Lamina.Core.Plugins;

/// <summary>Divides every pixel value by a constant, e.g. 255 to bring 8-bit RGB into [0, 1].</summary>
public sealed class Normalization(float factor) : IPreprocessing
{
    public ImageTensor Apply(ImageTensor image)
    {
        if (factor == 0)
        {
            throw new ArgumentException("factor must not be 0");
        }
        return image.Map(v => v / factor);
    }
}
