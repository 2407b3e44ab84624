using System.ComponentModel;
using Lamina.Cli.Rendering;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Lamina.Cli.Commands;

/// <summary><c>lamina audit log [--object ID]</c>: the audit trail, oldest first.</summary>
public sealed class AuditLogCommand : AsyncCommand<AuditLogCommand.Settings>
{
    public sealed class Settings : OutputSettings
    {
        [CommandOption("--object <ID>")]
        [Description("Only entries whose object starts with ID (a run id shows the run's entries and its models').")]
        public string? Object { get; init; }
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings)
    {
        var (store, _) = await CliContext.OpenStoresAsync(CliContext.Home);
        await using var __ = store;
        var entries = await store.ListAuditAsync(settings.Object?.Trim().ToLowerInvariant(), CliContext.Cancellation);
        if (settings.Json)
        {
            JsonOutput.Write(entries);
            return 0;
        }
        if (entries.Count == 0)
        {
            AnsiConsole.MarkupLine(settings.Object is null ? "[grey]the audit log is empty[/]" : $"[grey]no audit entries for '{Markup.Escape(settings.Object)}'[/]");
            return 0;
        }
        var table = new Table().AddColumns("seq", "time (UTC)", "who", "action", "object", "reason");
        foreach (var e in entries)
        {
            table.AddRow(e.Seq.ToString(System.Globalization.CultureInfo.InvariantCulture), Markup.Escape(e.Time.Length >= 19 ? e.Time[..19].Replace('T', ' ') : e.Time),
                Markup.Escape(e.Who), Markup.Escape(e.Action), Markup.Escape(e.ObjectId), Markup.Escape(e.Reason ?? ""));
        }
        AnsiConsole.Write(table);
        return 0;
    }
}

/// <summary><c>lamina audit verify</c>: recomputes the audit log's hash chain.</summary>
public sealed class AuditVerifyCommand : AsyncCommand<OutputSettings>
{
    public override async Task<int> ExecuteAsync(CommandContext context, OutputSettings settings)
    {
        var (store, _) = await CliContext.OpenStoresAsync(CliContext.Home);
        await using var __ = store;
        var verification = await store.VerifyAuditAsync(CliContext.Cancellation);
        if (settings.Json)
        {
            JsonOutput.Write(new
            {
                verification.Count,
                verification.Intact,
                verification.HeadHash,
                BrokenSeq = verification.FirstBreak?.Seq,
                Problem = verification.FirstBreak?.Problem,
            });
        }
        else if (verification.FirstBreak is { } broken)
        {
            Console.Error.WriteLine($"error: the audit chain is broken at entry {broken.Seq}: {broken.Problem}");
        }
        else
        {
            AnsiConsole.MarkupLineInterpolated($"{verification.Count} entries, chain intact (head {verification.HeadHash})");
        }
        return verification.Intact ? 0 : LaminaApp.Failure;
    }
}
