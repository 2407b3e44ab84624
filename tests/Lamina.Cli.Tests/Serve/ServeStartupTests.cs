using System.Diagnostics;
using System.Net;
using Lamina.Serve.Contracts;
using Lamina.Testing;
using Xunit.Abstractions;

namespace Lamina.Cli.Tests.Serve;

/// <summary>
/// Issue 15: a service serves only a bundle that verifies whole (an altered or missing file stops it before it is ever
/// ready, naming the file), and with <c>--concurrency 2</c> analyses two requests at once.
/// </summary>
[Collection(ServeCollection.Name)]
public sealed class ServeStartupTests(ServeBundles bundles, ITestOutputHelper output) : IAsyncLifetime
{
    private ServeScope _scope = null!;

    public async Task InitializeAsync() => _scope = new ServeScope((await RabbitMqServer.SharedAsync()).Uri);

    public async Task DisposeAsync() => await _scope.DisposeAsync();

    [Theory]
    [InlineData("one byte changed", "models/carcinoma_model/network.onnx")]
    [InlineData("deleted", "models/carcinoma_model/network.onnx")]
    [InlineData("deleted", "models/carcinoma_model/model.json")]
    public async Task Bundle_WithAFileAlteredOrMissing_StopsTheServiceBeforeItIsReady_NamingTheFile(string change, string file)
    {
        // Given a copy of a bundle with one file altered by a byte, or deleted
        var bundle = bundles.Small.CopyBundleTo(_scope.Temp.Combine("bundle"));
        var path = Path.Combine(bundle, file);
        if (change == "deleted")
        {
            File.Delete(path);
        }
        else
        {
            var bytes = await File.ReadAllBytesAsync(path);
            bytes[bytes.Length / 2] ^= 0x01;
            await File.WriteAllBytesAsync(path, bytes);
        }

        // When a service is started on it, its readiness watched until it exits
        var service = _scope.Start(bundle);
        var everReady = false;
        var clock = Stopwatch.StartNew();
        while (!service.HasExited && clock.Elapsed < ServeScope.StartTimeout)
        {
            everReady |= await service.ReadyStatusAsync() == HttpStatusCode.OK;
            await Task.Delay(50);
        }
        var exitCode = await service.WaitForExitAsync(TimeSpan.FromSeconds(10));

        // Then it exits with the integrity code, never ready, naming the file in the bundle
        Assert.True(exitCode == 6, $"exit code {exitCode}, expected 6 (integrity)\n{service.Log}");
        Assert.False(everReady, $"ready on a bundle with {file} {change}\n{service.Log}");
        Assert.True(service.LinesWith(file).Count > 0, $"no line names {file}\n{service.Log}");
    }

    [Fact]
    public async Task Concurrency2_TwoSlowRequests_AreAnalysedAtOnce()
    {
        // Given a service that analyses two requests at a time, on a slow analysis
        var slow = await bundles.SlowAsync();
        var service = await _scope.StartReadyAsync(slow.Bundle, ["--concurrency", "2"]);
        var client = await _scope.ClientAsync();
        string[] ids = [ServeClient.NewRequestId("one"), ServeClient.NewRequestId("two")];

        // When two requests are submitted together
        foreach (var id in ids) await client.SubmitAsync(new AnalysisRequest(id, slow.Slide, ServeBundle.Analysis, _scope.Temp.Combine(id)));
        var answers = new List<ServeEvent>();
        foreach (var id in ids) answers.Add(await client.WaitForAsync(id, TimeSpan.FromSeconds(180), _scope.Logs));

        // Then both complete, the second taken before the first was answered, within a fraction of an analysis
        Assert.All(answers, a => Assert.True(a.IsCompleted, $"{a}\n{_scope.Logs()}"));
        var taken = ids.Select(id => Assert.Single(service.AnalysingLines(id)).At).Order().ToList();
        var firstAnswer = answers.Min(a => a.ReceivedAt);
        var shortest = answers.Min(a => a.Completed.Timings.Analysis);
        output.WriteLine($"taken {(taken[1] - taken[0]).TotalSeconds:0.00} s apart; analyses of {string.Join(" and ", answers.Select(a => $"{a.Completed.Timings.Analysis:0.0} s"))}");
        Assert.True(taken[1] < firstAnswer, $"the second request was taken at {taken[1]:HH:mm:ss.fff}, after the first was answered at {firstAnswer:HH:mm:ss.fff}\n{service.Log}");
        Assert.True((taken[1] - taken[0]).TotalSeconds < shortest / 2, $"taken {(taken[1] - taken[0]).TotalSeconds:0.00} s apart, analyses of {shortest:0.0} s\n{service.Log}");
        foreach (var id in ids) ServeResults.Verify(_scope.Temp.Combine(id), id);
    }
}
