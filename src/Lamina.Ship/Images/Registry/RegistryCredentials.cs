using System.Text;
using System.Text.Json;

namespace Lamina.Ship.Images.Registry;

/// <summary>
/// A user name and password for a registry, and where they came from (named in errors; the password never is: this
/// record's <see cref="ToString"/> leaves it out).
/// </summary>
public sealed record RegistryCredentials(string Username, string Password, string Source)
{
    /// <summary>The user name variable; with <see cref="PasswordVariable"/> it applies to every registry.</summary>
    public const string UsernameVariable = "LAMINA_REGISTRY_USERNAME";

    /// <summary>The password variable.</summary>
    public const string PasswordVariable = "LAMINA_REGISTRY_PASSWORD";

    /// <summary>The auth file that skopeo and podman read first.</summary>
    public const string AuthFileVariable = "REGISTRY_AUTH_FILE";

    /// <summary>The <c>Authorization: Basic</c> value.</summary>
    internal string BasicValue => Convert.ToBase64String(Encoding.UTF8.GetBytes($"{Username}:{Password}"));

    /// <summary>The user and the source, never the password.</summary>
    public override string ToString() => $"user '{Username}' from {Source}";

    /// <summary>
    /// The credentials for <paramref name="registry"/> (<c>host[:port]</c>), looked up as skopeo, podman and docker do:
    /// <see cref="UsernameVariable"/> and <see cref="PasswordVariable"/> (for every registry), then the first of the auth
    /// files <see cref="AuthFileVariable"/>, <c>$XDG_RUNTIME_DIR/containers/auth.json</c> and <c>~/.docker/config.json</c>
    /// that has an entry <c>auths.HOST.auth</c> (base64 <c>user:password</c>); null when none has.
    /// </summary>
    /// <exception cref="ImageException">An auth file that is not JSON, or an entry that is not base64 <c>user:password</c>, naming the file and entry.</exception>
    public static RegistryCredentials? Find(string registry, Func<string, string?>? environment = null)
    {
        ArgumentNullException.ThrowIfNull(registry);
        environment ??= System.Environment.GetEnvironmentVariable;
        if (environment(UsernameVariable) is { Length: > 0 } user && environment(PasswordVariable) is { } password)
        {
            return new RegistryCredentials(user, password, $"{UsernameVariable}/{PasswordVariable}");
        }
        foreach (var file in AuthFiles(environment))
        {
            if (File.Exists(file) && FromAuthFile(file, registry) is { } found) return found;
        }
        return null;
    }

    /// <summary>Where <see cref="Find"/> looks, in order, for error messages (variables, then the auth files).</summary>
    public static string Searched(Func<string, string?>? environment = null)
    {
        environment ??= System.Environment.GetEnvironmentVariable;
        var places = new List<string> { $"{UsernameVariable}/{PasswordVariable}" };
        if (environment(AuthFileVariable) is not { Length: > 0 }) places.Add($"{AuthFileVariable} (not set)");
        if (environment("XDG_RUNTIME_DIR") is not { Length: > 0 }) places.Add("$XDG_RUNTIME_DIR/containers/auth.json (XDG_RUNTIME_DIR not set)");
        places.AddRange(AuthFiles(environment));
        return string.Join(", ", places);
    }

    private static IEnumerable<string> AuthFiles(Func<string, string?> environment)
    {
        if (environment(AuthFileVariable) is { Length: > 0 } authFile) yield return authFile;
        if (environment("XDG_RUNTIME_DIR") is { Length: > 0 } runtime) yield return Path.Combine(runtime, "containers", "auth.json");
        var home = environment("HOME") is { Length: > 0 } h ? h : System.Environment.GetFolderPath(System.Environment.SpecialFolder.UserProfile);
        if (home.Length > 0) yield return Path.Combine(home, ".docker", "config.json");
    }

    private static RegistryCredentials? FromAuthFile(string file, string registry)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(File.ReadAllBytes(file));
        }
        catch (JsonException e)
        {
            throw new ImageException($"{file}: not a JSON auth file: {e.Message}", e) { At = file, Kind = Core.LaminaErrorKind.Validation };
        }
        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object || !document.RootElement.TryGetProperty("auths", out var auths)
                || auths.ValueKind != JsonValueKind.Object)
            {
                return null;
            }
            var wanted = AuthKey(registry);
            foreach (var entry in auths.EnumerateObject())
            {
                if (!string.Equals(AuthKey(entry.Name), wanted, StringComparison.OrdinalIgnoreCase) || entry.Value.ValueKind != JsonValueKind.Object) continue;
                var at = $"{file}: auths.{entry.Name}";
                if (entry.Value.TryGetProperty("auth", out var auth) && auth.ValueKind == JsonValueKind.String && auth.GetString() is { Length: > 0 } encoded)
                {
                    string decoded;
                    try
                    {
                        decoded = Encoding.UTF8.GetString(Convert.FromBase64String(encoded));
                    }
                    catch (FormatException e)
                    {
                        throw new ImageException($"{at}.auth is not base64", e) { At = file, Kind = Core.LaminaErrorKind.Validation };
                    }
                    var colon = decoded.IndexOf(':', StringComparison.Ordinal);
                    if (colon <= 0) throw new ImageException($"{at}.auth is not base64 'user:password'") { At = file, Kind = Core.LaminaErrorKind.Validation };
                    return new RegistryCredentials(decoded[..colon], decoded[(colon + 1)..], at);
                }
                if (entry.Value.TryGetProperty("username", out var u) && u.GetString() is { Length: > 0 } username
                    && entry.Value.TryGetProperty("password", out var p) && p.GetString() is { } password)
                {
                    return new RegistryCredentials(username, password, at);
                }
            }
            return null;
        }
    }

    // Entries are written as "host", "https://host" or "https://host/v1/"; Docker Hub's as index.docker.io.
    private static string AuthKey(string name)
    {
        var key = name;
        var scheme = key.IndexOf("://", StringComparison.Ordinal);
        if (scheme >= 0) key = key[(scheme + 3)..];
        var slash = key.IndexOf('/', StringComparison.Ordinal);
        if (slash >= 0) key = key[..slash];
        return key is "docker.io" or "registry-1.docker.io" ? "index.docker.io" : key;
    }
}
