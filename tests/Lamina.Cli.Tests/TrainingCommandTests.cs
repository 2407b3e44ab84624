using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Lamina.Cli.Tests;

/// <summary>A training task through the real command: slides, a user loss plug-in, the embedding cache, the package.</summary>
public sealed class TrainingCommandTests : IDisposable
{
    private readonly TemporaryDirectory _temp = new();
    private readonly LaminaProcess _lamina;

    public TrainingCommandTests() => _lamina = new LaminaProcess(Path.Combine(_temp.Path, "home"));

    public void Dispose() => _temp.Dispose();

    private const string Experiment = """
        version: 1
        project:
          project_name: Training
          sources_path: [plugins]
        models:
          tumour:
            architecture: {cls: MlpHead, params: {n_layers: 2, width: 32, dropout: 0.0}}
            loss: {cls: SquaredHinge, params: {margin: 1.0}}
            metrics: [{cls: accuracy}, {cls: auroc}]
            preprocessing: {cls: Scale, params: {factor: 255.0}}
        data:
          loaders:
            tiles:
              cls: DiskLoader
              params: {wsi_path: slides/, labels_path: slides/, tile_size: 224, mpp: 0.5}
        tasks:
          test:
            type: testing
            params:
              model: package
              loader: tiles
          train:
            type: training
            params:
              model: tumour
              n_epochs: 6
              batch_size: 16
              train_loader: tiles
              validation_split: 0.34
              seed: 3
              callbacks: [{cls: MetricsLogger}]
        """;

    // A loss written in the experiment repository: squared hinge on the logit difference, with its gradient.
    private const string Plugins = """
        using Lamina.Core.Inference;
        using Lamina.Core.Plugins;

        public sealed class SquaredHinge(double margin = 1.0) : ILoss
        {
            public double Compute(ReadOnlySpan<float> logits, int classes, ReadOnlySpan<int> labels, Span<float> gradient)
            {
                var total = 0.0;
                for (var r = 0; r < labels.Length; r++)
                {
                    var sign = labels[r] == 1 ? 1.0 : -1.0;
                    var z = logits[r * 2 + 1] - logits[r * 2];
                    var slack = Math.Max(0, margin - sign * z);
                    total += slack * slack;
                    var dz = -2 * slack * sign / labels.Length;
                    gradient[r * 2] = (float)-dz;
                    gradient[r * 2 + 1] = (float)dz;
                }
                return total / labels.Length;
            }
        }

        public sealed class Scale(float factor) : IPreprocessing
        {
            public ImageTensor Apply(ImageTensor image) => image.Map(v => v / factor);
        }
        """;

    private async Task<JsonElement> JsonAsync(params string[] arguments)
    {
        var result = await _lamina.RunAsync(_temp.Path, [.. arguments, "--json"]);
        Assert.True(result.ExitCode == 0, result.ToString());
        return JsonDocument.Parse(result.Stdout).RootElement;
    }

