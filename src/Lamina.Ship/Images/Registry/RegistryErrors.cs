using System.Net;
using System.Text.Json;
using Lamina.Core;

namespace Lamina.Ship.Images.Registry;

/// <summary>A registry failure that trying again later may fix (a reset connection, a 5xx or 429 after every retry).</summary>
internal sealed class TransientImageException(string message, Exception? inner = null) : ImageException(message, inner)
{
    public override bool IsTransient => true;
}

/// <summary>The messages of registry failures: each names the registry, the repository and the reference or digest.</summary>
internal static class RegistryErrors
{
    /// <summary>True when nothing listens where the request went.</summary>
    public static bool IsRefused(HttpRequestException e) =>
        (e.InnerException as System.Net.Sockets.SocketException ?? e.InnerException?.InnerException as System.Net.Sockets.SocketException)?.SocketErrorCode
        == System.Net.Sockets.SocketError.ConnectionRefused;

    public static ImageException Unreachable(string registry, Uri uri, HttpRequestException e, bool insecure) =>
        e.HttpRequestError switch
        {
            HttpRequestError.SecureConnectionError => new ImageException(
                $"registry {registry}: TLS failure talking to {uri.GetLeftPart(UriPartial.Authority)} ({Inner(e)}); a registry that serves plain http must be listed in {RegistryOptions.InsecureRegistriesVariable}", e)
            { At = registry, Kind = LaminaErrorKind.Unavailable },
            HttpRequestError.NameResolutionError => new ImageException($"registry {registry}: the host name does not resolve ({Inner(e)})", e)
            { At = registry, Kind = LaminaErrorKind.Unavailable },
            _ when IsRefused(e) => new TransientImageException(
                $"registry {registry}: connection refused at {uri.GetLeftPart(UriPartial.Authority)} (is the registry running{(insecure ? "" : ", and does it serve https")}?)", e)
            { At = registry },
            _ => new TransientImageException($"registry {registry}: {uri.AbsolutePath} failed: {Inner(e)}", e) { At = registry },
        };

    public static ImageException NeedsCredentials(string registry, string what, Func<string, string?> environment) =>
        new($"{what}: the registry needs credentials (401) and none were found (looked in {RegistryCredentials.Searched(environment)})")
        { At = registry, Kind = LaminaErrorKind.Usage };

    public static ImageException Unauthorized(string registry, string what, RegistryCredentials? credentials, HttpStatusCode status, string detail) =>
        new($"{what}: the registry refused it ({(int)status} {status}) with {Using(credentials)}{detail}")
        { At = registry, Kind = LaminaErrorKind.Usage };

    public static ImageException TokenRefused(string registry, string realm, RegistryCredentials? credentials, HttpStatusCode status, string detail,
        Func<string, string?> environment) =>
        new($"registry {registry}: its token server {realm} refused " + (credentials is null
            ? $"anonymous access ({(int)status} {status}){detail}; no credentials were found (looked in {RegistryCredentials.Searched(environment)})"
            : $"{Using(credentials)} ({(int)status} {status}){detail}"))
        { At = registry, Kind = LaminaErrorKind.Usage };

    public static ImageException Unexpected(string registry, string what, HttpStatusCode status, string detail) =>
        (int)status >= 500 || status == HttpStatusCode.TooManyRequests
            ? new TransientImageException($"registry {registry}: {what} failed ({(int)status} {status}){detail}") { At = registry }
            : new ImageException($"registry {registry}: {what} failed ({(int)status} {status}){detail}") { At = registry };

    public static string Using(RegistryCredentials? credentials) => credentials is null ? "no credentials (anonymous)" : $"the credentials of {credentials}";

    /// <summary>The registry's own words (<c>{"errors":[{"code","message"}]}</c>), as ": CODE message; ...", or empty.</summary>
    public static async Task<string> DetailAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        try
        {
            var bytes = await response.Content.ReadAsByteArrayAsync(cancellationToken);
            if (bytes.Length is 0 or > 64 << 10) return "";
            using var document = JsonDocument.Parse(bytes);
            if (!document.RootElement.TryGetProperty("errors", out var errors) || errors.ValueKind != JsonValueKind.Array) return "";
            var parts = errors.EnumerateArray().Select(e =>
                $"{(e.TryGetProperty("code", out var c) ? c.GetString() : "")} {(e.TryGetProperty("message", out var m) ? m.GetString() : "")}".Trim());
            var text = string.Join("; ", parts.Where(p => p.Length > 0));
            return text.Length == 0 ? "" : $": {text}";
        }
        catch (Exception e) when (e is JsonException or HttpRequestException or IOException or InvalidOperationException)
        {
            return "";
        }
    }

    private static string Inner(Exception e)
    {
        var innermost = e;
        while (innermost.InnerException is { } inner) innermost = inner;
        return innermost == e ? e.Message : $"{e.Message} {innermost.Message}";
    }
}
