using Lamina.Core;
using Lamina.Core.Plugins;

namespace Lamina.Lab.Plugins;

/// <summary>
/// A single linear layer from the embedding to the logits (a linear probe). <c>backbone</c> is <c>resnet18</c> or an ONNX
/// file (relative to the experiment file); <c>backbone_output</c> chooses among a graph's outputs, <c>backbone_tile_size</c>
/// sizes a graph with dynamic height and width (docs/backbones.md).
/// </summary>
public sealed class LinearHead(string backbone = "resnet18", string? backboneOutput = null, int? backboneTileSize = null) : IArchitecture
{
    public string Backbone => backbone;

    public string? BackboneOutput => backboneOutput;

    public int? BackboneTileSize => backboneTileSize;

    public IReadOnlyList<LayerSpec> Layers(int inputs, int outputs) => [new LayerSpec.Linear(inputs, outputs)];
}

/// <summary>
/// A multi-layer perceptron head: <c>n_layers</c> linear layers, the hidden ones <c>width</c> wide,
/// each hidden layer followed by ReLU and (when <c>dropout</c> &gt; 0) dropout. The backbone is declared as for
/// <see cref="LinearHead"/>.
/// </summary>
public sealed class MlpHead(string backbone = "resnet18", int nLayers = 2, int width = 256, double dropout = 0.1, string? backboneOutput = null,
    int? backboneTileSize = null) : IArchitecture
{
    public string Backbone => backbone;

    public string? BackboneOutput => backboneOutput;

    public int? BackboneTileSize => backboneTileSize;

    public IReadOnlyList<LayerSpec> Layers(int inputs, int outputs)
    {
        if (nLayers < 1) throw TrainingException.BadParameter("MlpHead", $"n_layers must be at least 1, got {nLayers}");
        if (width < 1) throw TrainingException.BadParameter("MlpHead", $"width must be at least 1, got {width}");
        if (dropout is < 0 or >= 1) throw TrainingException.BadParameter("MlpHead", $"dropout must be in [0, 1), got {dropout}");
        var layers = new List<LayerSpec>();
        var current = inputs;
        for (var i = 0; i < nLayers - 1; i++)
        {
            layers.Add(new LayerSpec.Linear(current, width));
            layers.Add(new LayerSpec.Relu());
            if (dropout > 0) layers.Add(new LayerSpec.Dropout(dropout));
            current = width;
        }
        layers.Add(new LayerSpec.Linear(current, outputs));
        return layers;
    }
}
