using Lamina.Lab;
using Google.Protobuf;
using Lamina.Core;
using Lamina.Lab.Models;
using Lamina.Tracking;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Onnx;

namespace Lamina.Lab.Tests.Models;

public sealed class ModelImporterTests : IAsyncLifetime
{
    private readonly TemporaryDirectory _temp = new();
    private SqliteTrackingStore? _store;
    private FileBlobStore? _blobs;

    public async Task InitializeAsync()
    {
        _store = await SqliteTrackingStore.OpenAsync(_temp.Combine("tracking.db"), TimeProvider.System, CancellationToken.None);
        _blobs = new FileBlobStore(_temp.Combine("blobs"));
    }

    public async Task DisposeAsync()
    {
        await _store!.DisposeAsync();
        _temp.Dispose();
    }

    /// <summary>A tiny image classifier: N×3×8×8 → global average → Gemm to two logits.</summary>
    internal static byte[] TinyClassifier(int classes = 2, bool anySize = false)
    {
        static ValueInfoProto Value(string name, params object[] dims)
        {
            var shape = new TensorShapeProto();
            foreach (var dim in dims)
            {
                shape.Dim.Add(dim is string p ? new TensorShapeProto.Types.Dimension { DimParam = p } : new TensorShapeProto.Types.Dimension { DimValue = (int)dim });
            }
            return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = shape } } };
        }
        var weights = new TensorProto { Name = "W", DataType = (int)TensorProto.Types.DataType.Float };
        weights.Dims.AddRange([classes, 3]);
        weights.FloatData.AddRange(Enumerable.Range(0, classes * 3).Select(i => (float)(i % 3 == i / 3 ? 1 : -0.5)));
        var bias = new TensorProto { Name = "B", DataType = (int)TensorProto.Types.DataType.Float };
        bias.Dims.Add(classes);
        bias.FloatData.AddRange(Enumerable.Repeat(0f, classes));
        var graph = new GraphProto { Name = "tiny" };
        graph.Input.Add(anySize ? Value("image", "N", 3, "H", "W") : Value("image", "N", 3, 8, 8));
        graph.Output.Add(Value("logits", "N", classes));
        graph.Initializer.AddRange([weights, bias]);
        graph.Node.Add(new NodeProto { OpType = "GlobalAveragePool", Input = { "image" }, Output = { "pooled" } });
        graph.Node.Add(new NodeProto { OpType = "Flatten", Input = { "pooled" }, Output = { "flat" }, Attribute = { new AttributeProto { Name = "axis", Type = AttributeProto.Types.AttributeType.Int, I = 1 } } });
        graph.Node.Add(new NodeProto { OpType = "Gemm", Input = { "flat", "W", "B" }, Output = { "logits" }, Attribute = { new AttributeProto { Name = "transB", Type = AttributeProto.Types.AttributeType.Int, I = 1 } } });
        var model = new ModelProto { IrVersion = 7, ProducerName = "lamina-tests", Graph = graph };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 13 });
        return model.ToByteArray();
    }

    [Fact]
    public void TinyClassifier_RunsInOnnxRuntime()
    {
        using var session = new InferenceSession(TinyClassifier());
        var input = new DenseTensor<float>(Enumerable.Repeat(1f, 2 * 3 * 8 * 8).ToArray(), [2, 3, 8, 8]);
        using var results = session.Run([NamedOnnxValue.CreateFromTensor("image", input)]);
        Assert.Equal([2, 2], results.Single().AsTensor<float>().Dimensions.ToArray());
    }

    [Fact]
    public async Task Import_AnOnnxClassifier_MakesAPackageKeptWithAnImportRun()
    {
        var path = _temp.Combine("classifier.onnx");
        await File.WriteAllBytesAsync(path, TinyClassifier());

        var model = await new ModelImporter(_store!, _blobs!).ImportAsync(path, new ImportOptions("tiny", ["other", "tumour"], null, 0.5), CancellationToken.None);

        Assert.Equal(8, model.Card.Input.TileSize);
        Assert.Equal("imported", model.Card.Kind);
        Assert.Null(model.Card.Backbone);
        var listed = Assert.Single(await ModelPackages.ListAsync(_store!, _blobs!, CancellationToken.None));
        Assert.Equal(model.Record.CardDigest, listed.Record.CardDigest);
        var run = await _store!.GetRunDetailsAsync(model.Record.RunId, CancellationToken.None);
        Assert.Equal(RunStatus.Completed, run.Run.Status);
        Assert.Equal(["model/tiny/model.json", "model/tiny/network.onnx"], run.Artifacts.Select(a => a.Name));

        var resolved = await ModelPackages.ResolveAsync(_store!, _blobs!, model.Record.RunId.ToString()[..8], CancellationToken.None);
        var exported = _temp.Combine("exported");
        await ModelPackages.WriteToAsync(_blobs!, resolved, exported, CancellationToken.None);
        Assert.Equal(await File.ReadAllBytesAsync(path), await File.ReadAllBytesAsync(Path.Combine(exported, "network.onnx")));
        var card = await File.ReadAllBytesAsync(Path.Combine(exported, "model.json"));
        Assert.Equal(model.Card.ToJson(), card);
        Assert.Equal(model.Card.ToJson(), Lamina.Core.Inference.ModelCard.Parse(card, "exported").ToJson());
    }

    [Fact]
    public async Task Import_WithTheWrongNumberOfClasses_IsRefusedAndStoresNothing()
    {
        var path = _temp.Combine("classifier.onnx");
        await File.WriteAllBytesAsync(path, TinyClassifier(classes: 2));

        var error = await Assert.ThrowsAsync<LabException>(() =>
            new ModelImporter(_store!, _blobs!).ImportAsync(path, new ImportOptions("tiny", ["a", "b", "c"], null, null), CancellationToken.None));

        Assert.Contains("3 classes", error.Message);
        Assert.Empty(await _store!.ListRunsAsync(new RunQuery(), CancellationToken.None));
    }

    [Fact]
    public async Task Import_OfAFileThatIsNotOnnx_IsAClearError()
    {
        var path = _temp.Combine("notes.onnx");
        await File.WriteAllTextAsync(path, "not a model");

        var error = await Assert.ThrowsAsync<LabException>(() =>
            new ModelImporter(_store!, _blobs!).ImportAsync(path, new ImportOptions("x", ["a"], null, null), CancellationToken.None));

        Assert.Contains("notes.onnx", error.Message);
    }
}
