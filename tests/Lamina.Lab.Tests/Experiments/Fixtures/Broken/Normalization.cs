using Lamina.Core.Inference;
using Lamina.Core.Plugins;

namespace Broken;

public sealed class Normalization(float factor) : IPreprocessing
{
    public ImageTensor Apply(ImageTensor image) => image.Map(v => v / factr);
}
