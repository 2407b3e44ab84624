using System.Text.Json;

namespace Lamina.Cli.Tests;

/// <summary>
/// <c>lamina demo --team</c> (issue 16, item 8): the team's story on real local servers that the demo starts in its
/// output folder and always stops.
/// </summary>
public sealed class TeamDemoTests : IDisposable
{
    private readonly TemporaryDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Theory]
    [InlineData("--base", "oci:/tmp/base:0.1.0")]
    [InlineData("--keep-servers")]
    public async Task TeamOptions_WithoutTeam_AreRefused(params string[] option)
    {
        // When a --team option is given to the embedded demo
        var result = await new LaminaProcess(_temp.Combine("home")).RunAsync(_temp.Path, ["demo", "--out", _temp.Combine("out"), .. option]);

        // Then it is refused, naming the option, before anything is made
        Assert.True(result.ExitCode != 0, result.ToString());
        Assert.Contains($"{option[0]} goes with --team", result.Stderr, StringComparison.Ordinal);
        Assert.False(Directory.Exists(_temp.Combine("out")));
    }

    [Fact]
    public async Task TeamDemo_IntoAFolderNotEmpty_IsRefused()
    {
        // Given an output folder holding something
        Directory.CreateDirectory(_temp.Combine("out"));
        await File.WriteAllTextAsync(_temp.Combine("out", "notes.txt"), "mine");

        // When the team demo is asked to write there
        var result = await new LaminaProcess(_temp.Combine("home")).RunAsync(_temp.Path, "demo", "--team", "--out", _temp.Combine("out"));

        // Then it refuses, naming the folder, and leaves it as it was
        Assert.True(result.ExitCode != 0, result.ToString());
        Assert.Contains(_temp.Combine("out"), result.Stderr, StringComparison.Ordinal);
        Assert.Equal(["notes.txt"], Directory.GetFileSystemEntries(_temp.Combine("out")).Select(Path.GetFileName));
    }

    [Fact]
    public async Task TeamDemo_WhenAServerCannotStart_NamesTheStep_KeepsTheFolder_AndStopsTheServersThatStarted()
    {
        // Given an S3 server that cannot start (LAMINA_S3RVER names a folder without s3rver)
        var lamina = new LaminaProcess(_temp.Combine("home"));
        Directory.CreateDirectory(_temp.Combine("no-s3rver"));
        lamina.Environment["LAMINA_S3RVER"] = _temp.Combine("no-s3rver");
        var output = _temp.Combine("out");

        // When the team demo runs
        var result = await lamina.RunAsync(_temp.Path, "demo", "--team", "--out", output);

        // Then it fails naming the step and the setting at fault, and keeps the folder for inspection
        Assert.True(result.ExitCode != 0, result.ToString());
        Assert.Contains("step 'servers' failed", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("LAMINA_S3RVER", result.Stderr, StringComparison.Ordinal);
        Assert.True(Directory.Exists(Path.Combine(output, "servers")));

        // And no server it started is left running: no process names or runs in its folder
        Assert.Empty(ProcessesUsing(output));
    }

    [Fact]
    public async Task TeamDemo_InterruptedByCtrlC_StopsItsServers_AndKeepsTheFolder()
    {
        // Given the team demo, past the start of its servers
        var output = _temp.Combine("out");
        using var process = new LaminaProcess(_temp.Combine("home")).Start(_temp.Path, "demo", "--team", "--out", output, "--json");
        var stderr = await WaitForLineAsync(process, "lamina store migrate");

        // When it gets Ctrl+C
        Assert.Equal(0, Signals.Interrupt(process.Id));
        var ended = await LaminaProcess.WaitAsync(process, TimeSpan.FromMinutes(2));

        // Then it stops with a failure, the servers it started are gone and their data is kept
        Assert.True(ended.ExitCode != 0, $"{stderr}\n{ended}");
        Assert.Empty(ProcessesUsing(output));
        Assert.True(File.Exists(Path.Combine(output, "servers", "postgres", "data", "PG_VERSION")), ended.ToString());
    }

    [Fact]
    public async Task TeamDemo_WithKeepServers_LeavesThemRunning_AndPrintsTheVariablesToUseThem()
    {
        // Given the team demo asked to keep its servers, past their start
        var output = _temp.Combine("out");
        using var process = new LaminaProcess(_temp.Combine("home")).Start(_temp.Path, "demo", "--team", "--keep-servers", "--out", output, "--json");
        await WaitForLineAsync(process, "lamina store migrate");
        try
        {
            // When it ends (here by Ctrl+C)
            Assert.Equal(0, Signals.Interrupt(process.Id));
            var ended = await LaminaProcess.WaitAsync(process, TimeSpan.FromMinutes(2));

            // Then it prints the variables that reach the servers, and they still answer
            var registry = System.Text.RegularExpressions.Regex.Match(ended.Stderr, "export LAMINA_INSECURE_REGISTRIES='([^']+)'");
            Assert.True(registry.Success, ended.ToString());
            Assert.Contains("export LAMINA_TRACKING='postgresql://", ended.Stderr, StringComparison.Ordinal);
            Assert.Contains("export LAMINA_BROKER='amqp://", ended.Stderr, StringComparison.Ordinal);
            using var http = new HttpClient();
            using var answer = await http.GetAsync(new Uri($"http://{registry.Groups[1].Value}/v2/"));
            Assert.True(answer.IsSuccessStatusCode, answer.ToString());
            Assert.NotEmpty(ProcessesUsing(output));
        }
        finally
        {
            // The test's own servers, by their pids
            foreach (var pid in ProcessesUsing(output).Select(p => int.Parse(p[..p.IndexOf(':', StringComparison.Ordinal)], System.Globalization.CultureInfo.InvariantCulture)))
            {
                try
                {
                    using var server = System.Diagnostics.Process.GetProcessById(pid);
                    server.Kill();
                }
                catch (Exception e) when (e is ArgumentException or InvalidOperationException)
                {
                    // Gone meanwhile.
                }
            }
        }
    }

    /// <summary>Reads the process's standard error until a line holds <paramref name="text"/>; what it read.</summary>
    private static async Task<string> WaitForLineAsync(System.Diagnostics.Process process, string text)
    {
        process.StandardInput.Close();
        var read = new System.Text.StringBuilder();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        while (await process.StandardError.ReadLineAsync(timeout.Token) is { } line)
        {
            read.AppendLine(line);
            if (line.Contains(text, StringComparison.Ordinal)) return read.ToString();
        }
        throw new InvalidOperationException($"the demo ended before '{text}':\n{read}");
    }

    [Fact]
    [Trait("Category", "Slow")]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public async Task TeamDemo_RunsTheTeamsStory_OnLocalServers_AndStopsThem()
    {
        // Given a fresh folder and Lamina's base image: LAMINA_TEST_BASE_IMAGE where one was built, else the one the chroot
        // test builds too (mmdebstrap's root filesystem and the self-contained publish made once for both; the demo's own
        // base build is the same 'lamina image base' with its defaults)
        var lamina = new LaminaProcess(_temp.Combine("home"));
        var output = _temp.Combine("team");
        var baseImage = Environment.GetEnvironmentVariable("LAMINA_TEST_BASE_IMAGE");
        if (baseImage is not { Length: > 0 })
        {
            var layout = _temp.Combine("base");
            using var built = await Images.BaseImageFixture.BuildBaseAsync(lamina, _temp.Path, layout);
            baseImage = $"oci:{layout}:0.1.0";
        }
        string[] extra = ["--base", baseImage];

        // When the team demo runs, on the smallest slides the embedded demo's tests use
        var result = await lamina.RunAsync(TimeSpan.FromMinutes(40), _temp.Path, ["demo", "--team", "--out", output, "--slide-size", "4096", "--json", .. extra]);

        // Then every step ran, narrated, and the folder holds what each made
        Assert.True(result.ExitCode == 0, result.ToString());
        using var json = JsonDocument.Parse(result.Stdout);
        var root = json.RootElement;
        var runs = root.GetProperty("runs");
        var carcinoma = runs.GetProperty("simple_train").GetString()!;
        Assert.Matches("^[0-9a-f-]{36}$", runs.GetProperty("train_mitosis").GetString()!);
        Assert.Contains("lamina store migrate", result.Stderr, StringComparison.Ordinal);
        Assert.Contains($"run {carcinoma[..8]} trained by the worker", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("copied to the S3 production store", result.Stderr, StringComparison.Ordinal);
        Assert.True(Directory.Exists(Path.Combine(output, "servers", "s3", "data", "production")));
        var analysis = await File.ReadAllTextAsync(Path.Combine(output, "customers", "hospital-a", "analysis.yaml"));
        Assert.Contains(carcinoma, analysis, StringComparison.Ordinal);
        Assert.DoesNotContain("RUN_ID_", analysis, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(output, "keys", "release.pub")));
        var image = root.GetProperty("image").GetString()!;
        Assert.EndsWith("/customers/hospital-a:1.0.0", image, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(output, "results", "held-out", "report.json")));
        Assert.Equal(root.GetProperty("results").GetString(), Path.Combine(output, "results", "held-out"));
        var trace = await File.ReadAllTextAsync(Path.Combine(output, "trace.txt"));
        Assert.Contains(carcinoma, trace, StringComparison.Ordinal);
        Assert.Contains("verify-image", result.Stderr, StringComparison.Ordinal);
        Assert.Contains(Git.Run(Path.Combine(output, "normalization-test"), "rev-parse", "HEAD").Trim(), trace, StringComparison.Ordinal);

        // And the servers are stopped, their data left in the folder
        Assert.Contains("stopped the servers", result.Stderr, StringComparison.Ordinal);
        Assert.Empty(ProcessesUsing(output));
        Assert.True(File.Exists(Path.Combine(output, "servers", "postgres", "data", "PG_VERSION")));
    }

    /// <summary>The processes whose command line or environment names <paramref name="folder"/> (a server, a worker or a service the demo started there).</summary>
    internal static List<string> ProcessesUsing(string folder)
    {
        var found = new List<string>();
        foreach (var proc in Directory.GetDirectories("/proc").Where(d => int.TryParse(Path.GetFileName(d), out _)))
        {
            try
            {
                var cmdline = File.ReadAllText(Path.Combine(proc, "cmdline")).Replace('\0', ' ');
                var environ = File.ReadAllText(Path.Combine(proc, "environ")).Replace('\0', ' ');
                var cwd = new DirectoryInfo(Path.Combine(proc, "cwd")).LinkTarget ?? "";
                // The watchdogs name the folder only in a shell script that waits; real servers name it, or run in it.
                if ((cmdline.Contains(folder, StringComparison.Ordinal) || environ.Contains(folder, StringComparison.Ordinal) || cwd.StartsWith(folder, StringComparison.Ordinal))
                    && !cmdline.Contains("while kill -0", StringComparison.Ordinal))
                {
                    found.Add($"{Path.GetFileName(proc)}: {cmdline}");
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Gone meanwhile.
            }
        }
        return found;
    }
}