    [Fact]
    public async Task Training_WithAUserLoss_MakesAPackage_AndASecondRunReusesEveryEmbeddingAndGivesTheSameWeights()
    {
        // Given three synthetic slides, a user loss plug-in and a training task
        var synth = await _lamina.RunAsync(_temp.Path, "synth", "--out", "slides", "--slides", "3", "--size", "4096x4096", "--seed", "7", "--json");
        Assert.True(synth.ExitCode == 0, synth.ToString());
        Directory.CreateDirectory(Path.Combine(_temp.Path, "plugins"));
        await File.WriteAllTextAsync(Path.Combine(_temp.Path, "plugins", "Plugins.cs"), Plugins);
        await File.WriteAllTextAsync(Path.Combine(_temp.Path, "lamina.yaml"), Experiment);

        // When it runs twice
        var first = await _lamina.RunAsync(_temp.Path, "run", "train");
        var second = await _lamina.RunAsync(_temp.Path, "run", "train");

        // Then the second run computed no embedding, and both made the same head, bit for bit
        Assert.True(first.ExitCode == 0, first.ToString());
        Assert.True(second.ExitCode == 0, second.ToString());
        Assert.DoesNotContain(", 0 from the cache", second.Stdout.Split('\n').Single(l => l.StartsWith("embeddings", StringComparison.Ordinal)));
        Assert.Contains("embeddings (resnet18): 0 computed", second.Stdout);
        var models = (await JsonAsync("models", "list")).EnumerateArray().ToList();
        Assert.Equal(2, models.Count);
        var cards = new List<JsonElement>();
        foreach (var model in models)
        {
            var show = await _lamina.RunAsync(_temp.Path, "models", "show", model.GetProperty("run_id").GetString()![..8], "--json");
            cards.Add(JsonDocument.Parse(show.Stdout).RootElement);
        }
        Assert.Equal(cards[0].GetProperty("network").GetProperty("sha256").GetString(), cards[1].GetProperty("network").GetProperty("sha256").GetString());
        Assert.Equal(cards[0].GetProperty("dataset").GetString(), cards[1].GetProperty("dataset").GetString());

        // And the card names its loss, classes, backbone and data set; the exported package runs in ONNX Runtime
        var card = cards[0];
        Assert.Equal("SquaredHinge", card.GetProperty("loss").GetProperty("cls").GetString());
        Assert.Equal(["other", "Carcinoma"], card.GetProperty("classes").EnumerateArray().Select(c => c.GetString()));
        Assert.Equal("resnet18", card.GetProperty("backbone").GetProperty("name").GetString());
        var run = card.GetProperty("training_run").GetString()!;
        var export = Path.Combine(_temp.Path, "package");
        var exported = await _lamina.RunAsync(_temp.Path, "models", "show", run, "--export", export);
        Assert.True(exported.ExitCode == 0, exported.ToString());
        var head = await File.ReadAllBytesAsync(Path.Combine(export, "head.onnx"));
        Assert.Equal(card.GetProperty("network").GetProperty("sha256").GetString(), Convert.ToHexStringLower(SHA256.HashData(head)));
        using var session = new InferenceSession(head);
        var input = new DenseTensor<float>(new float[2 * 512], [2, 512]);
        using var outputs = session.Run([NamedOnnxValue.CreateFromTensor(session.InputMetadata.Keys.Single(), input)]);
        Assert.Equal([2, 2], outputs.First().AsTensor<float>().Dimensions.ToArray());

        // And the run lists its curves and the data set it read
        var details = await JsonAsync("runs", "show", run);
        var artifacts = details.GetProperty("artifacts").EnumerateArray().Select(a => a.GetProperty("name").GetString()).ToList();
        Assert.Contains("curves/loss.png", artifacts);
        Assert.Contains("model/tumour/head.onnx", artifacts);
        Assert.Equal(card.GetProperty("dataset").GetString(), details.GetProperty("inputs").GetProperty("datasets")[0].GetProperty("dataset_id").GetString());
        Assert.Equal("input", details.GetProperty("inputs").GetProperty("datasets")[0].GetProperty("role").GetString());
        Assert.Equal(6, details.GetProperty("metrics").EnumerateArray().Single(m => m.GetProperty("name").GetString() == "val/loss").GetProperty("count").GetInt32());

        // And a testing task evaluates the exported package through ONNX Runtime, linked to the model's run
        var tested = await _lamina.RunAsync(_temp.Path, "run", "test", "--set", "tasks.test.params.model=package", "--json");
        Assert.True(tested.ExitCode == 0, tested.ToString());
        var test = await JsonAsync("runs", "show", JsonDocument.Parse(tested.Stdout).RootElement.GetProperty("run_id").GetString()!);
        var link = test.GetProperty("inputs").GetProperty("models")[0];
        Assert.Equal(run, link.GetProperty("model_run_id").GetString());
        Assert.Equal("tested", link.GetProperty("role").GetString());
        var testArtifacts = test.GetProperty("artifacts").EnumerateArray().Select(a => a.GetProperty("name").GetString()).ToList();
        Assert.Contains("test/roc.png", testArtifacts);
        Assert.Contains("test/confusion_matrix.json", testArtifacts);
        Assert.Contains("test/per_slide.csv", testArtifacts);
        var accuracy = test.GetProperty("metrics").EnumerateArray().Single(m => m.GetProperty("name").GetString() == "test/accuracy").GetProperty("last").GetDouble();
        Assert.InRange(accuracy, 0.5, 1.0);

        // By run id, the same model gives the same figures
        var byRun = await _lamina.RunAsync(_temp.Path, "run", "test", "--set", $"tasks.test.params.model={run[..8]}", "--json");
        Assert.True(byRun.ExitCode == 0, byRun.ToString());
        var again = await JsonAsync("runs", "show", JsonDocument.Parse(byRun.Stdout).RootElement.GetProperty("run_id").GetString()!);
        Assert.Equal(accuracy, again.GetProperty("metrics").EnumerateArray().Single(m => m.GetProperty("name").GetString() == "test/accuracy").GetProperty("last").GetDouble());
    }

