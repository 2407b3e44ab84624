using Lamina.Ship;
using Lamina.Tracking;
using Spectre.Console;

namespace Lamina.Cli;

/// <summary>What every command shares: the Ctrl+C token, why it was cancelled, and the stores of this machine.</summary>
internal static class CliContext
{
    public static CancellationToken Cancellation { get; set; }

    /// <summary>Why <see cref="Cancellation"/> was cancelled, naming the signal (what an aborted run records); null until then.</summary>
    public static string? AbortReason { get; set; }

    /// <summary>The exit code of a command stopped by a signal: 128 + the signal's number, as a shell reports it.</summary>
    public static int AbortExitCode { get; set; } = LaminaApp.Interrupted;

    public static LaminaHome Home => LaminaHome.Resolve().EnsureCreated();

    /// <summary>Where this machine's stores are (<c>LAMINA_TRACKING</c>, <c>LAMINA_ARTIFACTS</c>, <c>LAMINA_PRODUCTION</c>: environment, config.yaml, defaults).</summary>
    public static StoreSettings StoreSettingsOf(LaminaHome home) => StoreSettings.Resolve(home.Root);

    /// <summary>
    /// Opens the stores, and first marks failed every run whose process ended without recording an outcome (its lease
    /// expired, or its process on this host is gone), so no command shows or uses such a run as running.
    /// </summary>
    public static async Task<(ITrackingStore Store, IBlobStore Blobs)> OpenStoresAsync(LaminaHome home)
    {
        var settings = StoreSettingsOf(home);
        var blobs = OpenBlobs(settings);
        var store = await OpenTrackingAsync(settings);
        await ExpireStaleRunsAsync(store);
        return (store, blobs);
    }

    /// <summary>Marks failed the runs whose process ended without an outcome; a failure is a warning, never the command's end.</summary>
    public static async Task ExpireStaleRunsAsync(ITrackingStore store)
    {
        try
        {
            await store.ExpireStaleRunsAsync(TimeProvider.System, Cancellation);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Marking other runs must not stop this command (a read-only or full store); it is tried again by the next.
            WriteError($"warning: could not mark the runs whose process has ended: {e.Message}");
        }
    }

    /// <summary>The one place that chooses the tracking store's backend.</summary>
    private static async Task<ITrackingStore> OpenTrackingAsync(StoreSettings settings) => settings.Tracking.Backend switch
    {
        // Blobs or published models beside a missing or empty database mean it was lost: refused, not created afresh.
        StoreBackend.Sqlite => await SqliteTrackingStore.OpenAsync(settings.Tracking.LocalPath!, TimeProvider.System, Cancellation,
            contentFolders: settings.LocalContentFolders),
        StoreBackend.Postgres => await PostgresTrackingStore.OpenAsync(settings.Tracking.Value, TimeProvider.System, Cancellation),
        var other => throw new ArgumentOutOfRangeException(nameof(settings), other, "not a tracking store backend"),
    };

    /// <summary>The one place that chooses the artifact blob store's backend.</summary>
    private static IBlobStore OpenBlobs(StoreSettings settings) => settings.Artifacts.Backend switch
    {
        StoreBackend.Folder => new FileBlobStore(settings.Artifacts.Value),
        StoreBackend.S3 => new S3BlobStore(S3Location.Parse(settings.Artifacts.Value, settings.S3Environment(settings.Artifacts))),
        var other => throw new ArgumentOutOfRangeException(nameof(settings), other, "not an artifact store backend"),
    };

    /// <summary>Connects to the broker of remote runs (<c>LAMINA_BROKER</c>, else <c>config.yaml</c>); a clear error when none is set or it cannot be reached.</summary>
    public static async Task<Lab.Remote.RunBroker> OpenBrokerAsync(LaminaHome home, string clientName)
    {
        var settings = StoreSettingsOf(home);
        if (settings.Broker is not { } broker)
        {
            throw CliException.NoBroker(StoreSettings.BrokerVariable, settings.ConfigFile);
        }
        var location = Lab.Remote.BrokerLocation.Parse(broker.Value, broker.Source.File is null ? StoreSettings.BrokerVariable : $"{broker.Source} ({StoreSettings.BrokerVariable})");
        return await Lab.Remote.RunBroker.ConnectAsync(location, clientName, Cancellation);
    }

    /// <summary>The production store of this machine (<see cref="ProductionStore.Open"/> chooses its backend).</summary>
    public static IProductionStore OpenProduction(LaminaHome home) => ProductionStore.Open(StoreSettingsOf(home));

    /// <summary>Writes a line to standard error; a closed or broken standard error loses the line, never the command.</summary>
    public static void WriteError(string line)
    {
        try
        {
            Console.Error.WriteLine(line);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or UnauthorizedAccessException)
        {
        }
    }

    /// <summary>Writes to standard output, losing the text rather than the command when it cannot be written.</summary>
    public static void TryOutput(Action write)
    {
        ArgumentNullException.ThrowIfNull(write);
        try
        {
            write();
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or UnauthorizedAccessException)
        {
        }
    }

    /// <summary>Markup for a line on standard error.</summary>
    public static void MarkupError(string markup) => WriteError(Markup.Remove(markup));
}
