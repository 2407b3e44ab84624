using Lamina.Lab.Tasks;

namespace Lamina.Lab.Tests.Tasks;

/// <summary>
/// A worker executes several runs in one process: each run's log must hold its own console output only, also from the
/// tasks and threads the run starts.
/// </summary>
public sealed class ConsoleCaptureTests
{
    [Fact]
    public async Task TwoRunsAtOnce_EachCapturesOnlyItsOwnOutput()
    {
        var start = new Barrier(2);
        async Task<string> RunAsync(string name)
        {
            await Task.Yield();
            using var capture = new ConsoleCapture(TextWriter.Null);
            start.SignalAndWait();
            for (var i = 0; i < 200; i++)
            {
                Console.WriteLine($"{name} {i}");
                await Task.Run(() => Console.Error.WriteLine($"{name} pool {i}"));
                if (i % 50 == 0)
                {
                    var thread = new Thread(() => Console.WriteLine($"{name} thread {i}"));
                    thread.Start();
                    thread.Join();
                }
            }
            return capture.Drain();
        }

        var results = await Task.WhenAll(Task.Run(() => RunAsync("alpha")), Task.Run(() => RunAsync("beta")));

        Assert.Equal(404, results[0].Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        Assert.All(results[0].Split('\n', StringSplitOptions.RemoveEmptyEntries), line => Assert.StartsWith("alpha", line, StringComparison.Ordinal));
        Assert.All(results[1].Split('\n', StringSplitOptions.RemoveEmptyEntries), line => Assert.StartsWith("beta", line, StringComparison.Ordinal));
    }
}