    [Fact]
    public async Task Reproduce_ATrainingRunInGit_RebuildsTheSameModelFromACleanCheckout()
    {
        // Given a committed experiment (slides ignored), a user plug-in left uncommitted, and a run with an override
        var synth = await _lamina.RunAsync(_temp.Path, "synth", "--out", "slides", "--slides", "3", "--size", "4096x4096", "--seed", "7", "--json");
        Assert.True(synth.ExitCode == 0, synth.ToString());
        await File.WriteAllTextAsync(Path.Combine(_temp.Path, ".gitignore"), "slides/\nhome/\nwork/\n");
        await File.WriteAllTextAsync(Path.Combine(_temp.Path, "lamina.yaml"), Experiment);
        Git.Run(_temp.Path, "init", "-q");
        Git.Run(_temp.Path, "add", "-A");
        Git.Run(_temp.Path, "commit", "-q", "-m", "experiment");
        Directory.CreateDirectory(Path.Combine(_temp.Path, "plugins"));
        await File.WriteAllTextAsync(Path.Combine(_temp.Path, "plugins", "Plugins.cs"), Plugins);
        var trained = await _lamina.RunAsync(_temp.Path, "run", "train", "--set", "tasks.train.params.n_epochs=4", "--json");
        Assert.True(trained.ExitCode == 0, trained.ToString());
        var run = JsonDocument.Parse(trained.Stdout).RootElement.GetProperty("run_id").GetString()!;

        // When it is reproduced
        var reproduced = await _lamina.RunAsync(_temp.Path, "reproduce", run[..8], "--work", Path.Combine(_temp.Path, "work"), "--json");

        // Then every model file, the data set and the slides have the same digests, and the new run is tagged
        Assert.True(reproduced.ExitCode == 0, reproduced.ToString());
        var result = JsonDocument.Parse(reproduced.Stdout).RootElement;
        Assert.True(result.GetProperty("identical").GetBoolean());
        Assert.Empty(result.GetProperty("environment_differences").EnumerateArray());
        var names = result.GetProperty("files").EnumerateArray().Select(f => f.GetProperty("name").GetString()).ToList();
        Assert.Contains("tumour/head.onnx", names);
        Assert.Contains("tumour/data set", names);
        var again = await JsonAsync("runs", "show", result.GetProperty("run").GetProperty("run_id").GetString()!);
        Assert.Contains("reproduction", again.GetProperty("run").GetProperty("tags").EnumerateArray().Select(t => t.GetString()));
        Assert.Equal(4, again.GetProperty("metrics").EnumerateArray().Single(m => m.GetProperty("name").GetString() == "val/loss").GetProperty("count").GetInt32());

        // Issue 12: the reproduction recorded the original repository, not its temporary checkout, so reproducing the
        // reproduction (its checkout deleted) finds the same code and data and gives the same digests again
        var reproduction = result.GetProperty("run").GetProperty("run_id").GetString()!;
        Assert.Equal(Path.GetFullPath(_temp.Path).TrimEnd('/'), again.GetProperty("git").GetProperty("repository_root").GetString()!.TrimEnd('/'));
        Directory.Delete(result.GetProperty("work_tree").GetString()!, recursive: true);
        var second = await _lamina.RunAsync(_temp.Path, "reproduce", reproduction[..8], "--work", Path.Combine(_temp.Path, "work"), "--json");
        Assert.True(second.ExitCode == 0, second.ToString());
        var secondResult = JsonDocument.Parse(second.Stdout).RootElement;
        Assert.True(secondResult.GetProperty("identical").GetBoolean(), secondResult.ToString());
        var digests = result.GetProperty("files").EnumerateArray().ToDictionary(f => f.GetProperty("name").GetString()!, f => f.GetProperty("reproduced").GetString());
        Assert.All(secondResult.GetProperty("files").EnumerateArray(),
            f => Assert.Equal(digests[f.GetProperty("name").GetString()!], f.GetProperty("reproduced").GetString()));
    }

    [Fact]
    public async Task Reproduce_ARunOutsideGit_IsRefusedClearly()
    {
        await File.WriteAllTextAsync(Path.Combine(_temp.Path, "lamina.yaml"), """
            version: 1
            project: {project_name: NoGit}
            data:
              loaders:
                tiles: {cls: DiskLoader, params: {wsi_path: slides/, labels_path: slides/}}
            tasks:
              build: {type: dataset, params: {loader: tiles}}
            """);
        var synth = await _lamina.RunAsync(_temp.Path, "synth", "--out", "slides", "--slides", "1", "--size", "2048x2048", "--json");
        Assert.True(synth.ExitCode == 0, synth.ToString());
        var built = await _lamina.RunAsync(_temp.Path, "run", "build", "--json");
        Assert.True(built.ExitCode == 0, built.ToString());

        var result = await _lamina.RunAsync(_temp.Path, "reproduce", JsonDocument.Parse(built.Stdout).RootElement.GetProperty("run_id").GetString()!);

        Assert.Equal(ExitCodes.Conflict, result.ExitCode);
        Assert.Contains("not made in a git repository", result.Stderr);
    }

