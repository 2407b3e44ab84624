using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using System.Text;
using Lamina.Tracking;

namespace Lamina.Ui.Tests;

/// <summary>
/// A real SQLite tracking store and folder blob store in a temporary folder, with a few real runs, served by a real
/// <see cref="UiServer"/> on a free port; an <see cref="HttpClient"/> pointed at it.
/// </summary>
internal sealed class UiHarness : IAsyncDisposable
{
    private readonly TemporaryDirectory _directory;

    private UiHarness(TemporaryDirectory directory, SqliteTrackingStore store, FileBlobStore blobs)
    {
        _directory = directory;
        Store = store;
        Blobs = blobs;
    }

    public SqliteTrackingStore Store { get; }

    public FileBlobStore Blobs { get; }

    /// <summary>The store's web UI tokens.</summary>
    public IAccessTokenStore Tokens => (IAccessTokenStore)(ITrackingStore)Store;

    public UiServer? Server { get; private set; }

    public HttpClient Client { get; private set; } = null!;

    /// <summary>The diff recorded with <see cref="Seeded.Trained"/>: a changed line and an added one.</summary>
    public const string Diff = """
        diff --git a/plugins/loss.cs b/plugins/loss.cs
        index 1111111..2222222 100644
        --- a/plugins/loss.cs
        +++ b/plugins/loss.cs
        @@ -1,3 +1,3 @@
         public sealed class Focal
        -    double gamma = 2;
        +    double gamma = 3;

        """;

    /// <summary>A PNG of one pixel: what a run's curve artifact would be.</summary>
    public static readonly byte[] Png = Convert.FromBase64String("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==");

    public static async Task<UiHarness> CreateAsync()
    {
        var directory = new TemporaryDirectory();
        var store = await SqliteTrackingStore.OpenAsync(directory.Combine("tracking.db"), TimeProvider.System, CancellationToken.None, actor: "ada@lab");
        return new UiHarness(directory, store, new FileBlobStore(directory.Combine("blobs")));
    }

    /// <summary>Serves the store; the client's base address is the server's.</summary>
    public async Task<UiServer> StartAsync(UiOptions? options = null, Func<UiSources, UiSources>? sources = null)
    {
        var given = new UiSources(Store, Blobs);
        Server = await UiServer.StartAsync(sources is null ? given : sources(given), options ?? new UiOptions(), CancellationToken.None);
        Client = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false, UseCookies = false }) { BaseAddress = Server.Address, Timeout = TimeSpan.FromSeconds(60) };
        return Server;
    }

    /// <summary>Three runs: a completed training run (metrics, diff, artifacts), a failed one, and a running one of another project.</summary>
    public async Task<Seeded> SeedAsync()
    {
        var token = CancellationToken.None;
        var (diffDigest, diffSize) = await Blobs.PutBytesAsync(Encoding.UTF8.GetBytes(Diff), token);
        var git = new GitInfo("/repo", "https://ada:secret@git.example.org/lab/lamina.git", "main", "0123456789abcdef0123456789abcdef01234567", true, diffDigest, diffSize);

        var trained = await Store.CreateRunAsync(NewRun("pathology", "simple_train", """{"lr":0.1,"model":{"layers":2,"cls":"Linear"}}""", git, ["baseline"],
            "first <script>alert(1)</script> try"), token);
        var points = new List<MetricPoint>();
        var start = DateTimeOffset.UtcNow.AddMinutes(-5);
        for (var step = 0; step < 10; step++)
        {
            points.Add(new MetricPoint("loss", step, 1.0 / (step + 1), start.AddSeconds(step)));
            points.Add(new MetricPoint("accuracy", step, 0.5 + step * 0.04, start.AddSeconds(step)));
        }
        // A figure logged once (a final score): no curve to draw.
        points.Add(new MetricPoint("auc", 9, 0.91, start.AddSeconds(9)));
        await Store.LogMetricsAsync(trained.Id, points, token);
        await Store.AppendLogAsync(trained.Id, "epoch 1\nepoch 2\nepoch 3\n", token);
        var (pngDigest, pngSize) = await Blobs.PutBytesAsync(Png, token);
        await Store.AddArtifactAsync(trained.Id, "curves/loss.png", pngDigest, pngSize, token);
        var (jsonDigest, jsonSize) = await Blobs.PutBytesAsync(Encoding.UTF8.GetBytes("""{"auc":0.93,"classes":["tumour","stroma"]}"""), token);
        await Store.AddArtifactAsync(trained.Id, "metrics/report.json", jsonDigest, jsonSize, token);
        await Store.FinishRunAsync(trained.Id, RunStatus.Completed, null, token);

        var failed = await Store.CreateRunAsync(NewRun("pathology", "simple_train", """{"lr":0.01,"model":{"layers":2,"cls":"Linear"}}""", null, ["sweep"], null), token);
        var failedPoints = Enumerable.Range(0, 5).Select(s => new MetricPoint("loss", s, 2.0 / (s + 1), start.AddSeconds(s))).ToList();
        await Store.LogMetricsAsync(failed.Id, failedPoints, token);
        await Store.FinishRunAsync(failed.Id, RunStatus.Failed, "out of memory", token);

        var running = await Store.CreateRunAsync(NewRun("screening", "evaluate", """{"threshold":0.5}""", null, [], null), token);
        return new Seeded(trained, failed, running, pngDigest, jsonDigest);
    }

    public static NewRun NewRun(string project, string task, string configuration, GitInfo? git, IReadOnlyList<string> tags, string? description) => new(
        project, task, "training", tags, description, "ada", "gpu-01", "experiments/lamina.yaml", configuration, git,
        new EnvironmentInfo("Linux 6.1", "x64", "Test CPU", 8, 16L << 30, null, ".NET 10.0.0", "0.1.0", new Dictionary<string, string> { ["Lamina.Core"] = "0.1.0" }),
        [new SourceFileDigest("plugins/loss.cs", new string('b', 64))]);

    /// <summary>An IPv4 address of this machine that is not loopback, or null where it has none.</summary>
    public static IPAddress? NonLoopbackAddress() =>
        NetworkInterface.GetAllNetworkInterfaces()
            .Where(n => n.OperationalStatus == OperationalStatus.Up && n.NetworkInterfaceType != NetworkInterfaceType.Loopback)
            .SelectMany(n => n.GetIPProperties().UnicastAddresses)
            .Select(a => a.Address)
            .FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork && !IPAddress.IsLoopback(a));

    public async ValueTask DisposeAsync()
    {
        Client?.Dispose();
        if (Server is not null) await Server.DisposeAsync();
        await Store.DisposeAsync();
        _directory.Dispose();
    }
}

/// <summary>The runs <see cref="UiHarness.SeedAsync"/> made.</summary>
internal sealed record Seeded(RunRecord Trained, RunRecord Failed, RunRecord Running, string PngDigest, string JsonDigest);
