namespace Lamina.Serve;

/// <summary>The analysis service's host: <c>lamina-serve</c> and <c>lamina serve</c> run it.</summary>
public static class ServeHost
{
    /// <summary>Runs the service until it is stopped (SIGTERM, Ctrl+C); returns the process exit code.</summary>
    public static Task<int> RunAsync(string[] args) => throw new NotImplementedException("being written");
}
