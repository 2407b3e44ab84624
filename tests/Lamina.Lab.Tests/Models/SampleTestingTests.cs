using System.Globalization;
using Lamina.Lab.Synthetic;
using Lamina.Lab.Tasks;
using Lamina.Tracking;
using Xunit.Abstractions;

namespace Lamina.Lab.Tests.Models;

/// <summary>The sample experiment's carcinoma model, trained briefly on small synthetic slides, then tested.</summary>
public sealed class SampleTestingTests(ITestOutputHelper output)
{
    private static string Sample { get; } = FindSample();

    private static string FindSample()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Lamina.slnx"))) return Path.Combine(dir.FullName, "samples", "normalization-test");
        }
        throw new InvalidOperationException($"no Lamina.slnx above {AppContext.BaseDirectory}");
    }

    // The sample's testing metrics as the testing task gave them with its own ONNX Runtime session over cached
    // embeddings (commit 520e6d6), before it predicted through PackagedModel: one epoch leaves the model imperfect, so
    // the AUROC depends on the order of all 115 tiles' probabilities.
    private static readonly Dictionary<string, double> Recorded = new()
    {
        ["test/accuracy"] = 0.9217391304347826,
        ["test/auroc"] = 0.5765199161425576,
        ["test/balanced_accuracy"] = 0.5,
        ["test/f1"] = 0,
        ["test/precision"] = 0,
        ["test/recall"] = 0,
    };

    [Fact]
    public async Task TestingTask_OnTheSampleCarcinomaModel_PredictsThroughPackagedModel_AndGivesTheMetricsRecordedBefore()
    {
        // Given the sample experiment, two synthetic slides, and its carcinoma model trained for a few epochs
        using var temp = new TemporaryDirectory();
        var experiment = temp.Combine("experiment");
        Directory.CreateDirectory(Path.Combine(experiment, "slides"));
        foreach (var file in Directory.GetFiles(Sample)) File.Copy(file, Path.Combine(experiment, Path.GetFileName(file)));
        for (var i = 0; i < 3; i++)
        {
            SyntheticSlideGenerator.Generate(new SynthOptions(4096, 4096, Seed: 7 + i), Path.Combine(experiment, "slides", $"s{i}.tif"),
                Path.Combine(experiment, "slides", $"s{i}.geojson"));
        }
        var home = new LaminaHome(temp.Combine("home")).EnsureCreated();
        await using var store = await SqliteTrackingStore.OpenAsync(home.DatabasePath, TimeProvider.System, CancellationToken.None);
        var runner = new TaskRunner(store, new FileBlobStore(home.BlobsPath), home, TimeProvider.System) { Echo = TextWriter.Null };
        var lamina = Path.Combine(experiment, "lamina.yaml");
        var trained = await runner.RunAsync(new RunRequest(lamina, "simple_train", ["tasks.simple_train.params.n_epochs=1"]), CancellationToken.None);
        Assert.True(trained.Status == RunStatus.Completed, trained.Error);

        // When the sample's testing task evaluates it by run id (issue 11: through the production code path)
        var tested = await runner.RunAsync(new RunRequest(lamina, "test_carcinoma", [$"tasks.test_carcinoma.params.model={trained.RunId}"]), CancellationToken.None);

        // Then it completes with the metrics recorded before
        Assert.True(tested.Status == RunStatus.Completed, tested.Error);
        var metrics = (await store.GetMetricsAsync(tested.RunId, CancellationToken.None)).ToDictionary(m => m.Name, m => m.Value);
        foreach (var (name, value) in metrics.OrderBy(m => m.Key, StringComparer.Ordinal))
        {
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{name} = {value:R}"));
        }
        var log = await store.GetLogAsync(tested.RunId, CancellationToken.None);
        output.WriteLine(log);
        Assert.Contains("backbone resnet18 and head: 115 tiles predicted through the model package", log);
        Assert.Equal(Recorded, metrics.Where(m => m.Key.StartsWith("test/", StringComparison.Ordinal)).ToDictionary());
    }
}
