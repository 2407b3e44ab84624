using System.Diagnostics;

namespace Lamina.Cli.Tests.Hostile;

/// <summary>
/// Issue 12: stores that were lost or damaged are never mistaken for empty, and outputs are whole or absent. Each case
/// runs the real <c>lamina</c> on a copy of a home with a published model and a bundle: it sets something up, runs one
/// command, and checks the exit, the message, and what the stores and outputs hold afterwards.
/// </summary>
public sealed class StoresAndOutputsHostileTests(HostileTemplate template) : IClassFixture<HostileTemplate>
{
    /// <param name="Arrange">What is done to the copy before the command.</param>
    /// <param name="Command">The command's arguments (run in the work folder).</param>
    /// <param name="Fails">Whether the command must fail (exit code not 0) or succeed.</param>
    /// <param name="Fragment">A part of standard error (when it fails) or of standard output (when it succeeds).</param>
    /// <param name="Then">What the stores and outputs must hold afterwards.</param>
    internal sealed record Case(Action<HostileScene> Arrange, Func<HostileScene, string[]> Command, bool Fails, Func<HostileScene, string> Fragment,
        Action<HostileScene, LaminaResult> Then);

    private static readonly string[] Analyze = ["analyze", "slide.tif", "--config", "bundle/analysis.yaml"];

