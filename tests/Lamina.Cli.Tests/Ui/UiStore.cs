using System.Text;
using Lamina.Lab.Training;
using Lamina.Tracking;

namespace Lamina.Cli.Tests.Ui;

/// <summary>
/// A throw-away Lamina home whose SQLite tracking store holds runs a person would look at in the UI, made through the
/// tracking API as a run makes them: two trainings of the breast project that differ in their learning rate (loss curves,
/// a configuration, a commit with an uncommitted diff, a PNG of the curve) and a failed check of another project.
/// </summary>
public sealed class UiStore : IAsyncLifetime
{
    /// <summary>The line the uncommitted diff adds: what the run page shows in green.</summary>
    public const string AddedLine = "+        lr: 0.01";

    /// <summary>The line the uncommitted diff removes: what the run page shows in red.</summary>
    public const string RemovedLine = "-        lr: 0.1";

    public const string CurveArtifact = "curves/loss.png";

    /// <summary>Each training's learning rate: values from 1e-5 down to about 1e-8.</summary>
    public const string LearningRateMetric = "optimizer/lr";

    /// <summary>Each training's test AUC, one point at the last step, the same value in both.</summary>
    public const string SinglePointMetric = "test/auc";

    private readonly TemporaryDirectory _temp = new();

    public UiStore() => Lamina = new LaminaProcess(_temp.Combine("home"));

    internal LaminaProcess Lamina { get; }

    public LaminaHome Home => new(Lamina.Home);

    public string WorkingDirectory => _temp.Path;

    /// <summary>The breast training with lr 0.01 (its diff sets that value).</summary>
    public Guid Fast { get; private set; }

    /// <summary>The breast training with lr 0.001.</summary>
    public Guid Slow { get; private set; }

    /// <summary>The prostate project's failed normalisation check.</summary>
    public Guid Failed { get; private set; }

    /// <summary>The SHA-256 of <see cref="CurveArtifact"/> of <see cref="Fast"/>, as the blob store has it.</summary>
    public string CurveDigest { get; private set; } = "";

    public static string Short(Guid id) => id.ToString("D")[..8];

    public async Task InitializeAsync()
    {
        var home = Home.EnsureCreated();
        await using var store = await SqliteTrackingStore.OpenAsync(home.DatabasePath, TimeProvider.System, CancellationToken.None);
        var blobs = new FileBlobStore(home.BlobsPath);
        (Fast, CurveDigest) = await TrainingAsync(store, blobs, 0.01, withDiff: true);
        (Slow, _) = await TrainingAsync(store, blobs, 0.001, withDiff: false);
        Failed = await FailedCheckAsync(store);
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
    }

    public Task DisposeAsync()
    {
        _temp.Dispose();
        return Task.CompletedTask;
    }

    /// <summary>Opens the store beside the UI (SQLite allows both), to check what the UI did.</summary>
    public async Task<ITrackingStore> OpenAsync() =>
        await SqliteTrackingStore.OpenAsync(Home.DatabasePath, TimeProvider.System, CancellationToken.None);

