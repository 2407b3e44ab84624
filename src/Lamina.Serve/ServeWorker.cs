using Lamina.Core;
using Lamina.Serve.Broker;
using Lamina.Serve.Requests;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Lamina.Serve;

/// <summary>
/// The service's work: loads what it serves (verify, load, warm up), connects to the broker, then runs
/// <see cref="ServeOptions.Concurrency"/> slots, each taking and answering one request at a time, until the host stops.
/// Stopping takes no more requests, lets the running analyses finish within the grace period, then returns the rest.
/// </summary>
internal sealed class ServeWorker(ServeOptions options, ServeState state, IHostApplicationLifetime lifetime, ILogger<ServeWorker> logger) : BackgroundService
{
    private readonly CancellationTokenSource _abort = new();

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        ServedBundle? served = null;
        try
        {
            var scratch = Directory.CreateDirectory(Path.Combine(options.Scratch ?? Path.Combine(Path.GetTempPath(), "lamina-serve"), state.Instance)).FullName;
            SlideSource.ClearScratch(scratch);
            served = await Task.Run(() => ServedBundle.LoadAsync(options, Path.Combine(Path.GetDirectoryName(scratch)!, "plugin-cache"), scratch, logger, stoppingToken), stoppingToken)
                .ConfigureAwait(false);
            state.Served = served;

            await using var broker = new ServeBroker(new Uri(options.Broker), $"lamina-serve {state.Instance}", logger);
            state.Broker = broker;
            await broker.DeclareAsync(options.Queue, stoppingToken).ConfigureAwait(false);
            using var s3 = new S3Objects();
            await using var hold = new HoldLease(broker, options.Queue, state.Instance, TimeSpan.FromSeconds(options.Lease), logger);
            await hold.StartAsync(stoppingToken).ConfigureAwait(false);
            var processor = new RequestProcessor(served, options, state.Instance, scratch, hold, s3, state.Metrics, logger);

            state.Metrics.Status = "ready";
            logger.LogInformation("ready: serving {Analyses} from {File} on queue '{Queue}' of {Broker}, {Concurrency} at a time, as {Instance}",
                string.Join(", ", served.Names), served.AnalysisFile, options.Queue, broker.Redacted, options.Concurrency, state.Instance);
            await Task.WhenAll(Enumerable.Range(0, options.Concurrency).Select(_ => Task.Run(() => SlotAsync(broker, processor, stoppingToken), CancellationToken.None)))
                .ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            state.Metrics.Status = "failed";
            state.ExitCode = e is LaminaException lamina ? ExitCodeOf(lamina.Kind) : 70;
            logger.LogCritical("cannot serve: {Message}", e is LaminaException ? e.Message : e.ToString());
            await Console.Error.WriteLineAsync($"error: {e.Message}").ConfigureAwait(false);
            lifetime.StopApplication();
        }
        finally
        {
            state.Broker = null;
            served?.Dispose();
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        if (state.Metrics.Status == "ready") state.Metrics.Status = "stopping";
        var running = state.Metrics.InFlight;
        if (running > 0) logger.LogInformation("stopping: no more requests; {Running} analysis(es) running get {Grace} s to finish", running, options.Grace);
        // Base.StopAsync cancels the stopping token (no slot takes another request) and waits for ExecuteAsync, which waits
        // for the slots; past the grace period, the running analyses are cancelled and their requests returned.
        using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(options.Grace));
        using var _ = grace.Token.Register(() => _abort.Cancel());
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
        logger.LogInformation("stopped");
    }

    public override void Dispose()
    {
        _abort.Dispose();
        base.Dispose();
    }

    private async Task SlotAsync(ServeBroker broker, RequestProcessor processor, CancellationToken stoppingToken)
    {
        await using var slot = new RequestSlot(broker, options.Queue, logger);
        while (!stoppingToken.IsCancellationRequested)
        {
            TakenRequest taken;
            try
            {
                taken = await slot.TakeAsync(stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            try
            {
                await processor.ProcessAsync(slot, taken, _abort.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException || !_abort.IsCancellationRequested)
            {
                // A request the processor could not settle (the broker lost mid-way): it is still held, or back on the queue.
                logger.LogError(e, "a request could not be settled; it comes back from the queue or the hold");
            }
        }
    }

    private static int ExitCodeOf(LaminaErrorKind kind) => kind switch
    {
        LaminaErrorKind.Usage => 2,
        LaminaErrorKind.Validation => 3,
        LaminaErrorKind.NotFound => 4,
        LaminaErrorKind.Conflict => 5,
        LaminaErrorKind.Integrity => 6,
        LaminaErrorKind.Unavailable => 7,
        _ => 1,
    };
}

/// <summary>What the HTTP endpoints report of the service: shared between the worker and the endpoints.</summary>
internal sealed class ServeState(string instance)
{
    public string Instance { get; } = instance;

    public ServeMetrics Metrics { get; } = new();

    public ServedBundle? Served { get; set; }

    public ServeBroker? Broker { get; set; }

    public int ExitCode { get; set; }

    /// <summary>Takes requests: everything loaded and warmed up, the broker connected, not stopping.</summary>
    public bool IsReady => Metrics.Status == "ready" && Broker is { IsOpen: true };

    /// <summary>Why not ready (or <c>ready</c>): loading, broker_unavailable, stopping, failed.</summary>
    public string Status => Metrics.Status == "ready" && Broker is not { IsOpen: true } ? "broker_unavailable" : Metrics.Status;
}
