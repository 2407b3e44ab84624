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

    /// <summary>
    /// Opens the stores, and first marks failed every run whose process ended without recording an outcome (its lease
    /// expired, or its process on this host is gone), so no command shows or uses such a run as running.
    /// </summary>
    public static async Task<(ITrackingStore Store, IBlobStore Blobs)> OpenStoresAsync(LaminaHome home)
    {
        // Blobs or published models beside a missing or empty database mean it was lost: refused, not created afresh.
        var store = await SqliteTrackingStore.OpenAsync(home.DatabasePath, TimeProvider.System, Cancellation,
            contentFolders: [home.BlobsPath, OpenProduction(home).Location]);
        try
        {
            await store.ExpireStaleRunsAsync(TimeProvider.System, Cancellation);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Marking other runs must not stop this command (a read-only or full store); it is tried again by the next.
            WriteError($"warning: could not mark the runs whose process has ended: {e.Message}");
        }
        return (store, new FileBlobStore(home.BlobsPath));
    }

    /// <summary>The production store of this machine: <c>LAMINA_PRODUCTION</c>, else the folder in the Lamina home.</summary>
    public static IProductionStore OpenProduction(LaminaHome home) => ProductionStore.Resolve(home.Root);

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
