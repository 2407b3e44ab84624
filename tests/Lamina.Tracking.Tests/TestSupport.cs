using System.Diagnostics;
using System.Text;
using Microsoft.Extensions.Time.Testing;

namespace Lamina.Tracking.Tests;

internal static class Samples
{
    /// <summary>
    /// A completed run with a metric (at <paramref name="metricTime"/>), a log, an artifact and model 'tumour' with card
    /// <paramref name="card"/>, published a minute later with manifest <paramref name="manifest"/>.
    /// </summary>
    public static async Task<RunRecord> PublishedRunAsync(ITrackingStore store, FakeTimeProvider time, DateTimeOffset metricTime, string card, string manifest)
    {
        var run = await store.CreateRunAsync(Run(), CancellationToken.None);
        await store.LogMetricsAsync(run.Id, [new("loss", 1, 0.5, metricTime)], CancellationToken.None);
        await store.AppendLogAsync(run.Id, "epoch 1", CancellationToken.None);
        await store.AddArtifactAsync(run.Id, "model/tumour/head.onnx", new string('1', 64), 10, CancellationToken.None);
        await store.RegisterModelAsync(run.Id, "tumour", "trained", card, CancellationToken.None);
        await store.FinishRunAsync(run.Id, RunStatus.Completed, null, CancellationToken.None);
        time.Advance(TimeSpan.FromMinutes(1));
        var (_, already) = await store.MarkPublishedAsync(
            new NewPublication(run.Id, "tumour", manifest, time.GetUtcNow(), "ada@gpu-01", "validated"), CancellationToken.None);
        Assert.False(already);
        return run;
    }

    public static EnvironmentInfo Environment { get; } = new(
        "Linux 6.1", "x64", "Test CPU @ 3 GHz", 16, 64L << 30, "NVIDIA H100; 550.54", ".NET 10.0.0", "0.1.0+abc",
        new Dictionary<string, string> { ["Lamina.Core"] = "0.1.0", ["YamlDotNet"] = "16.3.0" });

    public static GitInfo Git { get; } = new("/repo", "git@example.org:lab/lamina.git", "main",
        "0123456789abcdef0123456789abcdef01234567", true, new string('a', 64), 1234);

    public static NewRun Run(string project = "pathology", string task = "simple_train", RunStatus initial = RunStatus.Running) => new(
        project, task, "training", ["baseline", "he"], "first try", "ada", "gpu-01", "experiments/lamina.yaml",
        """{"models":{"m":{"cls":"Linear"}}}""", Git, Environment,
        [new SourceFileDigest("plugins/b.cs", new string('b', 64)), new SourceFileDigest("plugins/a.cs", new string('c', 64))],
        initial);
}

/// <summary>Runs git for test setup; fails the test on a non-zero exit.</summary>
internal static class Git
{
    public static async Task<string> RunAsync(string directory, params string[] arguments) =>
        Encoding.UTF8.GetString(await RunBytesAsync(directory, arguments));

    public static async Task<byte[]> RunBytesAsync(string directory, params string[] arguments)
    {
        var info = new ProcessStartInfo("git")
        {
            WorkingDirectory = directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var argument in (string[])["-c", "user.name=t", "-c", "user.email=t@t", "-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false", .. arguments])
        {
            info.ArgumentList.Add(argument);
        }

        info.Environment["GIT_TERMINAL_PROMPT"] = "0";
        using var process = Process.Start(info)!;
        process.StandardInput.Close();
        using var output = new MemoryStream();
        var copy = process.StandardOutput.BaseStream.CopyToAsync(output);
        var error = process.StandardError.ReadToEndAsync();
        await Task.WhenAll(copy, error);
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, $"git {string.Join(' ', arguments)} failed: {await error}");
        return output.ToArray();
    }
}