    private static readonly Dictionary<string, Case> Cases = new()
    {
        // Stores lost or damaged
        ["missing database beside blobs: runs list refused naming both"] = new(
            s => s.DeleteDatabase(), _ => ["runs", "list"], true, s => $"the tracking database {s.Database} is missing, but {s.Blobs} and {s.Production} still hold content",
            (s, _) => Assert.False(File.Exists(s.Database), "the database must not be created afresh")),
        ["zero-byte database beside blobs: audit verify refused, not '0 entries, chain intact'"] = new(
            s => { s.DeleteDatabase(); File.WriteAllBytes(s.Database, []); }, _ => ["audit", "verify"], true, s => $"the tracking database {s.Database} is empty (zero bytes)",
            (s, r) => { Assert.Equal(0, new FileInfo(s.Database).Length); Assert.DoesNotContain("chain intact", r.Stdout); }),
        ["zero-byte database beside the production store alone: refused naming it"] = new(
            s => { s.DeleteDatabase(); File.WriteAllBytes(s.Database, []); Directory.Delete(s.Blobs, true); }, _ => ["models", "list"], true,
            s => $"but {s.Production} still holds content it indexes",
            (s, _) => Assert.Equal(0, new FileInfo(s.Database).Length)),
        ["missing database beside blobs alone: restore or start afresh told"] = new(
            s => { s.DeleteDatabase(); Directory.Delete(s.Production, true); }, _ => ["audit", "log"], true,
            s => $"but {s.Blobs} still holds content it indexes: it was lost or damaged, and is not created afresh; restore tracking.db from a backup, or to start afresh point LAMINA_HOME elsewhere",
            (s, _) => Assert.False(File.Exists(s.Database))),
        ["missing database: bundle refused before any output"] = new(
            s => s.DeleteDatabase(), _ => ["bundle", "release/resolved.yaml", "-o", "bundle2"], true, s => $"the tracking database {s.Database} is missing",
            (s, _) => Assert.Empty(Directory.GetFileSystemEntries(s.Work, "bundle2*"))),
        ["missing database: models show --export refused, nothing exported"] = new(
            s => s.DeleteDatabase(), s => ["models", "show", s.Run.ToString()[..8], "--export", "exported"], true, s => $"the tracking database {s.Database} is missing",
            (s, _) => Assert.Empty(Directory.GetFileSystemEntries(s.Work, "exported*"))),
        ["nothing there at all (first use): created, empty"] = new(
            s => { s.DeleteDatabase(); Directory.Delete(s.Blobs, true); Directory.Delete(s.Production, true); }, _ => ["audit", "verify"], false, _ => "0 entries, chain intact",
            (s, _) => Assert.True(new FileInfo(s.Database).Length > 0)),
        ["text in place of the database: refused naming the file"] = new(
            s => { s.DeleteDatabase(); File.WriteAllText(s.Database, "this is not a database, it is a shopping list\n"); }, _ => ["runs", "list"], true,
            s => $"the tracking database {s.Database} is not a readable SQLite database: ",
            (s, _) => Assert.StartsWith("this is not a database", File.ReadAllText(s.Database))),
        ["random bytes in place of the database: refused naming the file"] = new(
            s => { s.DeleteDatabase(); File.WriteAllBytes(s.Database, RandomBytes(64 * 1024)); }, _ => ["audit", "log"], true,
            s => $"the tracking database {s.Database} is not a readable SQLite database: ", (s, _) => Assert.Equal(64 * 1024, new FileInfo(s.Database).Length)),
        ["database pages overwritten: refused naming the file"] = new(
            s => Overwrite(s.Database, 4096, 3 * 4096), _ => ["runs", "list"], true,
            s => $"the tracking database {s.Database} is not a readable SQLite database: ", (_, _) => { }),
        ["database cut to its first page: refused naming the file"] = new(
            s => { using var f = File.OpenWrite(s.Database); f.SetLength(4096); }, _ => ["audit", "verify"], true,
            s => $"the tracking database {s.Database} is not a readable SQLite database: ", (_, _) => { }),
        ["audit verify with an anchor past the end of the chain: fails, cut short"] = new(
            _ => { }, _ => ["audit", "verify", "--expect", $"99:{new string('a', 64)}"], true, _ => "there is no entry 99 any more", (_, _) => { }),
        ["audit verify with an anchor whose hash differs: fails, rewritten"] = new(
            _ => { }, _ => ["audit", "verify", "--expect", $"1:{new string('b', 64)}"], true, _ => "the history up to it was rewritten", (_, _) => { }),
        ["audit verify of a new empty store with an anchor: fails"] = new(
            s => { s.DeleteDatabase(); Directory.Delete(s.Blobs, true); Directory.Delete(s.Production, true); },
            _ => ["audit", "verify", "--expect", $"1:{new string('c', 64)}"], true, _ => "there is no entry 1 any more", (_, _) => { }),

        // analyze
        ["analyze into a folder that holds files: refused before any work"] = new(
            s => { Directory.CreateDirectory(s.W("results")); File.WriteAllText(s.W("results", "notes.txt"), "mine"); }, _ => [.. Analyze, "--out", "results"], true,
            s => $"{s.W("results")} already exists and is not empty: nothing was written; choose a new place, or add --force",
            (s, r) => { Assert.Equal(["notes.txt"], Names(s.W("results"))); Assert.DoesNotContain("- feature", r.Stdout); NoLeftovers(s.Work, "results"); }),
        ["analyze into a folder under a file: refused before any work, naming the file"] = new(
            s => File.WriteAllText(s.W("blocker"), "a file"), _ => [.. Analyze, "--out", "blocker/results"], true,
            s => $"{s.W("blocker")} is a file, where a folder is needed",
            (s, r) => { Assert.Equal("a file", File.ReadAllText(s.W("blocker"))); Assert.DoesNotContain("- feature", r.Stdout); }),
        ["analyze into a file: refused"] = new(
            s => File.WriteAllText(s.W("results"), "a file"), _ => [.. Analyze, "--out", "results"], true, s => $"{s.W("results")} is a file",
            (s, _) => Assert.Equal("a file", File.ReadAllText(s.W("results")))),
        ["analyze into a place no one can write (/proc): refused before any work"] = new(
            _ => { }, _ => [.. Analyze, "--out", "/proc/lamina-results"], true, _ => "cannot write /proc/lamina-results: ",
            (_, r) => Assert.DoesNotContain("- feature", r.Stdout)),
        ["analyze --force into a folder that holds files: replaced whole"] = new(
            s => { Directory.CreateDirectory(s.W("results")); File.WriteAllText(s.W("results", "notes.txt"), "mine"); }, _ => [.. Analyze, "--out", "results", "--force"], false,
            _ => "results in", (s, _) => { Assert.True(File.Exists(s.W("results", "report.json"))); Assert.False(File.Exists(s.W("results", "notes.txt"))); NoLeftovers(s.Work, "results"); }),
        ["analyze --force into the folder it runs in: refused, nothing removed"] = new(
            _ => { }, _ => [.. Analyze, "--out", ".", "--force"], true, s => $"{s.Work} holds {s.W("slide.tif")}, which this command reads or runs in: it is not replaced",
            (s, r) => { Assert.True(File.Exists(s.W("slide.tif"))); Assert.DoesNotContain("- feature", r.Stdout); NoLeftovers(s.Temp, "work"); }),
        ["analyze --force into the folder holding its slide: refused, the slide kept"] = new(
            s => { Directory.CreateDirectory(s.W("in")); File.Copy(s.W("slide.tif"), s.W("in", "slide.tif")); },
            _ => ["analyze", "in/slide.tif", "--config", "bundle/analysis.yaml", "--out", "in", "--force"], true, s => $"{s.W("in")} holds {s.W("in", "slide.tif")}",
            (s, _) => Assert.Equal(["slide.tif"], Names(s.W("in")))),
        ["analyze into an existing empty folder: written"] = new(
            s => Directory.CreateDirectory(s.W("results")), _ => [.. Analyze, "--out", "results"], false, _ => "results in",
            (s, _) => Assert.True(File.Exists(s.W("results", "report.json")))),
        ["analyze after killed attempts: their leftovers removed, a running one's kept"] = new(
            s =>
            {
                Directory.CreateDirectory(s.W($"results.tmp-{HostileScene.DeadOwner}"));
                File.WriteAllText(s.W($"results.tmp-{HostileScene.DeadOwner}", "overlay.tif"), "truncated");
                Directory.CreateDirectory(s.W($"results.old-{HostileScene.DeadOwner}"));
                Directory.CreateDirectory(s.W($"results.tmp-{HostileScene.LiveOwner}"));
            }, _ => [.. Analyze, "--out", "results"], false, _ => "results in",
            (s, _) =>
            {
                Assert.True(File.Exists(s.W("results", "report.json")));
                Assert.Equal([$"results.tmp-{HostileScene.LiveOwner}"], Names(s.Work).Where(n => n.StartsWith("results.", StringComparison.Ordinal)));
            }),

        // bundle
        ["bundle into a folder that holds files: refused naming it"] = new(
            _ => { }, _ => ["bundle", "release/resolved.yaml", "-o", "bundle"], true, s => $"{s.W("bundle")} already exists and is not empty",
            (s, _) => { Assert.True(File.Exists(s.W("bundle", "provenance.json"))); NoLeftovers(s.Work, "bundle"); }),
        ["bundle under a file: refused naming the file"] = new(
            s => File.WriteAllText(s.W("blocker"), "a file"), _ => ["bundle", "release/resolved.yaml", "-o", "blocker/bundle"], true,
            s => $"{s.W("blocker")} is a file, where a folder is needed", (s, _) => Assert.Equal("a file", File.ReadAllText(s.W("blocker")))),
        ["bundle --force over an earlier bundle: replaced, and it verifies"] = new(
            s => File.WriteAllText(s.W("bundle", "stray.txt"), "stray"), _ => ["bundle", "release/resolved.yaml", "-o", "bundle", "--force"], false, s => $"bundle {s.W("bundle")}: ",
            (s, _) => { Assert.False(File.Exists(s.W("bundle", "stray.txt"))); Assert.True(File.Exists(s.W("bundle", "provenance.json"))); NoLeftovers(s.Work, "bundle"); }),
        ["bundle after killed attempts (this version's and earlier ones' leftovers): removed"] = new(
            s =>
            {
                Directory.CreateDirectory(s.W($"bundle2.tmp-{HostileScene.DeadOwner}", "models"));
                var legacy = s.W($"bundle2.tmp-{Guid.NewGuid():N}");
                Directory.CreateDirectory(legacy);
                Directory.SetLastWriteTimeUtc(legacy, DateTime.UtcNow.AddHours(-2));
            }, _ => ["bundle", "release/resolved.yaml", "-o", "bundle2"], false, s => $"bundle {s.W("bundle2")}: ",
            (s, _) => { Assert.True(File.Exists(s.W("bundle2", "provenance.json"))); NoLeftovers(s.Work, "bundle2"); }),

        // models show --export
        ["models show --export into a package folder: refused, model.json untouched"] = new(
            s => { Directory.CreateDirectory(s.W("exported")); File.WriteAllText(s.W("exported", "model.json"), "{\"mine\": true}"); },
            s => ["models", "show", s.Run.ToString()[..8], "--export", "exported"], true, s => $"{s.W("exported")} already exists and is not empty",
            (s, _) => Assert.Equal("{\"mine\": true}", File.ReadAllText(s.W("exported", "model.json")))),
        ["models show --export --force: the package replaces the folder"] = new(
            s => { Directory.CreateDirectory(s.W("exported")); File.WriteAllText(s.W("exported", "model.json"), "{\"mine\": true}"); },
            s => ["models", "show", s.Run.ToString()[..8], "--export", "exported", "--force"], false, _ => "package written to",
            (s, _) => { Assert.Equal(["model.json", "network.onnx"], Names(s.W("exported"))); Assert.Contains("carcinoma_model", File.ReadAllText(s.W("exported", "model.json"))); }),
        ["models show --force without --export: refused as a usage error"] = new(
            _ => { }, s => ["models", "show", s.Run.ToString()[..8], "--force"], true, _ => "--force replaces an exported package: give --export DIR", (_, _) => { }),
        ["models show --export under a file: refused naming the file"] = new(
            s => File.WriteAllText(s.W("blocker"), "a file"), s => ["models", "show", s.Run.ToString()[..8], "--export", "blocker/exported"], true,
            s => $"{s.W("blocker")} is a file, where a folder is needed", (_, _) => { }),
        ["models show --export after a killed attempt: leftover removed"] = new(
            s => Directory.CreateDirectory(s.W($"exported.tmp-{HostileScene.DeadOwner}")), s => ["models", "show", s.Run.ToString()[..8], "--export", "exported"], false,
            _ => "package written to", (s, _) => { Assert.Equal(["model.json", "network.onnx"], Names(s.W("exported"))); NoLeftovers(s.Work, "exported"); }),

        // synth
        ["synth over an existing slide: refused naming it, the slide untouched"] = new(
            s => { Directory.CreateDirectory(s.W("slides")); File.WriteAllText(s.W("slides", "slide-000.tif"), "mine"); },
            _ => ["synth", "--out", "slides", "--size", "600x600"], true, s => $"{s.W("slides", "slide-000.tif")} already exists: nothing was written",
            (s, _) => { Assert.Equal("mine", File.ReadAllText(s.W("slides", "slide-000.tif"))); Assert.Equal(["slide-000.tif"], Names(s.W("slides"))); }),
        ["synth --force over an existing slide: replaced"] = new(
            s => { Directory.CreateDirectory(s.W("slides")); File.WriteAllText(s.W("slides", "slide-000.tif"), "mine"); },
            _ => ["synth", "--out", "slides", "--size", "600x600", "--force"], false, _ => "slides and ground truth",
            (s, _) => { Assert.True(new FileInfo(s.W("slides", "slide-000.tif")).Length > 1000); Assert.Equal(["slide-000.geojson", "slide-000.tif"], Names(s.W("slides"))); }),
        ["synth into a folder with other files: they are kept"] = new(
            s => { Directory.CreateDirectory(s.W("slides")); File.WriteAllText(s.W("slides", "README.md"), "mine"); },
            _ => ["synth", "--out", "slides", "--size", "600x600"], false, _ => "slides and ground truth",
            (s, _) => Assert.Equal(["README.md", "slide-000.geojson", "slide-000.tif"], Names(s.W("slides")))),
        ["synth under a file: refused naming the file"] = new(
            s => File.WriteAllText(s.W("blocker"), "a file"), _ => ["synth", "--out", "blocker/slides", "--size", "600x600"], true,
            s => $"{s.W("blocker")} is a file, where a folder is needed", (s, _) => Assert.Equal("a file", File.ReadAllText(s.W("blocker")))),
        ["synth after a killed attempt: its half-written slide removed"] = new(
            s => { Directory.CreateDirectory(s.W("slides")); File.WriteAllText(s.W("slides", $".slide-000.tmp-{HostileScene.DeadOwner}.tif"), "truncated"); },
            _ => ["synth", "--out", "slides", "--size", "600x600"], false, _ => "slides and ground truth",
            (s, _) => Assert.Equal(["slide-000.geojson", "slide-000.tif"], Names(s.W("slides")))),
    };

