using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text.Json;
using Lamina.Lab.Remote;
using Lamina.Tracking;

namespace Lamina.Cli.Tests.Ui;

/// <summary><c>lamina ui</c> as a process over a real SQLite store: where it listens, when it asks for tokens, what it wires in.</summary>
public sealed class UiCommandTests : IClassFixture<UiStore>, IDisposable
{
    private readonly UiStore _store;
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(30) };

    public UiCommandTests(UiStore store) => _store = store;

    public void Dispose() => _http.Dispose();

    [Fact]
    public async Task Ui_OnLocalhost_ServesTheRunsWithoutAToken_AndEndsCleanlyOnCtrlC()
    {
        // Given lamina ui started with its defaults but a free port
        await using var ui = await UiProcess.StartAsync(_store.Lamina, _store.WorkingDirectory, "--port", "0");

        // When the runs page is asked for without a token
        var runs = await _http.GetAsync(new Uri(ui.Address, "runs"));
        var html = await runs.Content.ReadAsStringAsync();

        // Then it answers with the store's runs, the output said where and that no token is needed, and Ctrl+C ends it with 0
        Assert.Equal("127.0.0.1", ui.Address.Host);
        Assert.True(runs.StatusCode == HttpStatusCode.OK, $"{runs.StatusCode}: {html}\n{ui}");
        Assert.Contains("data-page=\"runs\"", html);
        Assert.Contains(UiStore.Short(_store.Fast), html);
        Assert.Contains("no token needed on 127.0.0.1", ui.Stdout);
        Assert.Equal(0, await ui.StopAsync());
    }

    [Fact]
    public async Task Ui_OnEveryInterface_RequiresATokenAndSaysSo_AndAViewersTokenOpensIt()
    {
        // Given lamina ui on 0.0.0.0 over a store that has no valid token
        await using var ui = await UiProcess.StartAsync(_store.Lamina, _store.WorkingDirectory, "--host", "0.0.0.0", "--port", "0");
        var hadToken = (await ListTokensAsync()).Any(t => t.IsValidAt(DateTimeOffset.UtcNow));

        // When a page is asked for without a token, then with a viewer's token made by lamina tokens create
        var refused = await _http.GetAsync(new Uri(ui.Local, "runs"));
        var created = await _store.Lamina.RunAsync(_store.WorkingDirectory, "tokens", "create", "--owner", "dana", "--role", "viewer", "--json");
        Assert.True(created.ExitCode == 0, created.ToString());
        using var token = JsonDocument.Parse(created.Stdout);
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(ui.Local, "runs"));
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token.RootElement.GetProperty("secret").GetString());
        var accepted = await _http.SendAsync(request);

        // Then the first is refused, the second served, and the command said that tokens are required
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.True(accepted.StatusCode == HttpStatusCode.OK, $"{accepted.StatusCode}\n{ui}");
        Assert.Contains("tokens required on 0.0.0.0", ui.Stdout);
        if (!hadToken) Assert.Contains("no valid token yet", ui.Stderr);
    }

    [Fact]
    public async Task Ui_WithRequireTokens_AsksForATokenOnLocalhostToo()
    {
        // Given lamina ui on localhost with --require-tokens
        await using var ui = await UiProcess.StartAsync(_store.Lamina, _store.WorkingDirectory, "--port", "0", "--require-tokens");

        // When a page is asked for without a token
        var refused = await _http.GetAsync(new Uri(ui.Address, "runs"));

        // Then it is refused, as the output said
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.Contains("tokens required on 127.0.0.1", ui.Stdout);
    }

    [Fact]
    public async Task Ui_TracePage_WalksTheRunsLineage_ThroughTheCommandsTracer()
    {
        // Given lamina ui over the store
        await using var ui = await UiProcess.StartAsync(_store.Lamina, _store.WorkingDirectory, "--port", "0");

        // When a run's trace page is asked for
        var trace = await _http.GetAsync(new Uri(ui.Address, $"trace/{UiStore.Short(_store.Fast)}"));
        var html = await trace.Content.ReadAsStringAsync();

        // Then the lineage tracer of lamina trace answered: the page names the run and its commit
        Assert.True(trace.StatusCode == HttpStatusCode.OK, $"{trace.StatusCode}: {html}\n{ui}");
        Assert.Contains("data-page=\"trace\"", html);
        Assert.Contains(_store.Fast.ToString("D"), html);
        Assert.Contains("4f1c2d9e", html);
    }

    [Fact]
    public async Task Ui_WithABroker_ShowsTheDepthOfEachQueue()
    {
        // Given a run queued on 'gpu-ui' in the store, its job waiting in a real broker with no worker
        var broker = await RabbitMqServer.SharedAsync();
        const string queue = "gpu-ui";
        await using (var store = await _store.OpenAsync())
        {
            var environment = new EnvironmentInfo("Debian 12", "x64", "cpu", 2, 8L << 30, null, ".NET 10.0", "0.1.0", new Dictionary<string, string>());
            var run = await store.CreateRunAsync(new NewRun("Breast", "simple_train", "training", [], null, "ada", "laptop", "lamina.yaml", "{}", null,
                environment, [], RunStatus.Queued) { Queueing = new RunQueueing(queue, 3) }, CancellationToken.None);
            await using var rabbit = await RunBroker.ConnectAsync(BrokerLocation.Parse(broker.Uri.ToString(), "test"), "ui-test", CancellationToken.None);
            await rabbit.PublishAsync(new RunJob(run.Id, queue, 1, "0.1.0", "ada", DateTimeOffset.UtcNow), CancellationToken.None);
        }
        var lamina = new LaminaProcess(_store.Lamina.Home);
        lamina.Environment[StoreSettings.BrokerVariable] = broker.Uri.ToString();

        // When lamina ui, told of the broker, shows the queues page
        await using var ui = await UiProcess.StartAsync(lamina, _store.WorkingDirectory, "--port", "0");
        var page = await _http.GetStringAsync(new Uri(ui.Address, "queues"));

        // Then the queue is there with the one job the broker holds and no consumer
        Assert.Contains("data-page=\"queues\"", page);
        Assert.Contains(queue, page);
        Assert.Matches($"data-queue=\"{queue}\"[^>]*data-ready=\"1\"", page);
    }

    [Fact]
    public async Task Ui_OnAPortInUse_FailsNamingTheAddress()
    {
        // Given a port another program listens on
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        var port = ((IPEndPoint)taken.LocalEndpoint).Port;

        // When lamina ui is asked to listen there
        var result = await _store.Lamina.RunAsync(LaminaProcess.DefaultTimeout, _store.WorkingDirectory, "ui", "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture));

        // Then it ends at once, naming host and port
        Assert.Equal(ExitCodes.Unavailable, result.ExitCode);
        Assert.Contains($"127.0.0.1:{port}", result.Stderr);
    }

    [Theory]
    [InlineData("--port", "70000", "--port must be 0 to 65535, not 70000")]
    [InlineData("--host", " ", "--host must name an interface")]
    public async Task Ui_WithABadPortOrHost_IsAUsageError(string option, string value, string message)
    {
        // When lamina ui is started with a port or host that cannot be
        var result = await _store.Lamina.RunAsync(_store.WorkingDirectory, "ui", option, value);

        // Then it says so without starting
        Assert.Equal(ExitCodes.Usage, result.ExitCode);
        Assert.Contains(message, result.Stderr);
    }

    private async Task<IReadOnlyList<AccessToken>> ListTokensAsync()
    {
        await using var store = await _store.OpenAsync();
        return await ((IAccessTokenStore)store).ListTokensAsync(CancellationToken.None);
    }
}
