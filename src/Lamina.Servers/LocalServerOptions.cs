namespace Lamina.Servers;

/// <summary>What becomes of a local server when the process that started it ends.</summary>
/// <param name="StopWithOwner">
/// Stop the server once the starting process has ended, however it ended (kill -9 included), through a watchdog in a
/// session of its own. Default true; false leaves it running for others to use (<c>lamina demo --team --keep-servers</c>).
/// </param>
/// <param name="RemoveFolderWithOwner">Also delete the server's folder then (throw-away servers of tests). Default false: the data stays.</param>
public sealed record LocalServerOptions(bool StopWithOwner = true, bool RemoveFolderWithOwner = false)
{
    /// <summary>Stopped with the starting process; the folder stays.</summary>
    public static LocalServerOptions Default { get; } = new();
}