    public static TheoryData<string> Names() => new(Cases.Keys);

    [Theory]
    [MemberData(nameof(Names))]
    public async Task Hostile_StoresAndOutputs(string name)
    {
        // Given the case's setup on a copy of the home and work folder
        var hostile = Cases[name];
        using var scene = new HostileScene(template);
        hostile.Arrange(scene);

        // When its command runs
        var result = await scene.Lamina.RunAsync(scene.Work, hostile.Command(scene));

        // Then it fails (or succeeds) with the message, and leaves the stores and outputs as the case says
        Assert.True(hostile.Fails ? result.ExitCode != 0 : result.ExitCode == 0, result.ToString());
        var fragment = hostile.Fragment(scene);
        Assert.True((hostile.Fails ? result.Stderr : result.Stdout).Replace("\n", "", StringComparison.Ordinal).Contains(fragment, StringComparison.Ordinal),
            $"expected '{fragment}' in\n{result}");
        if (hostile.Fails) Assert.DoesNotContain("unexpected error", result.Stderr);
        hostile.Then(scene, result);
    }

    [Fact]
    public async Task Analyze_KilledMidway_LeavesNoResultsFolder_AndTheNextRunCleansUpAndSucceeds()
    {
        // Given a slide and model that take the analysis some seconds (4096 pixels square, tiles at 0.25 µm/px)
        using var temp = new TemporaryDirectory();
        await HostileTemplate.BuildAsync(temp.Path, slideSize: 4096, micronsPerPixel: 0.25);
        var lamina = new LaminaProcess(temp.Combine("home"));
        var work = temp.Combine("work");

        // When `lamina analyze` is killed (SIGKILL) once it has begun writing beside its results folder
        await KillOnceStartedAsync(lamina.Start(work, [.. Analyze, "--out", "results"]), work, "results", "");

        // Then no results folder is there, only the leftover beside it
        Assert.False(Directory.Exists(Path.Combine(work, "results")));
        Assert.Single(Staged(work, "results"));

        // And when it runs again, it succeeds, whole, and the leftover is gone
        var again = await lamina.RunAsync(work, [.. Analyze, "--out", "results"]);
        Assert.True(again.ExitCode == 0, again.ToString());
        Assert.True(File.Exists(Path.Combine(work, "results", "report.json")));
        NoLeftovers(work, "results");
    }

