using System.ComponentModel;
using System.Globalization;
using Lamina.Cli.Rendering;
using Lamina.Tracking;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Lamina.Cli.Commands;

/// <summary>
/// <c>lamina tokens create --owner NAME --role viewer|operator|admin [--expires-in 90d]</c>: a token for the web UI, kept
/// hashed in the tracking store; the secret is printed once.
/// </summary>
public sealed class TokensCreateCommand : AsyncCommand<TokensCreateCommand.Settings>
{
    public sealed class Settings : OutputSettings
    {
        [CommandOption("--owner <NAME>")]
        [Description("Whom the token is for: what the audit entries of writes made with it name (ui:NAME).")]
        public string Owner { get; init; } = "";

        // A string, parsed on use, as lamina runs list --status: an enum of Lamina.Tracking here would load that assembly
        // for every command.
        [CommandOption("--role <ROLE>")]
        [Description("viewer (reads), operator (also aborts and requeues runs) or admin (also manages tokens).")]
        public string Role { get; init; } = "";

        [CommandOption("--expires-in <SPAN>")]
        [Description("How long the token is valid: a number and a unit, e.g. 90d (the default), 12h, 2w, 1y.")]
        public string ExpiresIn { get; init; } = "90d";

        public override ValidationResult Validate()
        {
            if (string.IsNullOrWhiteSpace(Owner)) return ValidationResult.Error("--owner is needed: whom the token is for (e.g. --owner alice)");
            if (TokenRoles.Parse(Role) is null) return ValidationResult.Error($"--role must be viewer, operator or admin, not '{Role}'");
            return TokenLifetime.TryParse(ExpiresIn, out _, out var problem) ? ValidationResult.Success() : ValidationResult.Error($"--expires-in: {problem}");
        }
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings)
    {
        TokenLifetime.TryParse(settings.ExpiresIn, out var lifetime, out _);
        var (store, _) = await CliContext.OpenStoresAsync(CliContext.Home);
        await using var __ = store;
        var tokens = TokenRoles.StoreOf(store);
        var expiresAt = DateTimeOffset.UtcNow + lifetime;
        var (token, secret) = await tokens.CreateTokenAsync(settings.Owner.Trim(), TokenRoles.Parse(settings.Role)!.Value, expiresAt, CliContext.Cancellation);
        if (settings.Json)
        {
            JsonOutput.Write(new { token.Id, token.Owner, Role = TokenRoles.Text(token.Role), token.CreatedAt, token.ExpiresAt, token.CreatedBy, Secret = secret });
            return ExitCodes.Ok;
        }
        // The secret alone on its own line, so that a script can take it with `tail -n 1`.
        AnsiConsole.Console.MarkupLineEscaped($"token {token.Id} for {token.Owner} ({TokenRoles.Text(token.Role)}), valid until {Formats.Time(token.ExpiresAt)} UTC");
        AnsiConsole.Console.MarkupLine("[yellow]the secret is shown this once (the store keeps only its hash): give it to its owner now[/]");
        Console.Out.WriteLine(secret);
        return ExitCodes.Ok;
    }
}

/// <summary><c>lamina tokens list</c>: every web UI token, newest first, with whether it is valid, expired or revoked.</summary>
public sealed class TokensListCommand : AsyncCommand<OutputSettings>
{
    public override async Task<int> ExecuteAsync(CommandContext context, OutputSettings settings)
    {
        var (store, _) = await CliContext.OpenStoresAsync(CliContext.Home);
        await using var __ = store;
        var tokens = await TokenRoles.StoreOf(store).ListTokensAsync(CliContext.Cancellation);
        var now = DateTimeOffset.UtcNow;
        if (settings.Json)
        {
            JsonOutput.Write(tokens.Select(t => new
            {
                t.Id, t.Owner, Role = TokenRoles.Text(t.Role), t.CreatedAt, t.ExpiresAt, t.CreatedBy, t.RevokedAt, State = TokenRoles.State(t, now),
            }));
            return ExitCodes.Ok;
        }
        if (tokens.Count == 0)
        {
            AnsiConsole.MarkupLine("[grey]no tokens: 'lamina tokens create --owner NAME --role viewer' makes one (needed by 'lamina ui' on any host but localhost)[/]");
            return ExitCodes.Ok;
        }
        var table = new Table().AddColumns("id", "owner", "role", "created (UTC)", "by", "expires (UTC)", "state");
        foreach (var t in tokens)
        {
            var state = TokenRoles.State(t, now);
            table.AddRow(Markup.Escape(t.Id), Markup.Escape(t.Owner), TokenRoles.Text(t.Role), Formats.Time(t.CreatedAt), Markup.Escape(t.CreatedBy),
                Formats.Time(t.ExpiresAt), state == "valid" ? "[green]valid[/]" : $"[grey]{state}[/]");
        }
        AnsiConsole.Write(table);
        return ExitCodes.Ok;
    }
}