    [Fact]
    public async Task Training_WithAugmentation_EmbedsAugmentedViewsOfTrainingTilesOnce_AndRecordsThem()
    {
        // Given two slides, and a model with a built-in augmentation and one written in the experiment repository
        var synth = await _lamina.RunAsync(_temp.Path, "synth", "--out", "slides", "--slides", "2", "--size", "4096x4096", "--seed", "7", "--json");
        Assert.True(synth.ExitCode == 0, synth.ToString());
        Directory.CreateDirectory(Path.Combine(_temp.Path, "plugins"));
        await File.WriteAllTextAsync(Path.Combine(_temp.Path, "plugins", "Plugins.cs"), Plugins + """

            public sealed class Darken(float amount) : IAugmentation
            {
                public ImageTensor Apply(ImageTensor image, Random random)
                {
                    var factor = 1f - amount * (float)random.NextDouble();
                    return image.Map(v => v * factor);
                }
            }
            """);
        await File.WriteAllTextAsync(Path.Combine(_temp.Path, "lamina.yaml"), Experiment
            .Replace("    preprocessing: {cls: Scale, params: {factor: 255.0}}",
                "    preprocessing: {cls: Scale, params: {factor: 255.0}}\n    augmentation: [{cls: FlipRotate}, {cls: Darken, params: {amount: 0.2}}]", StringComparison.Ordinal)
            .Replace("validation_split: 0.34", "validation_split: 0.5\n      augmented_views: 2", StringComparison.Ordinal));

        // When it trains twice, then once with a third view
        var first = await _lamina.RunAsync(_temp.Path, "run", "train", "--json");
        var second = await _lamina.RunAsync(_temp.Path, "run", "train", "--json");
        var third = await _lamina.RunAsync(_temp.Path, "run", "train", "--set", "tasks.train.params.augmented_views=3", "--json");
        Assert.True(first.ExitCode == 0, first.ToString());
        Assert.True(second.ExitCode == 0, second.ToString());
        Assert.True(third.ExitCode == 0, third.ToString());

        // Then the first run embedded two views of every training tile (and none of the validation ones), the second
        // found them all in the cache and made the same head, and the third computed only the new view
        async Task<(Dictionary<string, double> Metrics, JsonElement Card)> Read(LaminaResult result)
        {
            var runId = JsonDocument.Parse(result.Stdout).RootElement.GetProperty("run_id").GetString()!;
            var details = await JsonAsync("runs", "show", runId);
            var metrics = details.GetProperty("metrics").EnumerateArray().ToDictionary(m => m.GetProperty("name").GetString()!, m => m.GetProperty("last").GetDouble());
            var show = await _lamina.RunAsync(_temp.Path, "models", "show", runId[..8], "--json");
            return (metrics, JsonDocument.Parse(show.Stdout).RootElement);
        }
        var (m1, card1) = await Read(first);
        var (m2, card2) = await Read(second);
        var (m3, _) = await Read(third);
        var dataset = await JsonAsync("datasets", "show", card1.GetProperty("dataset").GetString()!);
        var trainingTiles = dataset.GetProperty("slides").EnumerateArray()
            .Where(s => s.GetProperty("split").GetString() == "train").Sum(s => s.GetProperty("tiles").GetInt32());
        Assert.True(trainingTiles > 0);
        Assert.Equal(2 * trainingTiles, m1["embeddings/augmented_computed"]);
        Assert.Equal(0, m2["embeddings/augmented_computed"]);
        Assert.Equal(2 * trainingTiles, m2["embeddings/augmented_cached"]);
        Assert.Equal(trainingTiles, m3["embeddings/augmented_computed"]);
        Assert.Equal(card1.GetProperty("network").GetProperty("sha256").GetString(), card2.GetProperty("network").GetProperty("sha256").GetString());

        // And the card records the augmentation, its views and digest
        var training = card1.GetProperty("training");
        Assert.Equal(["FlipRotate", "Darken"], training.GetProperty("augmentation").EnumerateArray().Select(a => a.GetString()));
        Assert.Equal(2, training.GetProperty("augmented_views").GetInt32());
        Assert.Equal(64, training.GetProperty("augmentation_digest").GetString()!.Length);
    }
}
