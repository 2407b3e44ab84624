using System.Text.Json;
using Google.Protobuf;
using Lamina.Core.Inference;
using Lamina.Tracking;
using Onnx;

namespace Lamina.Cli.Tests;

/// <summary>Issue 11: the production service analyses with Core alone, so <c>lamina analyze</c> of a bundle must too.</summary>
public sealed class AnalyzeBundleTests : IDisposable
{
    private readonly TemporaryDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task Analyze_ABundle_LoadsNoLabTrackingOrShipAssembly_WhileARunIdAnalysisDoes()
    {
        // Given a published model (a small whole network that runs), resolved and bundled, and a synthetic slide
        await Hostile.HostileTemplate.BuildAsync(_temp.Path, slideSize: 1536);
        var home = new LaminaHome(_temp.Combine("home"));
        var work = _temp.Combine("work");

        // When the bundle is analysed on a machine with an empty Lamina home, the loaded assemblies traced
        var customer = new LaminaProcess(_temp.Combine("empty-home")) { Environment = { ["LAMINA_TRACE_ASSEMBLIES"] = "1" } };
        var bundled = await customer.RunAsync(work, "analyze", "slide.tif", "--config", Path.Combine("bundle", "analysis.yaml"), "--out", "bundled", "--json");

        // Then it analyses, verified as a bundle, with Lamina.Core alone (and the command itself)
        Assert.True(bundled.ExitCode == 0, bundled.ToString());
        var report = JsonDocument.Parse(bundled.Stdout).RootElement;
        Assert.Equal(Path.Combine(work, "bundle"), report.GetProperty("provenance").GetProperty("bundle").GetString());
        Assert.True(report.GetProperty("models").GetProperty("carcinoma_model").GetProperty("tiles_seen").GetInt64() > 0, bundled.Stdout);
        Assert.Equal(["Lamina.Core", "lamina"], Loaded(bundled));

        // And the same analysis by run id (the tracking store's models) does load Tracking and Lab: the trace sees them
        var tracked = new LaminaProcess(home.Root) { Environment = { ["LAMINA_TRACE_ASSEMBLIES"] = "1" } };
        var byRun = await tracked.RunAsync(work, "analyze", "slide.tif", "--config", "analysis.yaml", "--out", "by-run", "--json");
        Assert.True(byRun.ExitCode == 0, byRun.ToString());
        Assert.Superset(new HashSet<string> { "Lamina.Core", "Lamina.Lab", "Lamina.Tracking", "lamina" }, Loaded(byRun).ToHashSet());
    }

    // The Lamina assemblies LAMINA_TRACE_ASSEMBLIES listed, compiled plug-in sources left out.
    private static List<string> Loaded(LaminaResult result)
    {
        const string prefix = "lamina assemblies loaded: ";
        var line = result.Stderr.Split('\n').SingleOrDefault(l => l.StartsWith(prefix, StringComparison.Ordinal));
        Assert.True(line is not null, result.ToString());
        return [.. line[prefix.Length..].Trim().Split(", ").Where(n => !n.StartsWith("Lamina.Plugins.", StringComparison.Ordinal))];
    }

    /// <summary>Stores a run with an imported whole network (by default the tiny classifier) in the home's tracking store.</summary>
    internal static async Task<Guid> StoreModelAsync(LaminaHome home, byte[]? network = null, double micronsPerPixel = 2.0)
    {
        await using var store = await SqliteTrackingStore.OpenAsync(home.DatabasePath, TimeProvider.System, CancellationToken.None);
        var blobs = new FileBlobStore(home.BlobsPath);
        var environment = new EnvironmentInfo("Linux", "x64", "cpu", 2, 1L << 30, null, ".NET 10", "0.1.0", new Dictionary<string, string>());
        var run = (await store.CreateRunAsync(new NewRun("Demo", "import", "import", [], null, "ada", "host", "lamina.yaml", "{}", null, environment, []),
            CancellationToken.None)).Id;
        network ??= TinyClassifier();
        var card = new ModelCard
        {
            Name = "carcinoma_model",
            Kind = "imported",
            Input = new InputSpec(32, micronsPerPixel, null, 0, 3),
            Classes = ["Other", "Carcinoma"],
            Network = ModelPackages.Describe("network.onnx", network),
        };
        await ModelPackages.StoreAsync(store, blobs, run, card, new Dictionary<string, byte[]> { ["network.onnx"] = network }, CancellationToken.None);
        await store.FinishRunAsync(run, RunStatus.Completed, null, CancellationToken.None);
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        return run;
    }

    /// <summary>A whole network over tiles of any size: the mean of each channel (GlobalAveragePool), then a linear layer.</summary>
    internal static byte[] TinyClassifier()
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
        weights.Dims.AddRange([2, 3]);
        weights.FloatData.AddRange([0.01f, -0.01f, 0f, -0.01f, 0.01f, 0f]);
        var bias = new TensorProto { Name = "B", DataType = (int)TensorProto.Types.DataType.Float };
        bias.Dims.Add(2);
        bias.FloatData.AddRange([0f, 0f]);
        var graph = new GraphProto { Name = "tiny" };
        graph.Input.Add(Value("image", "N", 3, "H", "W"));
        graph.Output.Add(Value("logits", "N", 2));
        graph.Initializer.AddRange([weights, bias]);
        graph.Node.Add(new NodeProto { OpType = "GlobalAveragePool", Input = { "image" }, Output = { "pooled" } });
        graph.Node.Add(new NodeProto { OpType = "Flatten", Input = { "pooled" }, Output = { "flat" }, Attribute = { new AttributeProto { Name = "axis", Type = AttributeProto.Types.AttributeType.Int, I = 1 } } });
        graph.Node.Add(new NodeProto { OpType = "Gemm", Input = { "flat", "W", "B" }, Output = { "logits" }, Attribute = { new AttributeProto { Name = "transB", Type = AttributeProto.Types.AttributeType.Int, I = 1 } } });
        var model = new ModelProto { IrVersion = 7, ProducerName = "lamina-tests", Graph = graph };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 13 });
        return model.ToByteArray();
    }
}
