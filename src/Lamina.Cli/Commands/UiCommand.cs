using System.ComponentModel;
using System.Globalization;
using System.Text.Json.Nodes;
using Lamina.Cli.Rendering;
using Lamina.Ship;
using Lamina.Tracking;
using Lamina.Ui;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Lamina.Cli.Commands;

/// <summary>
/// <c>lamina ui [--port 8470] [--host 127.0.0.1] [--require-tokens]</c>: the web UI over this machine's stores, with the
/// command line's lineage tracer and, when a broker is configured, its queue depths; serves until Ctrl+C.
/// </summary>
public sealed class UiCommand : AsyncCommand<UiCommand.Settings>
{
    /// <summary>How often runs whose process ended without an outcome are marked failed while the UI serves.</summary>
    private static readonly TimeSpan ExpireEvery = TimeSpan.FromMinutes(1);

    public sealed class Settings : LaminaSettings
    {
        [CommandOption("-p|--port <PORT>")]
        [Description("The port to listen on (0: a free one, printed). Default 8470.")]
        public int Port { get; init; } = 8470;

        [CommandOption("--host <HOST>")]
        [Description("The interface to listen on: 127.0.0.1 (the default: this machine only, no token needed), 0.0.0.0 (every interface: every request needs a token), or an address or name.")]
        public string Host { get; init; } = "127.0.0.1";

        [CommandOption("--require-tokens")]
        [Description("Ask for a token on localhost too (tokens are always required on any other interface).")]
        public bool RequireTokens { get; init; }

        public override ValidationResult Validate()
        {
            if (Port is < 0 or > 65535) return ValidationResult.Error($"--port must be 0 to 65535, not {Port.ToString(CultureInfo.InvariantCulture)}");
            return string.IsNullOrWhiteSpace(Host) ? ValidationResult.Error("--host must name an interface (127.0.0.1, 0.0.0.0, an address or a name)") : ValidationResult.Success();
        }
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings)
    {
        var home = CliContext.Home;
        var stopping = CliContext.Cancellation;
        var (store, blobs) = await CliContext.OpenStoresAsync(home);
        await using var _ = store;
        var production = CliContext.OpenProduction(home);
        var brokerConfigured = CliContext.StoreSettingsOf(home).Broker is not null;
        var sources = new UiSources(store, blobs)
        {
            Trace = (id, token) => TraceAsync(new LineageTracer(store, blobs, production), id, token),
            QueueDepths = brokerConfigured ? token => QueueDepthsAsync(home, store, token) : null,
        };
        var options = new UiOptions(settings.Host.Trim(), settings.Port, settings.RequireTokens);

        await using var server = await UiServer.StartAsync(sources, options, stopping);
        // The first line is what a script (and the tests) read the address from.
        Console.Out.WriteLine($"lamina ui serving {server.Address}");
        if (server.TokensRequired)
        {
            AnsiConsole.Console.MarkupLineEscaped(
                $"tokens required on {options.Host}: open {server.Address}login?token=SECRET once, or send 'Authorization: Bearer SECRET'");
            var tokens = await TokenRoles.StoreOf(store).ListTokensAsync(stopping);
            if (!tokens.Any(t => t.IsValidAt(DateTimeOffset.UtcNow)))
            {
                CliContext.WriteError("warning: no valid token yet: 'lamina tokens create --owner NAME --role viewer' makes one");
            }
        }
        else
        {
            AnsiConsole.Console.MarkupLineEscaped($"no token needed on {options.Host} (this machine only); --host 0.0.0.0 serves every interface, with tokens");
        }
        if (!brokerConfigured)
        {
            AnsiConsole.Console.MarkupLine($"[grey]queue depths are not shown: no broker configured ({StoreSettings.BrokerVariable})[/]");
        }
        AnsiConsole.Console.MarkupLine("[grey]Ctrl+C stops it[/]");

        await ServeUntilStoppedAsync(store, stopping);
        return ExitCodes.Ok;
    }

    /// <summary>Waits for Ctrl+C (or SIGTERM), marking failed every minute the runs whose process has ended, as every command does on opening the store.</summary>
    private static async Task ServeUntilStoppedAsync(ITrackingStore store, CancellationToken stopping)
    {
        using var timer = new PeriodicTimer(ExpireEvery);
        try
        {
            while (await timer.WaitForNextTickAsync(stopping)) await CliContext.ExpireStaleRunsAsync(store);
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            // Ctrl+C: the server is disposed by the caller, finishing the requests in flight.
        }
    }

    /// <summary>
    /// <c>lamina trace</c> for a page: run ids, model card digests and registry images. Files and folders on this machine
    /// (reports, bundles, <c>oci:</c> layouts) are refused: a browser must not make the server read its disk.
    /// </summary>
    private static async Task<JsonObject> TraceAsync(LineageTracer tracer, string id, CancellationToken cancellationToken)
    {
        var trimmed = id.Trim();
        if (trimmed.StartsWith("oci:", StringComparison.Ordinal) || trimmed.StartsWith('/') || trimmed.StartsWith('.')
            || File.Exists(trimmed) || Directory.Exists(trimmed))
        {
            throw CliException.TraceLocalPathFromUi(trimmed);
        }
        return (await tracer.TraceAsync(trimmed, cancellationToken)).ToJson();
    }

    /// <summary>Messages ready and consumers of every queue the store knows, from a connection to the broker made for the request.</summary>
    private static async Task<IReadOnlyList<QueueDepth>> QueueDepthsAsync(LaminaHome home, ITrackingStore store, CancellationToken cancellationToken)
    {
        var queues = await store.ListQueuesAsync(cancellationToken);
        await using var broker = await CliContext.OpenBrokerAsync(home, "lamina ui");
        var depths = new List<QueueDepth>(queues.Count);
        foreach (var queue in queues)
        {
            if (await broker.GetQueueStatsAsync(queue.Name, cancellationToken) is { } stats)
            {
                depths.Add(new QueueDepth(queue.Name, stats.Messages, stats.Consumers));
            }
        }
        return depths;
    }
}