    [Fact]
    public async Task Bundle_KilledThreeTimes_LeavesNoBundleAndOneLeftover_AndTheNextBundleCleansItAndSucceeds()
    {
        // Given a model large enough (128 MB) that a bundle takes a moment to copy
        using var temp = new TemporaryDirectory();
        var network = Onnx.ModelProto.Parser.ParseFrom(AnalyzeBundleTests.TinyClassifier());
        network.DocString = new string('p', 128 << 20);
        await HostileTemplate.BuildAsync(temp.Path, Google.Protobuf.MessageExtensions.ToByteArray(network));
        var lamina = new LaminaProcess(temp.Combine("home"));
        var work = temp.Combine("work");

        // When `lamina bundle` is killed (SIGKILL) three times while it copies the model
        for (var i = 0; i < 3; i++)
        {
            await KillOnceStartedAsync(lamina.Start(work, "bundle", "release/resolved.yaml", "-o", "bundle2"), work, "bundle2",
                Path.Combine("models", "carcinoma_model", "network.onnx"));

            // Then no bundle is there, and only the last attempt's leftover: each attempt removed the one before (no pile-up)
            Assert.False(Directory.Exists(Path.Combine(work, "bundle2")));
            Assert.Single(Staged(work, "bundle2"));
        }

        // And the next bundle succeeds, verifies, and removes every leftover
        var bundle = await lamina.RunAsync(work, "bundle", "release/resolved.yaml", "-o", "bundle2");
        Assert.True(bundle.ExitCode == 0, bundle.ToString());
        var verify = await lamina.RunAsync(work, "verify", "bundle2");
        Assert.True(verify.ExitCode == 0, verify.ToString());
        NoLeftovers(work, "bundle2");
    }

