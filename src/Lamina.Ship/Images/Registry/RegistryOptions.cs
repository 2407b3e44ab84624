namespace Lamina.Ship.Images.Registry;

/// <summary>How a <see cref="RegistryClient"/> reaches its registry: credentials, insecure hosts, retries, upload chunks.</summary>
public sealed record RegistryOptions
{
    /// <summary>The variable listing registries reached over plain http (<c>host[:port]</c>, separated by ';' or ',').</summary>
    public const string InsecureRegistriesVariable = "LAMINA_INSECURE_REGISTRIES";

    /// <summary>The credentials to use; null (the default) looks them up with <see cref="RegistryCredentials.Find"/>.</summary>
    public RegistryCredentials? Credentials { get; init; }

    /// <summary>Reads environment variables (credentials, auth files, insecure hosts); the process environment by default.</summary>
    public Func<string, string?> Environment { get; init; } = System.Environment.GetEnvironmentVariable;

    /// <summary>Hosts reached over http besides <see cref="InsecureRegistriesVariable"/> and the loopback ones; none by default.</summary>
    public IReadOnlyList<string> InsecureRegistries { get; init; } = [];

    /// <summary>Tries of a request that fails transiently (connection reset, 5xx, 429); 4 by default.</summary>
    public int MaxAttempts { get; init; } = 4;

    /// <summary>The wait before the first retry, doubled after each; half a second by default.</summary>
    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Blobs larger than this are uploaded in PATCH chunks of this size, smaller ones in one PUT; 64 MiB by default.</summary>
    public long ChunkSize { get; init; } = 64L << 20;

    /// <summary>How long a connection may take to open; 30 s by default.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>The clock of retry waits and token lifetimes.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>
    /// True when <paramref name="registry"/> (<c>host[:port]</c>) is reached over http: localhost, 127.0.0.1 and [::1]
    /// (any port), and the hosts listed in <see cref="InsecureRegistries"/> or <see cref="InsecureRegistriesVariable"/>
    /// (a listed host without a port matches every port; case-insensitive).
    /// </summary>
    public bool IsInsecure(string registry)
    {
        ArgumentNullException.ThrowIfNull(registry);
        var host = HostOf(registry);
        if (host is "localhost" or "127.0.0.1" or "[::1]") return true;
        var listed = (Environment(InsecureRegistriesVariable) ?? "")
            .Split([';', ','], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Concat(InsecureRegistries);
        return listed.Any(entry =>
            string.Equals(entry, registry, StringComparison.OrdinalIgnoreCase)
            || (!HasPort(entry) && string.Equals(entry, host, StringComparison.OrdinalIgnoreCase)));
    }

    /// <summary>The host of <c>host[:port]</c> (an IPv6 host keeps its brackets), lowercased.</summary>
    internal static string HostOf(string registry)
    {
        var value = registry.ToLowerInvariant();
        if (value.StartsWith('['))
        {
            var end = value.IndexOf(']', StringComparison.Ordinal);
            return end > 0 ? value[..(end + 1)] : value;
        }
        var colon = value.LastIndexOf(':');
        return colon >= 0 ? value[..colon] : value;
    }

    private static bool HasPort(string entry) => HostOf(entry).Length != entry.Length;
}
