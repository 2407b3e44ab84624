using Lamina.Core.Plugins;

namespace NormalizationTest;

public sealed class MyArchitecture(int nLayers) : IArchitecture
{
    public int NLayers { get; } = nLayers;

    public System.Collections.Generic.IReadOnlyList<LayerSpec> Layers(int inputs, int outputs)
    {
        var layers = new System.Collections.Generic.List<LayerSpec>();
        for (var i = 0; i < NLayers - 1; i++)
        {
            layers.Add(new LayerSpec.Linear(inputs, inputs));
            layers.Add(new LayerSpec.Relu());
        }
        layers.Add(new LayerSpec.Linear(inputs, outputs));
        return layers;
    }
}
