using Lamina.Core.Inference;
using Lamina.Core.Plugins;

namespace NormalizationTest;

public sealed class Normalization(float factor) : IPreprocessing
{
    public float Factor { get; } = factor;

    public ImageTensor Apply(ImageTensor image) => image.Map(v => v / Factor);
}
