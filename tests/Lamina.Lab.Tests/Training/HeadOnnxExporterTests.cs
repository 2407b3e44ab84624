using Lamina.Core.Plugins;
using Lamina.Lab.Plugins;
using Lamina.Lab.Training;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Lamina.Lab.Tests.Training;

public sealed class HeadOnnxExporterTests
{
    public static TheoryData<string> Heads() => ["linear", "mlp3", "mlp3-one-output"];

    private static HeadModel Create(string head) => head switch
    {
        "linear" => new HeadModel(new LinearHead().Layers(64, 3), seed: 1),
        "mlp3" => new HeadModel(new MlpHead(nLayers: 3, width: 32, dropout: 0.2).Layers(64, 2), seed: 2),
        _ => new HeadModel(new MlpHead(nLayers: 3, width: 32, dropout: 0.2).Layers(64, 1), seed: 3),
    };

    [Theory]
    [MemberData(nameof(Heads))]
    public void ExportedHead_AgreesWithTheInProcessForwardPass(string head)
    {
        // Given a head with non-zero biases and random embeddings
        var model = Create(head);
        var random = new Random(5);
        foreach (var p in model.Parameters.Where(p => p.Shape.Length == 1))
        {
            for (var k = 0; k < p.Values.Length; k++) p.Values[k] = (float)(random.NextDouble() - 0.5);
        }
        const int rows = 37;
        var inputs = Enumerable.Range(0, rows * model.Inputs).Select(_ => (float)(random.NextDouble() * 4 - 2)).ToArray();
        var expected = new float[rows * model.Outputs];
        model.Forward(inputs, rows, expected, training: false);

        // When the exported graph runs in ONNX Runtime
        using var session = new InferenceSession(HeadOnnxExporter.Export(model, addSoftmax: true));
        using var results = session.Run([NamedOnnxValue.CreateFromTensor("embedding", new DenseTensor<float>(inputs, [rows, model.Inputs]))]);
        var logits = results.Single(r => r.Name == "logits").AsEnumerable<float>().ToArray();
        var probabilities = results.Single(r => r.Name == "probabilities").AsEnumerable<float>().ToArray();

        // Then logits and probabilities agree within 1e-5
        Assert.Equal(expected.Length, logits.Length);
        for (var k = 0; k < expected.Length; k++) Assert.True(Math.Abs(expected[k] - logits[k]) <= 1e-5, $"logit {k}: {expected[k]} vs {logits[k]}");
        var expectedProbabilities = Lamina.Core.Inference.Logits.ToProbabilities(expected, model.Outputs);
        for (var k = 0; k < expected.Length; k++) Assert.True(Math.Abs(expectedProbabilities[k] - probabilities[k]) <= 1e-5);
    }

    [Fact]
    public void Export_IsDeterministicAndDeclaresABatchDimension()
    {
        var model = Create("mlp3");
        var bytes = HeadOnnxExporter.Export(model);
        Assert.Equal(bytes, HeadOnnxExporter.Export(Create("mlp3")));
        var proto = Onnx.ModelProto.Parser.ParseFrom(bytes);
        Assert.Equal(7, proto.IrVersion);
        Assert.Equal(13, proto.OpsetImport.Single().Version);
        Assert.Equal("N", proto.Graph.Input.Single().Type.TensorType.Shape.Dim[0].DimParam);
        Assert.Equal(["Gemm", "Relu", "Gemm", "Relu", "Gemm"], proto.Graph.Node.Select(n => n.OpType));
        Assert.Equal("logits", proto.Graph.Output.Single().Name);
    }
}
