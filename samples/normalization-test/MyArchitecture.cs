using Lamina.Core.Plugins;

/// <summary>A multi-layer perceptron head: n_layers linear layers with ReLU between them, halving the width each time.</summary>
public sealed class MyArchitecture(int nLayers, int width = 256, double dropout = 0.1) : IArchitecture
{
    public IReadOnlyList<LayerSpec> Layers(int inputs, int outputs)
    {
        if (nLayers < 1)
        {
            throw new ArgumentException("n_layers must be at least 1");
        }
        var layers = new List<LayerSpec>();
        var current = inputs;
        var next = width;
        for (var i = 0; i < nLayers - 1; i++)
        {
            layers.Add(new LayerSpec.Linear(current, next));
            layers.Add(new LayerSpec.Relu());
            if (dropout > 0)
            {
                layers.Add(new LayerSpec.Dropout(dropout));
            }
            current = next;
            next = Math.Max(outputs, next / 2);
        }
        layers.Add(new LayerSpec.Linear(current, outputs));
        return layers;
    }
}
