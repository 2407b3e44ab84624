using System.Globalization;
using Lamina.Core;
using Npgsql;

namespace Lamina.Tracking;

/// <summary>
/// A PostgreSQL tracking store's address, read from a <c>postgresql://user[:password]@host[:port]/database[?key=value…]</c>
/// URI; <see cref="Redacted"/> is how it is shown (never with the password).
/// </summary>
public sealed record PostgresLocation(string Host, int Port, string Database, string? User, string ConnectionString)
{
    /// <summary>The URI without the password (<c>***</c> in its place): the only form messages and logs name.</summary>
    public required string Redacted { get; init; }

    /// <summary>True for a <c>postgresql://</c> or <c>postgres://</c> URI.</summary>
    public static bool IsPostgresUri(string? text) =>
        text is not null && (text.StartsWith("postgresql://", StringComparison.OrdinalIgnoreCase) || text.StartsWith("postgres://", StringComparison.OrdinalIgnoreCase));

    /// <summary>Reads a URI; query parameters are Npgsql connection string keys (<c>sslmode=require</c>).</summary>
    /// <exception cref="TrackingException">The URI is not a PostgreSQL URI (said without its password).</exception>
    public static PostgresLocation Parse(string uri)
    {
        ArgumentNullException.ThrowIfNull(uri);
        if (!IsPostgresUri(uri) || !Uri.TryCreate(uri, UriKind.Absolute, out var parsed) || parsed.Host.Length == 0)
        {
            throw TrackingException.NotAPostgresUri(RedactText(uri));
        }

        string? user = null, password = null;
        if (parsed.UserInfo.Length > 0)
        {
            var colon = parsed.UserInfo.IndexOf(':', StringComparison.Ordinal);
            user = Uri.UnescapeDataString(colon < 0 ? parsed.UserInfo : parsed.UserInfo[..colon]);
            password = colon < 0 ? null : Uri.UnescapeDataString(parsed.UserInfo[(colon + 1)..]);
        }
        var database = Uri.UnescapeDataString(parsed.AbsolutePath.TrimStart('/'));
        var host = parsed.Host;
        var port = parsed.Port > 0 ? parsed.Port : 5432;
        if (database.Length == 0 || database.Contains('/', StringComparison.Ordinal))
        {
            throw TrackingException.NotAPostgresUri(RedactText(uri));
        }

        var builder = new NpgsqlConnectionStringBuilder
        {
            Host = host.Trim('[', ']'),
            Port = port,
            Database = database,
            ApplicationName = "lamina",
            Timeout = 10,
            CommandTimeout = 120,
            MaxAutoPrepare = 64,
            AutoPrepareMinUsages = 2,
            MaxPoolSize = 50,
        };
        if (user is not null) builder.Username = user;
        if (password is not null) builder.Password = password;
        foreach (var pair in parsed.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var equals = pair.IndexOf('=', StringComparison.Ordinal);
            // libpq's names (application_name) are Npgsql's with spaces (Application Name).
            var key = Uri.UnescapeDataString(equals < 0 ? pair : pair[..equals]).Replace('_', ' ');
            var value = equals < 0 ? "" : Uri.UnescapeDataString(pair[(equals + 1)..]);
            try
            {
                builder[key] = value;
            }
            catch (Exception e) when (e is ArgumentException or FormatException or InvalidCastException)
            {
                throw TrackingException.NotAPostgresUri(RedactText(uri), $"unknown or invalid parameter '{key}'");
            }
        }

        var redacted = string.Create(CultureInfo.InvariantCulture,
            $"postgresql://{(user is null ? "" : Uri.EscapeDataString(user) + (password is null ? "" : ":***") + "@")}{parsed.Host}:{port}/{Uri.EscapeDataString(database)}");
        return new PostgresLocation(builder.Host, port, database, user, builder.ConnectionString) { Redacted = redacted };
    }

    /// <inheritdoc />
    public override string ToString() => Redacted;

    // A URI that does not parse is shown with anything between "://" and the last "@" before the host replaced.
    internal static string RedactText(string text)
    {
        var scheme = text.IndexOf("://", StringComparison.Ordinal);
        var at = text.LastIndexOf('@');
        return scheme >= 0 && at > scheme ? string.Concat(text.AsSpan(0, scheme + 3), "***", text.AsSpan(at)) : text;
    }
}
