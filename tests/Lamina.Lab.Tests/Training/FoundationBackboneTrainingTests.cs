using System.Globalization;
using Lamina.Core;
using Lamina.Core.Inference;
using Lamina.Core.Plugins;
using Lamina.Lab.Synthetic;
using Lamina.Lab.Tasks;
using Lamina.Tracking;

namespace Lamina.Lab.Tests.Training;

/// <summary>
/// A head trained on a foundation-model-like backbone declared in the experiment (CLS output by name, dynamic size given
/// a tile size, weights in an external-data file, NormalizeMeanStd), then loaded from its package as production loads it.
/// </summary>
public sealed class FoundationBackboneTrainingTests : IDisposable
{
    private const string Experiment = """
        version: 1
        project:
          project_name: FoundationBackbone
        models:
          vit_probe:
            architecture:
              cls: LinearHead
              params:
                backbone: backbones/uni.onnx
                backbone_output: cls
                backbone_tile_size: 64
            loss:
              cls: CrossEntropy
            metrics:
              - cls: accuracy
            preprocessing:
              cls: NormalizeMeanStd
              params:
                preset: imagenet
        data:
          loaders:
            tiles:
              cls: DiskLoader
              params:
                wsi_path: slides/
                labels_path: slides/
                tile_size: 64
                mpp: 1.0
                label_class: Carcinoma
        tasks:
          train:
            type: training
            params:
              model: vit_probe
              n_epochs: 2
              train_loader: tiles
              validation_split: 0.34
          test:
            type: testing
            params:
              model: models/vit_probe
              loader: tiles
        """;

    private readonly TemporaryDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    private string WriteExperiment()
    {
        var experiment = _temp.Combine("experiment");
        Directory.CreateDirectory(Path.Combine(experiment, "slides"));
        for (var i = 0; i < 3; i++)
        {
            SyntheticSlideGenerator.Generate(new SynthOptions(2048, 2048, Seed: 21 + i), Path.Combine(experiment, "slides", $"s{i}.tif"),
                Path.Combine(experiment, "slides", $"s{i}.geojson"));
        }
        TinyBackbones.Write(Path.Combine(experiment, "backbones"), "uni.onnx", TinyBackbones.Weights(4), dataFile: "uni.onnx.data");
        var path = Path.Combine(experiment, "lamina.yaml");
        File.WriteAllText(path, Experiment);
        return path;
    }

    [Fact]
    public async Task Training_OnADeclaredFoundationBackbone_RecordsItInTheCard_AndThePackageRunsAsProductionLoadsIt()
    {
        // Given the experiment and its stores
        var lamina = WriteExperiment();
        var home = new LaminaHome(_temp.Combine("home")).EnsureCreated();
        await using var store = await SqliteTrackingStore.OpenAsync(home.DatabasePath, TimeProvider.System, CancellationToken.None);
        var blobs = new FileBlobStore(home.BlobsPath);
        var runner = new TaskRunner(store, blobs, home, TimeProvider.System) { Echo = TextWriter.Null };

        // When the head is trained
        var trained = await runner.RunAsync(new RunRequest(lamina, "train", []), CancellationToken.None);

        // Then the card records the backbone's output, tile size and data file, and the run its provider and device
        Assert.True(trained.Status == RunStatus.Completed, trained.Error);
        var model = await ModelPackages.ResolveAsync(store, blobs, trained.RunId.ToString(), CancellationToken.None);
        var reference = model.Card.Backbone!;
        Assert.Equal(("uni", TinyBackbones.EmbeddingSize, TinyBackbones.Cls, (int?)64), (reference.Name, reference.EmbeddingSize, reference.Output, reference.TileSize));
        Assert.Equal(["backbone.onnx", "uni.onnx.data", "head.onnx"], model.Card.Files.Select(f => f.Name));
        var json = System.Text.Json.Nodes.JsonNode.Parse(model.Card.ToJson())!["backbone"]!;
        Assert.Equal(("cls", 64, "uni.onnx.data"), ((string?)json["output"], (int?)json["tile_size"], (string?)json["data_files"]![0]!["name"]));
        Assert.Equal("cpu", model.Card.Training!["execution_provider"]!.GetValue<string>());
        Assert.Equal("cpu", model.Card.Training!["device"]!.GetValue<string>());
        var artifacts = (await store.GetRunDetailsAsync(trained.RunId, CancellationToken.None)).Artifacts.Select(a => a.Name).ToList();
        Assert.Contains("model/vit_probe/uni.onnx.data", artifacts);
        Assert.Contains(ExecutionRecord.ArtifactName, artifacts);
        Assert.Contains("execution provider cpu, device cpu", await store.GetLogAsync(trained.RunId, CancellationToken.None));

        // And the package, written out and opened as production opens it, loads the same backbone and predicts
        var folder = _temp.Combine("package");
        await ModelPackages.WriteToAsync(blobs, model, folder, CancellationToken.None);
        var package = ModelPackage.Open(folder);
        var catalog = PluginCatalog.Create(BuiltInPlugins.Analysis, null, new Core.Config.DiagnosticBag());
        using var backbones = new BackboneCache(intraOpThreads: 1);
        using var packaged = PackagedModel.Load(package,
            [.. package.Card.Preprocessing.Select(p => PluginBinder.Create<IPreprocessing>(p.ToSpec(package.Directory), catalog))], [], backbones, intraOpThreads: 1);
        using var original = Backbone.Load(Path.Combine(Path.GetDirectoryName(lamina)!, "backbones", "uni.onnx"), options: new BackboneOptions(TinyBackbones.Cls, 64));
        Assert.Equal(original.Spec with { Name = "backbone" }, backbones.Get(reference, package).Spec);
        var rgb = new byte[2 * 64 * 64 * 3];
        new Random(3).NextBytes(rgb);
        var predictions = packaged.Predict(rgb, 2);
        Assert.Equal(2, predictions.Length);
        Assert.All(predictions, p => Assert.Equal(1.0, p.Sum(), 4));

        // And a testing run predicts through that package by run id
        var tested = await runner.RunAsync(new RunRequest(lamina, "test", [$"tasks.test.params.model={trained.RunId}"]), CancellationToken.None);
        Assert.True(tested.Status == RunStatus.Completed, tested.Error);
        Assert.Contains("backbone uni and head", await store.GetLogAsync(tested.RunId, CancellationToken.None));
    }

