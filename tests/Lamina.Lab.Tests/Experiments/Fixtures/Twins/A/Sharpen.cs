using Lamina.Core.Inference;
using Lamina.Core.Plugins;

namespace Twins.A;

public sealed class Sharpen : IPreprocessing
{
    public ImageTensor Apply(ImageTensor image) => image;
}
