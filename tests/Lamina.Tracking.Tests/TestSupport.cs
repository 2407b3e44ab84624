using System.Diagnostics;
using System.Text;

namespace Lamina.Tracking.Tests;

internal static class Samples
{
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