    [Fact]
    public async Task Package_WithItsDataFileAltered_IsRefusedWhenOpened()
    {
        // Given a package whose backbone keeps its weights in a data file
        var lamina = WriteExperiment();
        var home = new LaminaHome(_temp.Combine("home")).EnsureCreated();
        await using var store = await SqliteTrackingStore.OpenAsync(home.DatabasePath, TimeProvider.System, CancellationToken.None);
        var blobs = new FileBlobStore(home.BlobsPath);
        var trained = await new TaskRunner(store, blobs, home, TimeProvider.System) { Echo = TextWriter.Null }
            .RunAsync(new RunRequest(lamina, "train", ["tasks.train.params.n_epochs=1"]), CancellationToken.None);
        Assert.True(trained.Status == RunStatus.Completed, trained.Error);
        var folder = _temp.Combine("package");
        await ModelPackages.WriteToAsync(blobs, await ModelPackages.ResolveAsync(store, blobs, trained.RunId.ToString(), CancellationToken.None), folder,
            CancellationToken.None);

        // When its data file is changed
        var data = Path.Combine(folder, "uni.onnx.data");
        var bytes = File.ReadAllBytes(data);
        bytes[0] ^= 0xFF;
        File.WriteAllBytes(data, bytes);

        // Then opening it fails naming that file: the digests cover the data as well as the graph
        var error = Assert.Throws<InferenceException>(() => ModelPackage.Open(folder));
        Assert.Contains(data, error.Message);
        Assert.Equal(LaminaErrorKind.Integrity, error.Kind);
    }

    [Fact]
    public async Task Run_WithCudaWhereItCannotStart_FailsBeforeTheRunIsCreated()
    {
        var lamina = WriteExperiment();
        var home = new LaminaHome(_temp.Combine("home")).EnsureCreated();
        await using var store = await SqliteTrackingStore.OpenAsync(home.DatabasePath, TimeProvider.System, CancellationToken.None);
        var runner = new TaskRunner(store, new FileBlobStore(home.BlobsPath), home, TimeProvider.System) { Echo = TextWriter.Null };

        var error = await Assert.ThrowsAsync<InferenceException>(() =>
            runner.RunAsync(new RunRequest(lamina, "train", []) { Provider = ExecutionProvider.Cuda }, CancellationToken.None));

        Assert.Contains("execution provider Cuda could not start", error.Message);
        Assert.Contains("does not fall back", error.Message);
        Assert.Empty(await store.ListRunsAsync(new RunQuery(), CancellationToken.None));
    }
}
