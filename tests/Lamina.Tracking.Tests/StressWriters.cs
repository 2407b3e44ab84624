using System.Diagnostics;

namespace Lamina.Tracking.Tests;

/// <summary>The stress writer helper program (tests/Lamina.Tracking.StressWriter), run as separate processes against one store.</summary>
internal static class StressWriters
{
    /// <summary>Starts a writer creating <paramref name="runs"/> runs of <paramref name="metrics"/> metric points in <paramref name="store"/> (a SQLite path or a PostgreSQL URI).</summary>
    public static Process Start(string store, string writer, int runs, int metrics)
    {
        var info = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in new[] { HelperPrograms.PathOf("Lamina.Tracking.StressWriter"), store, writer, $"{runs}", $"{metrics}" })
        {
            info.ArgumentList.Add(argument);
        }
        return Process.Start(info)!;
    }

    /// <summary>Waits for a writer, failing the test with its output when it does not end well within <paramref name="limit"/>.</summary>
    public static async Task WaitAsync(Process process, TimeSpan limit)
    {
        using (process)
        {
            var error = process.StandardError.ReadToEndAsync();
            var output = process.StandardOutput.ReadToEndAsync();
            using var timeout = new CancellationTokenSource(limit);
            await process.WaitForExitAsync(timeout.Token);
            Assert.True(process.ExitCode == 0, $"stress writer failed ({process.ExitCode}): {await error}{await output}");
        }
    }
}