    private static async Task<(Guid Run, string CurveDigest)> TrainingAsync(ITrackingStore store, IBlobStore blobs, double learningRate, bool withDiff)
    {
        var token = CancellationToken.None;
        GitInfo? git = null;
        if (withDiff)
        {
            var diff = Encoding.UTF8.GetBytes(string.Join('\n',
                "diff --git a/lamina.yaml b/lamina.yaml", "index 3b18e51..a9c2f04 100644", "--- a/lamina.yaml", "+++ b/lamina.yaml",
                "@@ -12,7 +12,7 @@ tasks:", "     params:", "       optimizer:", RemovedLine, AddedLine, "       n_epochs: 30", ""));
            var (digest, size) = await blobs.PutAsync(new MemoryStream(diff), token);
            git = new GitInfo("/home/ada/breast", "git@example.org:pathology/breast.git", "main", "4f1c2d9e8b7a6c5d4e3f2a1b0c9d8e7f6a5b4c3d", true, digest, size);
        }
        var configuration = System.Text.Json.JsonSerializer.Serialize(new
        {
            tasks = new { simple_train = new { type = "training", @params = new { n_epochs = 30, optimizer = new { lr = learningRate } } } },
            models = new { tumour = new { architecture = new { cls = "MlpHead", @params = new { n_layers = 2 } } } },
        });
        var environment = new EnvironmentInfo("Debian 12", "x64", "cpu", 2, 8L << 30, null, ".NET 10.0", "0.1.0", new Dictionary<string, string> { ["onnxruntime"] = "1.31.1" });
        var run = (await store.CreateRunAsync(new NewRun("Breast", "simple_train", "training", ["demo", $"lr-{learningRate}"], "tumour head on cached embeddings",
            "ada", "gpu-01", "lamina.yaml", configuration, git, environment, []), token)).Id;
        var start = DateTimeOffset.UtcNow.AddMinutes(-10);
        var losses = Enumerable.Range(0, 30).Select(step => (Step: step, Loss: 1.0 / (1 + learningRate * 40 * step))).ToList();
        await store.LogMetricsAsync(run, [.. losses.Select(p => new MetricPoint("loss", p.Step, p.Loss, start.AddSeconds(p.Step * 10)))], token);
        await store.LogMetricsAsync(run, [.. losses.Select(p => new MetricPoint("val/accuracy", p.Step, 1 - p.Loss / 2, start.AddSeconds(p.Step * 10 + 5)))], token);
        // A learning rate decaying from 1e-5 to 1e-8 (a log scale's ticks must not read "0"), and a test AUC logged once (a chart of one point).
        await store.LogMetricsAsync(run, [.. losses.Select(p => new MetricPoint(LearningRateMetric, p.Step, learningRate * 1e-3 * Math.Pow(0.8, p.Step), start.AddSeconds(p.Step * 10)))], token);
        await store.LogMetricsAsync(run, [new MetricPoint(SinglePointMetric, losses[^1].Step, 0.93, start.AddSeconds(300))], token);
        await store.AppendLogAsync(run, $"epoch 1/30 loss {losses[0].Loss:0.000}\nepoch 30/30 loss {losses[^1].Loss:0.000}\n", token);
        var png = CurvePlot.LinePng($"tumour: loss (lr {learningRate})", new Dictionary<string, IReadOnlyList<(double X, double Y)>>
        {
            ["loss"] = [.. losses.Select(p => ((double)p.Step, p.Loss))],
        });
        var (curve, curveSize) = await blobs.PutAsync(new MemoryStream(png), token);
        await store.AddArtifactAsync(run, CurveArtifact, curve, curveSize, token);
        var summary = Encoding.UTF8.GetBytes($$"""{"final_loss": {{losses[^1].Loss.ToString(System.Globalization.CultureInfo.InvariantCulture)}}}""");
        var (json, jsonSize) = await blobs.PutAsync(new MemoryStream(summary), token);
        await store.AddArtifactAsync(run, "summary.json", json, jsonSize, token);
        await store.FinishRunAsync(run, RunStatus.Completed, null, token);
        return (run, curve);
    }

    private static async Task<Guid> FailedCheckAsync(ITrackingStore store)
    {
        var environment = new EnvironmentInfo("Debian 12", "x64", "cpu", 2, 8L << 30, null, ".NET 10.0", "0.1.0", new Dictionary<string, string>());
        var run = (await store.CreateRunAsync(new NewRun("Prostate", "check_normalization", "custom", ["preprocessing"], null, "grace", "lab-02",
            "lamina.yaml", """{"tasks":{"check_normalization":{"type":"custom"}}}""", null, environment, []), CancellationToken.None)).Id;
        await store.FinishRunAsync(run, RunStatus.Failed, "slide-007.svs: no tissue found at level 2", CancellationToken.None);
        return run;
    }
}
