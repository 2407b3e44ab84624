using System.Diagnostics;
using System.Text;
using Lamina.Lab.Synthetic;
using Lamina.Tracking;

namespace Lamina.Cli.Tests.Hostile;

/// <summary>
/// Built once per test class: a Lamina home with a published model (the tiny classifier), and a work folder with a
/// synthetic slide, the analysis file, its resolved form and lock, and a bundle of it. Each case works on a copy.
/// </summary>
public sealed class HostileTemplate : IAsyncLifetime
{
    private readonly TemporaryDirectory _temp = new();

    public string Root => _temp.Path;

    public Guid Run { get; private set; }

    public async Task InitializeAsync() => Run = await BuildAsync(Root);

    public Task DisposeAsync()
    {
        _temp.Dispose();
        return Task.CompletedTask;
    }

    /// <summary>Lays out <c>home/</c> and <c>work/</c> under <paramref name="root"/>; returns the run that made the model.</summary>
    /// <param name="network">The model's network (default the tiny classifier).</param>
    /// <param name="slideSize">The synthetic slide's edge in pixels.</param>
    /// <param name="micronsPerPixel">The resolution the model reads tiles at: finer means more tiles, a longer analysis.</param>
    internal static async Task<Guid> BuildAsync(string root, byte[]? network = null, int slideSize = 1024, double micronsPerPixel = 2.0)
    {
        var home = new LaminaHome(Path.Combine(root, "home")).EnsureCreated();
        var run = await AnalyzeBundleTests.StoreModelAsync(home, network, micronsPerPixel);
        var work = Path.Combine(root, "work");
        Directory.CreateDirectory(work);
        SyntheticSlideGenerator.Generate(new SynthOptions(slideSize, slideSize, Seed: 5), Path.Combine(work, "slide.tif"), Path.Combine(work, "slide.geojson"));
        File.WriteAllText(Path.Combine(work, "analysis.yaml"), $"""
            version: 1
            analyses:
              - name: breast
                models:
                  carcinoma_model:
                    sourcing: auto
                    reference: {run.ToString()[..8]}
                features:
                  - cls: TissueArea
                  - cls: Carcinoma
                    models:
                      classification_model: carcinoma_model
            """, Encoding.UTF8);
        var lamina = new LaminaProcess(home.Root);
        foreach (var step in new[] { new[] { "publish", run.ToString()[..8], "--reason", "release 1" }, ["resolve", "analysis.yaml", "-o", "release/resolved.yaml"],
            ["bundle", "release/resolved.yaml", "-o", "bundle"] })
        {
            var done = await lamina.RunAsync(work, step);
            if (done.ExitCode != 0) throw new InvalidOperationException(done.ToString());
        }
        return run;
    }
}

/// <summary>One case's copy of the template: its own home and work folder, and the lamina command on that home.</summary>
internal sealed class HostileScene : IDisposable
{
    private readonly TemporaryDirectory _temp = new();

    public HostileScene(HostileTemplate template)
    {
        Copy(template.Root, _temp.Path);
        Run = template.Run;
        Lamina = new LaminaProcess(Home);
    }

    public Guid Run { get; }

    public LaminaProcess Lamina { get; }

    /// <summary>The folder holding <see cref="Home"/> and <see cref="Work"/>.</summary>
    public string Temp => _temp.Path;

    public string Home => _temp.Combine("home");

    public string Work => _temp.Combine("work");

    public string Database => Path.Combine(Home, "tracking.db");

    public string Blobs => Path.Combine(Home, "blobs");

    public string Production => Path.Combine(Home, "production");

    public string W(params string[] parts) => Path.Combine([Work, .. parts]);

    /// <summary>A temporary-output tag whose process is gone (no process has the largest id).</summary>
    public const string DeadOwner = "2147483647-1-deadbeef";

    /// <summary>A temporary-output tag of this (running) test process: its leftovers must be kept.</summary>
    public static string LiveOwner
    {
        get
        {
            using var self = Process.GetCurrentProcess();
            var start = new DateTimeOffset(self.StartTime.ToUniversalTime()).ToUnixTimeSeconds();
            return $"{Environment.ProcessId}-{start:x}-0badf00d";
        }
    }

    /// <summary>Removes the database and its write-ahead files.</summary>
    public void DeleteDatabase()
    {
        foreach (var file in Directory.GetFiles(Home, "tracking.db*")) File.Delete(file);
    }

    public void Dispose() => _temp.Dispose();

    private static void Copy(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.GetFiles(from)) File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
        foreach (var folder in Directory.GetDirectories(from)) Copy(folder, Path.Combine(to, Path.GetFileName(folder)));
    }
}
