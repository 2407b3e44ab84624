using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;

namespace Lamina.Ship.Images.Registry;

/// <summary>
/// Authorizes a client's requests once the registry has said how (its first 401's <c>WWW-Authenticate</c>): Basic with
/// the credentials, or a Bearer token from the challenge's realm for the scopes a request needs, cached per scope set
/// until it expires.
/// </summary>
internal sealed class RegistryAuthenticator(string registry, HttpClient tokenClient, RegistryCredentials? credentials, TimeProvider time,
    Func<string, string?> environment)
{
    private readonly ConcurrentDictionary<string, (string Token, DateTimeOffset Expires)> _tokens = new(StringComparer.Ordinal);
    private volatile Challenge? _challenge;

    public RegistryCredentials? Credentials => credentials;

    /// <summary>Adds the Authorization header a request needs, once the registry's scheme is known.</summary>
    public async Task AuthorizeAsync(HttpRequestMessage request, IReadOnlyList<string> scopes, CancellationToken cancellationToken)
    {
        switch (_challenge)
        {
            case { Scheme: "basic" } when credentials is not null:
                request.Headers.Authorization = new AuthenticationHeaderValue("Basic", credentials.BasicValue);
                break;
            case { Scheme: "bearer" } challenge:
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", await TokenAsync(challenge, scopes, fresh: false, cancellationToken));
                break;
        }
    }

    /// <summary>
    /// Takes in a 401's challenge: true when the request should be tried again with new authorization (the first 401 of a
    /// request), false when the registry refused what was already sent.
    /// </summary>
    public async Task<bool> ChallengedAsync(HttpResponseMessage response, IReadOnlyList<string> scopes, bool retried, string what, CancellationToken cancellationToken)
    {
        if (retried) return false;
        var challenge = Parse(response.Headers.WwwAuthenticate);
        if (challenge is null) return false;
        var known = _challenge;
        _challenge = challenge;
        if (challenge.Scheme == "basic")
        {
            if (credentials is null) throw RegistryErrors.NeedsCredentials(registry, what, environment);
            // Basic credentials already sent and refused: trying them again cannot help.
            return known?.Scheme != "basic";
        }
        await TokenAsync(challenge, scopes.Count > 0 ? scopes : challenge.Scope is { } s ? [s] : [], fresh: true, cancellationToken);
        return true;
    }

    private async Task<string> TokenAsync(Challenge challenge, IReadOnlyList<string> scopes, bool fresh, CancellationToken cancellationToken)
    {
        var key = string.Join(' ', scopes);
        if (!fresh && _tokens.TryGetValue(key, out var cached) && cached.Expires > time.GetUtcNow()) return cached.Token;

        var query = new List<string>();
        if (challenge.Service is { } service) query.Add($"service={Uri.EscapeDataString(service)}");
        query.AddRange(scopes.Select(scope => $"scope={Uri.EscapeDataString(scope)}"));
        var realm = challenge.Realm ?? throw new ImageException($"registry {registry}: its Bearer challenge names no realm (token server)") { At = registry };
        var uri = new Uri(query.Count == 0 ? realm : $"{realm}{(realm.Contains('?', StringComparison.Ordinal) ? '&' : '?')}{string.Join('&', query)}");
        using var request = new HttpRequestMessage(HttpMethod.Get, uri);
        if (credentials is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Basic", credentials.BasicValue);
        HttpResponseMessage response;
        try
        {
            response = await tokenClient.SendAsync(request, cancellationToken);
        }
        catch (HttpRequestException e)
        {
            throw new ImageException($"registry {registry}: its token server {realm} cannot be reached: {e.Message}", e) { At = realm, Kind = Core.LaminaErrorKind.Unavailable };
        }
        using (response)
        {
            if (response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden)
            {
                throw RegistryErrors.TokenRefused(registry, realm, credentials, response.StatusCode, await RegistryErrors.DetailAsync(response, cancellationToken), environment);
            }
            if (!response.IsSuccessStatusCode)
            {
                throw RegistryErrors.Unexpected(registry, $"a token from {realm} for '{key}'", response.StatusCode, await RegistryErrors.DetailAsync(response, cancellationToken));
            }
            string? token;
            var lifetime = 60;
            try
            {
                using var document = JsonDocument.Parse(await response.Content.ReadAsByteArrayAsync(cancellationToken));
                var root = document.RootElement;
                token = root.TryGetProperty("token", out var t) && t.GetString() is { Length: > 0 } a ? a
                    : root.TryGetProperty("access_token", out var at) ? at.GetString() : null;
                if (root.TryGetProperty("expires_in", out var e) && e.ValueKind == JsonValueKind.Number && e.TryGetInt32(out var seconds) && seconds > 0) lifetime = seconds;
            }
            catch (JsonException e)
            {
                throw new ImageException($"registry {registry}: the token server {realm} answered with something that is not JSON: {e.Message}", e) { At = realm };
            }
            if (token is null) throw new ImageException($"registry {registry}: the token server {realm} answered without a token or access_token") { At = realm };
            // Renewed a little early, so a token does not expire between being taken and being used.
            _tokens[key] = (token, time.GetUtcNow().AddSeconds(Math.Max(1, lifetime - 10)));
            return token;
        }
    }

    private static Challenge? Parse(HttpHeaderValueCollection<AuthenticationHeaderValue> headers)
    {
        foreach (var header in headers)
        {
            var scheme = header.Scheme.ToLowerInvariant();
            if (scheme is not ("basic" or "bearer")) continue;
            var parameters = ParseParameters(header.Parameter ?? "");
            return new Challenge(scheme, parameters.GetValueOrDefault("realm"), parameters.GetValueOrDefault("service"), parameters.GetValueOrDefault("scope"));
        }
        return null;
    }

    // realm="https://auth",service="registry",scope="repository:a/b:pull,push": values may hold commas, so quotes are honoured.
    private static Dictionary<string, string> ParseParameters(string text)
    {
        var result = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        var i = 0;
        while (i < text.Length)
        {
            while (i < text.Length && (text[i] == ',' || char.IsWhiteSpace(text[i]))) i++;
            var equals = text.IndexOf('=', i);
            if (equals < 0) break;
            var name = text[i..equals].Trim();
            i = equals + 1;
            string value;
            if (i < text.Length && text[i] == '"')
            {
                var end = text.IndexOf('"', i + 1);
                if (end < 0) end = text.Length;
                value = text[(i + 1)..end];
                i = end + 1;
            }
            else
            {
                var end = text.IndexOf(',', i);
                if (end < 0) end = text.Length;
                value = text[i..end].Trim();
                i = end;
            }
            result[name] = value;
        }
        return result;
    }

    private sealed record Challenge(string Scheme, string? Realm, string? Service, string? Scope);
}
