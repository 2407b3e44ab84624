using System.Diagnostics;
using System.Text;

namespace Lamina.Cli.Tests;

/// <summary>The result of one <c>lamina</c> process.</summary>
internal sealed record LaminaResult(int ExitCode, string Stdout, string Stderr, byte[] StdoutBytes)
{
    public override string ToString() => $"exit {ExitCode}\n--- stdout\n{Stdout}\n--- stderr\n{Stderr}";
}

/// <summary>Runs the real <c>lamina</c> command as a separate process, against a throw-away store.</summary>
internal sealed class LaminaProcess(string home)
{
    public string Home { get; } = home;

    /// <summary>More environment variables for every process started.</summary>
    public Dictionary<string, string> Environment { get; } = [];

    public Task<LaminaResult> RunAsync(string workingDirectory, params string[] arguments) =>
        RunAsync(DefaultTimeout, workingDirectory, arguments);

    /// <summary>Runs a command that may take longer than <see cref="DefaultTimeout"/> (the whole demo).</summary>
    public async Task<LaminaResult> RunAsync(TimeSpan timeout, string workingDirectory, params string[] arguments)
    {
        using var process = Start(workingDirectory, arguments);
        return await WaitAsync(process, timeout);
    }

    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromMinutes(5);

    public Process Start(string workingDirectory, params string[] arguments)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(TestPaths.LaminaDll);
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        // The stores are this test's: none a developer's shell names (a team database, a bucket) is inherited.
        foreach (var name in start.Environment.Keys.Where(IsStoreSetting).ToList()) start.Environment.Remove(name);
        start.Environment["LAMINA_HOME"] = Home;
        start.Environment["NO_COLOR"] = "1";
        start.Environment["COLUMNS"] = "200";
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        foreach (var (name, value) in Environment) start.Environment[name] = value;
        return Process.Start(start)!;
    }

    private static bool IsStoreSetting(string name) =>
        name.StartsWith("LAMINA_", StringComparison.Ordinal) || name.StartsWith("AWS_", StringComparison.Ordinal) || name.StartsWith("PG", StringComparison.Ordinal);

    public static async Task<LaminaResult> WaitAsync(Process process, TimeSpan? timeout = null)
    {
        using var bytes = new MemoryStream();
        var stdout = process.StandardOutput.BaseStream.CopyToAsync(bytes);
        var stderr = process.StandardError.ReadToEndAsync();
        using var limit = new CancellationTokenSource(timeout ?? DefaultTimeout);
        try
        {
            await process.WaitForExitAsync(limit.Token);
        }
        catch (OperationCanceledException)
        {
            // A process past its time is stopped, not left running behind the failed test.
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"lamina did not finish within {timeout ?? DefaultTimeout}");
        }
        await stdout;
        var raw = bytes.ToArray();
        return new LaminaResult(process.ExitCode, Encoding.UTF8.GetString(raw), await stderr, raw);
    }
}

internal static class Git
{
    public static string Run(string directory, params string[] arguments)
    {
        var start = new ProcessStartInfo("git")
        {
            WorkingDirectory = directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var a in new[] { "-c", "user.name=Test", "-c", "user.email=test@example.invalid", "-c", "init.defaultBranch=main" }.Concat(arguments))
        {
            start.ArgumentList.Add(a);
        }
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEnd();
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0) throw new InvalidOperationException($"git {string.Join(' ', arguments)}: {error}");
        return output;
    }
}