    // Kills the process (SIGKILL: nothing of it runs after) once its new temporary output holds `inside` (a path in it, or "").
    private static async Task KillOnceStartedAsync(Process process, string folder, string target, string inside)
    {
        using (process)
        {
            var earlier = Staged(folder, target).ToHashSet();
            var waited = Stopwatch.StartNew();
            while (!process.HasExited && waited.Elapsed < TimeSpan.FromMinutes(1)
                && !Staged(folder, target).Any(d => !earlier.Contains(d) && Path.Exists(Path.Combine(d, inside))))
            {
                Thread.Sleep(1);
            }
            if (process.HasExited) Assert.Fail($"lamina ended before it could be killed (exit {process.ExitCode}): {await process.StandardError.ReadToEndAsync()}");
            process.Kill();
            await process.WaitForExitAsync();
        }
    }

    private static IEnumerable<string> Staged(string folder, string target) =>
        Directory.EnumerateDirectories(folder).Where(d => Path.GetFileName(d).StartsWith($"{target}.tmp-", StringComparison.Ordinal));

    private static void NoLeftovers(string folder, string target) =>
        Assert.DoesNotContain(Names(folder), n => n.StartsWith(target + ".", StringComparison.Ordinal));

    private static string[] Names(string folder) =>
        [.. Directory.GetFileSystemEntries(folder).Select(p => Path.GetFileName(p)!).Order(StringComparer.Ordinal)];

    private static byte[] RandomBytes(int count)
    {
        var bytes = new byte[count];
        new Random(12).NextBytes(bytes);
        return bytes;
    }

    private static void Overwrite(string file, long offset, int count)
    {
        using var stream = new FileStream(file, FileMode.Open, FileAccess.Write);
        stream.Position = offset;
        stream.Write(RandomBytes(count));
    }
}
