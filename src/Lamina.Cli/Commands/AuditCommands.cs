using System.ComponentModel;
using Lamina.Cli.Rendering;
using Lamina.Tracking;
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
public sealed class AuditVerifyCommand : AsyncCommand<AuditVerifyCommand.Settings>
{
    public sealed class Settings : OutputSettings
    {
        [CommandOption("--expect <ANCHOR>")]
        [Description("SEQ:HASH, an anchor this command printed earlier and kept elsewhere: entry SEQ must still have HASH. Repeatable.")]
        public string[] Expect { get; init; } = [];

        public override ValidationResult Validate()
        {
            foreach (var anchor in Expect)
            {
                try
                {
                    AuditAnchor.Parse(anchor);
                }
                catch (FormatException e)
                {
                    return ValidationResult.Error(e.Message);
                }
            }
            return ValidationResult.Success();
        }
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings)
    {
        var (store, _) = await CliContext.OpenStoresAsync(CliContext.Home);
        await using var __ = store;
        var verification = await store.VerifyAuditAsync(CliContext.Cancellation);
        var anchors = settings.Expect.Select(AuditAnchor.Parse).ToList();
        var anchorBreak = anchors.Count == 0 ? null : AuditLog.CheckAnchors(await store.ListAuditAsync(null, CliContext.Cancellation), anchors);
        var head = verification.Count == 0 ? null : new AuditAnchor(verification.Count, verification.HeadHash);
        var intact = verification.Intact && anchorBreak is null;
        if (settings.Json)
        {
            var problem = verification.FirstBreak is { } firstBreak ? $"the audit chain is broken at entry {firstBreak.Seq}: {firstBreak.Problem}"
                : anchorBreak is not null ? $"the audit chain is consistent but does not hold an anchor: {anchorBreak.Problem}" : null;
            JsonOutput.Write(new
            {
                Error = problem is null ? null : new { Code = "integrity", Message = problem, At = (verification.FirstBreak?.Seq ?? anchorBreak?.Seq)?.ToString(System.Globalization.CultureInfo.InvariantCulture) },
                verification.Count,
                Intact = intact,
                verification.HeadHash,
                Anchor = head?.ToString(),
                BrokenSeq = verification.FirstBreak?.Seq ?? anchorBreak?.Seq,
                Problem = verification.FirstBreak?.Problem ?? anchorBreak?.Problem,
                AnchorsChecked = anchors.Count,
            });
        }
        else if (verification.FirstBreak is { } broken)
        {
            Console.Error.WriteLine($"error: the audit chain is broken at entry {broken.Seq}: {broken.Problem}");
        }
        else if (anchorBreak is not null)
        {
            Console.Error.WriteLine($"error: the audit chain is consistent but does not hold an anchor: {anchorBreak.Problem}");
        }
        else
        {
            var checkedAnchors = anchors.Count == 0 ? "" : $", {anchors.Count} anchor(s) hold";
            AnsiConsole.Console.MarkupLineEscaped($"{verification.Count} entries, chain intact (head {verification.HeadHash}){checkedAnchors}");
            if (head is not null)
            {
                AnsiConsole.Console.MarkupLineEscaped($"[grey]anchor {head}: keep it outside the store (a release ticket, a signed tag) and check it later with --expect[/]");
            }
        }
        return intact ? ExitCodes.Ok : ExitCodes.Integrity;
    }
}
