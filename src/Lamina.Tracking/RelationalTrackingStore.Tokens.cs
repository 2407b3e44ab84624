using System.Data.Common;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Lamina.Tracking;

/// <summary>
/// Web UI tokens (<see cref="IAccessTokenStore"/>): the secret <c>lamina_ID_RANDOM</c> (RANDOM: 32 random bytes,
/// base64url) is shown once; the store keeps its SHA-256, finds a token by the id the secret carries and compares the
/// hashes in constant time.
/// </summary>
public abstract partial class RelationalTrackingStore : IAccessTokenStore
{
    private const string SecretPrefix = "lamina_";
    private const string TokenColumns = "id, owner, role, created_at, expires_at, created_by, revoked_at";

    /// <inheritdoc />
    public Task<(AccessToken Token, string Secret)> CreateTokenAsync(string owner, AccessRole role, DateTimeOffset expiresAt, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(owner);
        if (!Enum.IsDefined(role)) throw new ArgumentOutOfRangeException(nameof(role), role, "a token's role is viewer, operator or admin");
        var now = _time.GetUtcNow();
        if (expiresAt <= now)
        {
            throw new ArgumentException($"a token for '{owner}' must expire after now ({Format(now)}), not at {Format(expiresAt)}", nameof(expiresAt));
        }

        var id = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6));
        var secret = $"{SecretPrefix}{id}_{Base64Url(RandomNumberGenerator.GetBytes(32))}";
        var token = new AccessToken(id, owner, role, now, expiresAt.ToUniversalTime(), _actor, null);
        return AuditedAsync(async (c, tx, ct) =>
        {
            await NonQueryAsync(c, tx, """
                INSERT INTO access_tokens (id, owner, role, hash, created_at, expires_at, created_by, revoked_at)
                VALUES (@id, @owner, @role, @hash, @created, @expires, @by, NULL);
                """, ct,
                ("id", id), ("owner", owner), ("role", RoleText(role)), ("hash", HashSecret(secret)), ("created", Format(now)),
                ("expires", Format(token.ExpiresAt)), ("by", _actor)).ConfigureAwait(false);
            await AppendAuditAsync(c, tx, _actor, AuditLog.TokenCreated, id, null, JsonSerializer.Serialize(new Dictionary<string, string>
            {
                ["owner"] = owner,
                ["role"] = RoleText(role),
                ["expires_at"] = Format(token.ExpiresAt),
            }), null, ct).ConfigureAwait(false);
            return (token, secret);
        }, cancellationToken);
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<AccessToken>> ListTokensAsync(CancellationToken cancellationToken) =>
        ExecuteAsync<IReadOnlyList<AccessToken>>(write: false, async (c, tx, ct) =>
        {
            var tokens = new List<AccessToken>();
            await using var command = Command(c, tx, $"SELECT {TokenColumns} FROM access_tokens ORDER BY created_at DESC, id;");
            await using var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false);
            while (await reader.ReadAsync(ct).ConfigureAwait(false)) tokens.Add(ReadToken(reader));
            return tokens;
        }, cancellationToken);

    /// <inheritdoc />
    public Task<AccessToken> RevokeTokenAsync(string id, string reason, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(id);
        return AuditedAsync(async (c, tx, ct) =>
        {
            var token = await ReadTokenAsync(c, tx, id, ct).ConfigureAwait(false) ?? throw TrackingException.TokenNotFound(id);
            if (token.Token.RevokedAt is not null)
            {
                return token.Token;
            }

            var now = _time.GetUtcNow();
            await NonQueryAsync(c, tx, "UPDATE access_tokens SET revoked_at = @now WHERE id = @id;", ct, ("now", Format(now)), ("id", id)).ConfigureAwait(false);
            await AppendAuditAsync(c, tx, _actor, AuditLog.TokenRevoked, id,
                JsonSerializer.Serialize(new Dictionary<string, string> { ["owner"] = token.Token.Owner, ["role"] = RoleText(token.Token.Role) }),
                JsonSerializer.Serialize(new Dictionary<string, string> { ["revoked_at"] = Format(now) }),
                string.IsNullOrWhiteSpace(reason) ? null : reason, ct).ConfigureAwait(false);
            return token.Token with { RevokedAt = now };
        }, cancellationToken);
    }

    /// <inheritdoc />
    public Task<AccessToken?> AuthenticateAsync(string secret, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(secret);
        if (IdOfSecret(secret) is not { } id)
        {
            return Task.FromResult<AccessToken?>(null);
        }

        return ExecuteAsync(write: false, async (c, tx, ct) =>
        {
            if (await ReadTokenAsync(c, tx, id, ct).ConfigureAwait(false) is not { Hash: { } stored } found)
            {
                return null;
            }
            var matches = CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(stored), Encoding.ASCII.GetBytes(HashSecret(secret)));
            return matches && found.Token.IsValidAt(_time.GetUtcNow()) ? found.Token : null;
        }, cancellationToken);
    }

    /// <summary>The id a secret names (<c>lamina_ID_…</c>, ID lowercase hex), or null when it is not a token's secret.</summary>
    private static string? IdOfSecret(string secret)
    {
        if (!secret.StartsWith(SecretPrefix, StringComparison.Ordinal)) return null;
        var end = secret.IndexOf('_', SecretPrefix.Length);
        if (end <= SecretPrefix.Length || end == secret.Length - 1) return null;
        var id = secret[SecretPrefix.Length..end];
        return id.All(char.IsAsciiHexDigitLower) ? id : null;
    }

    private static string HashSecret(string secret) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(secret)));

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private static string RoleText(AccessRole role) => role.ToString().ToLowerInvariant();

    private static AccessRole ParseRole(string text) => text switch
    {
        "viewer" => AccessRole.Viewer,
        "operator" => AccessRole.Operator,
        "admin" => AccessRole.Admin,
        _ => throw new TrackingException($"the tracking store holds a token with an unknown role '{text}'"),
    };

    private static async Task<(AccessToken Token, string Hash)?> ReadTokenAsync(DbConnection c, DbTransaction? tx, string id, CancellationToken ct)
    {
        await using var command = Command(c, tx, $"SELECT {TokenColumns}, hash FROM access_tokens WHERE id = @id;", ("id", id));
        await using var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false);
        return await reader.ReadAsync(ct).ConfigureAwait(false) ? (ReadToken(reader), reader.GetString(7)) : null;
    }

    private static AccessToken ReadToken(DbDataReader reader) => new(
        reader.GetString(0), reader.GetString(1), ParseRole(reader.GetString(2)), ParseTime(reader.GetString(3)), ParseTime(reader.GetString(4)),
        reader.GetString(5), reader.IsDBNull(6) ? null : ParseTime(reader.GetString(6)));
}
