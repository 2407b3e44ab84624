using Google.Protobuf;
using Lamina.Core;
using Onnx;

namespace Lamina.Lab.Training;

/// <summary>
/// Exports a trained head as an ONNX graph (opset 13, IR 7): one Gemm per Linear layer with its weights as initialisers,
/// Relu, no Dropout (inference), and optionally a Softmax or Sigmoid output. The same weights always give the same bytes.
/// </summary>
public static class HeadOnnxExporter
{
    private const int FloatType = 1; // TensorProto.DataType.FLOAT

    /// <summary>Serialises <paramref name="model"/>; with <paramref name="addSoftmax"/> a second output <c>probabilities</c> follows the logits.</summary>
    public static byte[] Export(HeadModel model, string inputName = "embedding", string outputName = "logits", bool addSoftmax = false)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (string.IsNullOrWhiteSpace(inputName) || string.IsNullOrWhiteSpace(outputName) || inputName == outputName)
        {
            throw TrainingException.Mismatch($"ONNX export needs distinct, non-empty input and output names, got '{inputName}' and '{outputName}'");
        }
        var graph = new GraphProto { Name = "lamina_head" };
        graph.Input.Add(Value(inputName, model.Inputs));

        var current = inputName;
        var lastCompute = model.Layers.Select((l, i) => (l, i)).Last(x => x.l.Kind != HeadModel.LayerKind.Dropout).i;
        var linearIndex = 0;
        for (var i = 0; i < model.Layers.Count; i++)
        {
            var layer = model.Layers[i];
            var output = i == lastCompute ? outputName : $"layer{i}";
            switch (layer.Kind)
            {
                case HeadModel.LayerKind.Linear:
                    var weight = model.Parameters[layer.ParameterIndex];
                    var bias = model.Parameters[layer.ParameterIndex + 1];
                    graph.Initializer.Add(Tensor(weight.Name, weight.Shape, weight.Values));
                    graph.Initializer.Add(Tensor(bias.Name, bias.Shape, bias.Values));
                    var gemm = Node("Gemm", $"gemm{linearIndex}", [current, weight.Name, bias.Name], output);
                    gemm.Attribute.Add(new AttributeProto { Name = "transB", Type = AttributeProto.Types.AttributeType.Int, I = 1 });
                    graph.Node.Add(gemm);
                    linearIndex++;
                    break;
                case HeadModel.LayerKind.Relu:
                    graph.Node.Add(Node("Relu", $"relu{i}", [current], output));
                    break;
                case HeadModel.LayerKind.Dropout:
                    continue; // identity at inference
            }
            current = output;
        }
        graph.Output.Add(Value(outputName, model.Outputs));
        if (addSoftmax)
        {
            const string probabilities = "probabilities";
            if (outputName == probabilities || inputName == probabilities)
            {
                throw TrainingException.Mismatch("with addSoftmax the name 'probabilities' is taken by the extra output");
            }
            var node = model.Outputs == 1
                ? Node("Sigmoid", "sigmoid", [outputName], probabilities)
                : Node("Softmax", "softmax", [outputName], probabilities);
            if (model.Outputs > 1)
            {
                node.Attribute.Add(new AttributeProto { Name = "axis", Type = AttributeProto.Types.AttributeType.Int, I = 1 });
            }
            graph.Node.Add(node);
            graph.Output.Add(Value(probabilities, model.Outputs));
        }

        var modelProto = new ModelProto
        {
            IrVersion = 7,
            ProducerName = "lamina",
            ProducerVersion = "1",
            Graph = graph,
        };
        modelProto.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 13 });
        return modelProto.ToByteArray();
    }

    private static NodeProto Node(string op, string name, string[] inputs, string output)
    {
        var node = new NodeProto { OpType = op, Name = name };
        node.Input.AddRange(inputs);
        node.Output.Add(output);
        return node;
    }

    private static ValueInfoProto Value(string name, int width)
    {
        var shape = new TensorShapeProto();
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimParam = "N" });
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = width });
        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = FloatType, Shape = shape } },
        };
    }

    private static TensorProto Tensor(string name, int[] shape, float[] values)
    {
        var tensor = new TensorProto { Name = name, DataType = FloatType };
        tensor.Dims.AddRange(shape.Select(d => (long)d));
        var bytes = new byte[values.Length * sizeof(float)];
        for (var k = 0; k < values.Length; k++)
        {
            System.Buffers.Binary.BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(k * sizeof(float)), values[k]);
        }
        tensor.RawData = ByteString.CopyFrom(bytes);
        return tensor;
    }
}
