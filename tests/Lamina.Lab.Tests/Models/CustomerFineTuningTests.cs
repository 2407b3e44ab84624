using System.Globalization;
using System.Text.Json;
using Lamina.Lab.Models;
using Lamina.Lab.Synthetic;
using Lamina.Lab.Tasks;
using Lamina.Tracking;
using Xunit.Abstractions;

namespace Lamina.Lab.Tests.Models;

/// <summary>
/// samples/customer-finetune as its README runs it: a base model, the same model fine-tuned (init_from) on the base data
/// and a customer's differently stained slides (train_loaders, weighted), and both compared on the customer's held-out slide.
/// </summary>
public sealed class CustomerFineTuningTests(ITestOutputHelper output)
{
    private static string Sample { get; } = FindSample();

    private static string FindSample()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Lamina.slnx"))) return Path.Combine(dir.FullName, "samples", "customer-finetune");
        }
        throw new InvalidOperationException($"no Lamina.slnx above {AppContext.BaseDirectory}");
    }

    [Fact]
    public async Task TheSample_FineTunesForTheCustomer_RecordsTheParent_AndComparesBothOnTheHeldOutSlide()
    {
        // Given the sample with the slides its lamina.yaml names: base, the customer's (stain 'faded'), one held out
        using var temp = new TemporaryDirectory();
        var experiment = temp.Combine("experiment");
        Directory.CreateDirectory(experiment);
        foreach (var file in Directory.GetFiles(Sample)) File.Copy(file, Path.Combine(experiment, Path.GetFileName(file)));
        void Synth(string folder, int count, int seed, string? stain)
        {
            for (var i = 0; i < count; i++)
            {
                var options = new SynthOptions(4096, 4096, seed + i) { Stain = stain is null ? null : StainVariation.Parse(stain, seed + i) };
                SyntheticSlideGenerator.Generate(options, Path.Combine(experiment, "slides", folder, $"slide-{i:000}.tif"),
                    Path.Combine(experiment, "slides", folder, $"slide-{i:000}.geojson"));
            }
        }
        Synth("base", 3, 1, null);
        Synth("customer", 3, 11, "faded");
        Synth("customer-held-out", 1, 21, "faded");
        var home = new LaminaHome(temp.Combine("home")).EnsureCreated();
        await using var store = await SqliteTrackingStore.OpenAsync(home.DatabasePath, TimeProvider.System, CancellationToken.None);
        var blobs = new FileBlobStore(home.BlobsPath);
        var runner = new TaskRunner(store, blobs, home, TimeProvider.System) { Echo = TextWriter.Null };
        var lamina = Path.Combine(experiment, "lamina.yaml");

        // When the base model is trained, then fine-tuned from it (a prefix of its run), then both compared
        var parent = await runner.RunAsync(new RunRequest(lamina, "train_base", []), CancellationToken.None);
        Assert.True(parent.Status == RunStatus.Completed, parent.Error);
        var child = await runner.RunAsync(new RunRequest(lamina, "finetune_customer",
            [$"tasks.finetune_customer.params.init_from={parent.RunId.ToString()[..8]}"]), CancellationToken.None);
        Assert.True(child.Status == RunStatus.Completed, child.Error + await store.GetLogAsync(child.RunId, CancellationToken.None));
        var compared = await runner.RunAsync(new RunRequest(lamina, "compare_on_customer",
            [$"tasks.compare_on_customer.params.models.parent={parent.RunId}", $"tasks.compare_on_customer.params.models.child={child.RunId}"]),
            CancellationToken.None);
        Assert.True(compared.Status == RunStatus.Completed, compared.Error);
        output.WriteLine(await store.GetLogAsync(child.RunId, CancellationToken.None));
        output.WriteLine(await store.GetLogAsync(compared.RunId, CancellationToken.None));

        // Then the child's card names its parent, its loaders and weights; its run has a lineage edge to the parent's model
        var parentModel = (await ModelPackages.ResolveAsync(store, blobs, parent.RunId.ToString(), CancellationToken.None)).Record;
        var childModel = await ModelPackages.ResolveAsync(store, blobs, child.RunId.ToString(), CancellationToken.None);
        Assert.Equal(new Core.Inference.ModelParent(parent.RunId, "carcinoma_model", parentModel.CardDigest), childModel.Card.Parent);
        var loaders = childModel.Card.Training!["loaders"]!.AsArray();
        Assert.Equal(["base", "customer"], loaders.Select(l => l!["loader"]!.GetValue<string>()));
        Assert.Equal([1.0, 3.0], loaders.Select(l => l!["weight"]!.GetValue<double>()));
        Assert.Equal(parent.RunId.ToString()[..8], childModel.Card.Training["init_from"]!.GetValue<string>());
        var inputs = await store.GetRunInputsAsync(child.RunId, CancellationToken.None);
        Assert.Contains(new RunModel(parent.RunId, "carcinoma_model", parentModel.CardDigest, ParentModel.Role), inputs.Models);
        Assert.Equal(2, inputs.Datasets.Count);
        Assert.Equal(6, inputs.Slides.Count);
        var childLog = await store.GetLogAsync(child.RunId, CancellationToken.None);
        Assert.Contains("loader 'base' (weight 1)", childLog);
        Assert.Contains("loader 'customer' (weight 3)", childLog);
        Assert.Contains($"starting from the weights of {parent.RunId.ToString()[..8]}/carcinoma_model", childLog);
        // A card of a run trained from scratch says nothing of parents or loaders
        var parentCard = (await ModelPackages.ResolveAsync(store, blobs, parent.RunId.ToString(), CancellationToken.None)).Card;
        Assert.Null(parentCard.Parent);
        Assert.False(parentCard.Training!.ContainsKey("loaders"));

        // And the comparison logs each model's metrics under its label and writes one side-by-side report
        var metrics = (await store.GetMetricsAsync(compared.RunId, CancellationToken.None)).ToDictionary(m => m.Name, m => m.Value);
        foreach (var (name, value) in metrics.Where(m => m.Key.Contains('/', StringComparison.Ordinal)).OrderBy(m => m.Key, StringComparer.Ordinal))
        {
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{name} = {value:G4}"));
        }
        foreach (var label in new[] { "parent", "child" })
        {
            foreach (var metric in new[] { "accuracy", "auroc", "f1", "precision", "recall", "balanced_accuracy" })
            {
                Assert.True(metrics.ContainsKey($"{label}/{metric}"), $"{label}/{metric} not logged");
            }
        }
        // The customer's pale haematoxylin costs the parent, and the child recovers (as the sample's README says).
        Assert.True(metrics["child/accuracy"] > metrics["parent/accuracy"], $"child {metrics["child/accuracy"]}, parent {metrics["parent/accuracy"]}");
        Assert.True(metrics["child/f1"] >= 0.9, $"child f1 {metrics["child/f1"]}");
        var details = await store.GetRunDetailsAsync(compared.RunId, CancellationToken.None);
        var artifacts = details.Artifacts.ToDictionary(a => a.Name, a => a.Digest);
        foreach (var name in new[] { "test/comparison.json", "test/comparison.html", "test/roc.png", "test/per_slide.csv" })
        {
            Assert.True(artifacts.ContainsKey(name), $"no {name}");
        }
        using var report = JsonDocument.Parse(await ModelPackages.ReadFileAsync(blobs, new Core.Inference.PackageFile("c", artifacts["test/comparison.json"], 0), CancellationToken.None));
        var models = report.RootElement.GetProperty("models").EnumerateArray().ToList();
        Assert.Equal(["parent", "child"], models.Select(m => m.GetProperty("label").GetString()));
        Assert.Equal(parent.RunId.ToString(), models[1].GetProperty("parent").GetProperty("run").GetString());
        Assert.Equal(2, models[0].GetProperty("confusion_matrix").GetProperty("counts").GetArrayLength());
        var slide = report.RootElement.GetProperty("per_slide").EnumerateArray().Single();
        Assert.Equal(2, slide.GetProperty("models").GetArrayLength());
        var html = System.Text.Encoding.UTF8.GetString(await ModelPackages.ReadFileAsync(blobs, new Core.Inference.PackageFile("h", artifacts["test/comparison.html"], 0), CancellationToken.None));
        Assert.Contains("<th>parent</th><th>child</th>", html);
        Assert.Contains("data:image/png;base64,", html);
        var testedModels = (await store.GetRunInputsAsync(compared.RunId, CancellationToken.None)).Models;
        Assert.Equal(new[] { parent.RunId, child.RunId }.Order(), testedModels.Select(m => m.ModelRunId).Order());

        // And a child that cannot start from the parent (another head width) fails before any slide is read, naming both shapes
        var wider = await runner.RunAsync(new RunRequest(lamina, "finetune_customer",
            [$"tasks.finetune_customer.params.init_from={parent.RunId}", "models.carcinoma_model.architecture.params.width=32"]), CancellationToken.None);
        Assert.Equal(RunStatus.Failed, wider.Status);
        Assert.Contains("linear0.weight is [64, 512] in the parent, [32, 512] in 'carcinoma_model'", wider.Error);
        Assert.DoesNotContain("embedding", await store.GetLogAsync(wider.RunId, CancellationToken.None));

        // And loaders that label other classes are refused before the run starts, naming both
        var mixed = await Assert.ThrowsAsync<LabException>(() => runner.RunAsync(new RunRequest(lamina, "finetune_customer",
            [$"tasks.finetune_customer.params.init_from={parent.RunId}", "data.loaders.customer.params.label_class=Tissue"]), CancellationToken.None));
        Assert.Contains("loader 'base' labels [other, Carcinoma] but loader 'customer' labels [other, Tissue]", mixed.Message);
    }
}
