using System.Diagnostics;

namespace Lamina.Lab.Tests.Training;

/// <summary>
/// The trained weights do not depend on the processor's vector width: the same training in child processes whose
/// runtime is told to use 16-lane vectors (AVX-512), 4-lane ones (no AVX2) or none at all gives the same digest.
/// </summary>
public sealed class VectorWidthTests
{
    [Fact]
    public async Task Training_GivesTheSameWeights_WithEveryVectorWidthAndThreadCount()
    {
        // Given the training probe, run as is and under switches that change the vector width
        (string Name, string Value)[][] switches =
        [
            [],
            [("DOTNET_MaxVectorTBitWidth", "512")],
            [("DOTNET_EnableAVX2", "0")],
            [("DOTNET_EnableHWIntrinsic", "0")],
        ];

        // When each trains on one and on two threads
        var results = new List<(string Digest, string Lanes)>();
        foreach (var set in switches)
        {
            foreach (var threads in new[] { 1, 2 })
            {
                results.Add(await ProbeAsync(set, threads));
            }
        }

        // Then every digest is the same; and the runs did use different widths where the processor has them
        Assert.Single(results.Select(r => r.Digest).Distinct());
        Assert.Contains("lanes=1", results.Select(r => r.Lanes));
        Assert.True(results.Select(r => r.Lanes).Distinct().Count() >= 2, string.Join(", ", results.Select(r => r.Lanes)));
    }

    private static async Task<(string Digest, string Lanes)> ProbeAsync((string Name, string Value)[] switches, int threads)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(HelperPrograms.PathOf("Lamina.Lab.TrainingProbe"));
        start.ArgumentList.Add(threads.ToString(System.Globalization.CultureInfo.InvariantCulture));
        foreach (var (name, value) in switches) start.Environment[name] = value;
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(2));
        Assert.True(process.ExitCode == 0, $"the probe failed ({process.ExitCode}): {await error}{await output}");
        var parts = (await output).Trim().Split(' ');
        return (parts[0], parts[1]);
    }
}