/// <summary><c>lamina tokens revoke ID [--reason TEXT]</c>: the token stops working at once; the revocation is in the audit trail.</summary>
public sealed class TokensRevokeCommand : AsyncCommand<TokensRevokeCommand.Settings>
{
    public sealed class Settings : OutputSettings
    {
        [CommandArgument(0, "<ID>")]
        [Description("The token's id, as 'lamina tokens list' shows it.")]
        public string Id { get; init; } = "";

        [CommandOption("--reason <TEXT>")]
        [Description("Why, for the audit trail (default: revoked with lamina tokens revoke).")]
        public string Reason { get; init; } = "revoked with lamina tokens revoke";
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings)
    {
        var (store, _) = await CliContext.OpenStoresAsync(CliContext.Home);
        await using var __ = store;
        var token = await TokenRoles.StoreOf(store).RevokeTokenAsync(settings.Id.Trim(), settings.Reason, CliContext.Cancellation);
        if (settings.Json)
        {
            JsonOutput.Write(new { token.Id, token.Owner, Role = TokenRoles.Text(token.Role), token.RevokedAt });
            return ExitCodes.Ok;
        }
        AnsiConsole.Console.MarkupLineEscaped($"token {token.Id} of {token.Owner} revoked at {Formats.Time(token.RevokedAt)} UTC");
        return ExitCodes.Ok;
    }
}

/// <summary>Roles as the command line writes them, and the token store behind a tracking store.</summary>
internal static class TokenRoles
{
    public static AccessRole? Parse(string? text) => text?.Trim().ToLowerInvariant() switch
    {
        "viewer" => AccessRole.Viewer,
        "operator" => AccessRole.Operator,
        "admin" => AccessRole.Admin,
        _ => null,
    };

    public static string Text(AccessRole role) => role.ToString().ToLowerInvariant();

    /// <summary><c>valid</c>, <c>revoked</c> or <c>expired</c>.</summary>
    public static string State(AccessToken token, DateTimeOffset now) =>
        token.RevokedAt is not null ? "revoked" : token.IsValidAt(now) ? "valid" : "expired";

    /// <exception cref="CliException">The store keeps no tokens (a backend that predates them).</exception>
    public static IAccessTokenStore StoreOf(ITrackingStore store) =>
        store as IAccessTokenStore ?? throw CliException.TokensNotKept(store.GetType().Name);
}

/// <summary>A token's lifetime as the command line writes it: a whole number and a unit (h, d, w or y).</summary>
internal static class TokenLifetime
{
    /// <summary>The longest lifetime: a token outliving ten years is a token nobody remembers to revoke.</summary>
    public static readonly TimeSpan Longest = TimeSpan.FromDays(3650);

    public static bool TryParse(string text, out TimeSpan lifetime, out string problem)
    {
        lifetime = TimeSpan.Zero;
        problem = "";
        var trimmed = text.Trim();
        var unit = trimmed.Length == 0 ? ' ' : char.ToLowerInvariant(trimmed[^1]);
        TimeSpan? one = unit switch
        {
            'h' => TimeSpan.FromHours(1),
            'd' => TimeSpan.FromDays(1),
            'w' => TimeSpan.FromDays(7),
            'y' => TimeSpan.FromDays(365),
            _ => null,
        };
        if (one is null || !int.TryParse(trimmed[..^1], NumberStyles.None, CultureInfo.InvariantCulture, out var count) || count < 1)
        {
            problem = $"'{text}' is not a lifetime: a whole number and h, d, w or y (e.g. 90d, 12h, 2w, 1y)";
            return false;
        }
        if (count > Longest / one.Value)
        {
            problem = $"'{text}' is longer than {Longest.TotalDays.ToString(CultureInfo.InvariantCulture)} days: make a shorter token and a new one when it expires";
            return false;
        }
        lifetime = one.Value * count;
        return true;
    }
}
