using Lamina.Core.Inference;
using Lamina.Lab.Synthetic;
using Lamina.Lab.Tasks;
using Lamina.Tracking;

namespace Lamina.Lab.Tests.Models;

public sealed class WholeNetworkTestingTests
{
    [Fact]
    public async Task TestingTask_OnAnImportedWholeNetwork_PredictsTheTilesThemselves_AndRecordsMetrics()
    {
        // Given an imported classifier (no backbone: the network takes the tiles) as a package folder, and a slide with ground truth
        using var temp = new TemporaryDirectory();
        var experiment = temp.Combine("experiment");
        Directory.CreateDirectory(Path.Combine(experiment, "slides"));
        SyntheticSlideGenerator.Generate(new SynthOptions(1536, 1536, Seed: 5), Path.Combine(experiment, "slides", "s.tif"), Path.Combine(experiment, "slides", "s.geojson"));
        var package = Path.Combine(experiment, "package");
        Directory.CreateDirectory(package);
        var network = ModelImporterTests.TinyClassifier(anySize: true);
        File.WriteAllBytes(Path.Combine(package, "network.onnx"), network);
        var card = new ModelCard
        {
            Name = "imported", Kind = "imported", Input = new InputSpec(32, 2.0, null, 0, 3),
            Classes = ["other", "Carcinoma"], Network = ModelPackages.Describe("network.onnx", network),
        };
        File.WriteAllBytes(Path.Combine(package, ModelPackage.CardFile), card.ToJson());
        File.WriteAllText(Path.Combine(experiment, "lamina.yaml"), """
            version: 1
            project:
              project_name: Imported
            data:
              loaders:
                tiles:
                  cls: DiskLoader
                  params: {wsi_path: slides/, labels_path: slides/, tile_size: 32, mpp: 2.0, label_class: Carcinoma}
            tasks:
              test:
                type: testing
                params:
                  model: package
                  loader: tiles
            """);
        var home = new LaminaHome(temp.Combine("home")).EnsureCreated();
        await using var store = await SqliteTrackingStore.OpenAsync(home.DatabasePath, TimeProvider.System, CancellationToken.None);
        var runner = new TaskRunner(store, new FileBlobStore(home.BlobsPath), home, TimeProvider.System) { Echo = TextWriter.Null };

        // When the testing task runs on it
        var outcome = await runner.RunAsync(new RunRequest(Path.Combine(experiment, "lamina.yaml"), "test", []), CancellationToken.None);

        // Then it completes with metrics over every tile, the network having seen the tiles
        Assert.True(outcome.Status == RunStatus.Completed, outcome.Error);
        var metrics = await store.GetMetricsAsync(outcome.RunId, CancellationToken.None);
        Assert.InRange(metrics.Single(m => m.Name == "test/accuracy").Value, 0, 1);
        Assert.Contains("whole network:", await store.GetLogAsync(outcome.RunId, CancellationToken.None));
    }
}
