using Lamina.Core.Inference;
using Lamina.Core.Plugins;

namespace Twins.B;

public sealed class Sharpen : IPreprocessing
{
    public ImageTensor Apply(ImageTensor image) => image;
}
