using System.ComponentModel;
using System.Globalization;
using Lamina.Cli.Rendering;
using Lamina.Core;
using Lamina.Core.Provenance;
using Lamina.Ship;
using Lamina.Tracking;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Lamina.Cli.Commands;

/// <summary><c>lamina resolve analysis.yaml -o resolved.yaml</c>: the verbose, pinned form of an analysis file, and its lock.</summary>
public sealed class ResolveCommand : AsyncCommand<ResolveCommand.Settings>
{
    public sealed class Settings : OutputSettings
    {
        [CommandArgument(0, "<ANALYSIS>")]
        [Description("The analysis file whose 'sourcing: auto' models (run ids) are resolved.")]
        public string Analysis { get; init; } = "";

        [CommandOption("-o|--out <FILE>")]
        [Description("The resolved file to write; lamina.lock.json goes beside it.")]
        public string? Out { get; init; }

        public override ValidationResult Validate() =>
            string.IsNullOrWhiteSpace(Out) ? ValidationResult.Error("give the file to write: -o resolved.yaml") : ValidationResult.Success();
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings)
    {
        var home = CliContext.Home;
        var (store, blobs) = await CliContext.OpenStoresAsync(home);
        await using var _ = store;
        var result = await new AnalysisResolver(store, blobs, CliContext.OpenProduction(home))
            .ResolveAsync(settings.Analysis, settings.Out!, CliContext.Cancellation);
        if (settings.Json)
        {
            JsonOutput.Write(new { resolved = result.ResolvedFile, @lock = result.LockPath, models = result.Lock.Models, plugins = result.Lock.Plugins });
            return 0;
        }
        foreach (var model in result.Lock.Models)
        {
            AnsiConsole.Console.MarkupLineEscaped($"{model.Name}: run {model.Run} model {model.Model}, model.json {model.CardSha256[..12]}, {model.Files.Count} files");
        }
        AnsiConsole.Console.MarkupLineEscaped($"[grey]wrote {result.ResolvedFile} and {result.LockPath} ({result.Lock.Plugins.Count} plug-in sources)[/]");
        return 0;
    }
}

/// <summary><c>lamina bundle resolved.yaml -o DIR</c>: the resolved file with its models, plug-ins, lock and provenance, offline.</summary>
public sealed class BundleCommand : AsyncCommand<BundleCommand.Settings>
{
    public sealed class Settings : OutputSettings
    {
        [CommandArgument(0, "<RESOLVED>")]
        [Description("A file written by `lamina resolve` (its lamina.lock.json beside it).")]
        public string Resolved { get; init; } = "";

        [CommandOption("-o|--out <DIR>")]
        [Description("The bundle folder to create; an existing one that is not empty is refused without --force.")]
        public string? Out { get; init; }

        [CommandOption("--force")]
        [Description("Replace the bundle folder if it exists, once the new bundle is whole.")]
        public bool Force { get; init; }

        public override ValidationResult Validate() =>
            string.IsNullOrWhiteSpace(Out) ? ValidationResult.Error("give the bundle folder: -o DIR") : ValidationResult.Success();
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings)
    {
        var home = CliContext.Home;
        var (store, blobs) = await CliContext.OpenStoresAsync(home);
        await using var _ = store;
        var production = CliContext.OpenProduction(home);
        // The model files' total, for the progress of their fetch (a remote store is slow); a missing lock is the builder's to name.
        var lockPath = LockFile.PathBeside(Path.GetFullPath(settings.Resolved));
        var total = File.Exists(lockPath) ? LockFile.Read(lockPath).Models.Sum(m => m.Files.Sum(f => f.Size)) : 0;
        Task<BundleResult> BuildAsync(IProgress<long> progress) =>
            new BundleBuilder(production, blobs, store, new TrackingStoreAudit(store), TimeProvider.System) { Progress = progress }
                .BuildAsync(settings.Resolved, settings.Out!, settings.Force, CliContext.Cancellation);
        BundleResult result;
        if (settings.Json || Console.IsErrorRedirected || total == 0)
        {
            // Lines on standard error, one per tenth fetched: standard output carries only the result.
            result = await BuildAsync(new TenthsProgress(total, production.Location));
        }
        else
        {
            BundleResult? built = null;
            await AnsiConsole.Progress()
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new DownloadedColumn(), new TransferSpeedColumn())
                .StartAsync(async bar =>
                {
                    var task = bar.AddTask(Markup.Escape($"fetching models from {production.Location}"), maxValue: total);
                    built = await BuildAsync(new BarProgress(task));
                    task.Value = total;
                });
            result = built!;
        }
        if (settings.Json)
        {
            JsonOutput.Write(new
            {
                bundle = result.Directory, provenance_sha256 = result.ProvenanceSha256, files = result.Files,
                audit_anchor = BundleProvenance.AuditAnchorOf(result.Provenance)?.ToString(),
            });
            return 0;
        }
        AnsiConsole.Console.MarkupLineEscaped($"bundle {result.Directory}: {result.Files.Count} files verified, provenance.json sha256 {result.ProvenanceSha256[..12]}");
        if (BundleProvenance.AuditAnchorOf(result.Provenance) is { } anchor)
        {
            AnsiConsole.Console.MarkupLineEscaped($"audit anchor {anchor}");
            AnsiConsole.MarkupLine("[grey](in provenance.json; keep it with the release and check it later with lamina audit verify --expect)[/]");
        }
        return 0;
    }

    private sealed class BarProgress(ProgressTask task) : IProgress<long>
    {
        public void Report(long value) => task.Value = value;
    }

    /// <summary>A line on standard error each time another tenth of the model files has been fetched.</summary>
    private sealed class TenthsProgress(long total, string store) : IProgress<long>
    {
        private int _tenths;

        public void Report(long value)
        {
            if (total <= 0) return;
            var tenths = (int)Math.Min(10, value * 10 / total);
            if (tenths <= _tenths) return;
            _tenths = tenths;
            CliContext.WriteError($"fetched {Formats.Bytes(value)} of {Formats.Bytes(total)} from {store} ({tenths * 10}%)");
        }
    }
}

/// <summary><c>lamina verify DIR</c>: every file of a bundle against its provenance and lock.</summary>
public sealed class VerifyCommand : Command<VerifyCommand.Settings>
{
    public sealed class Settings : OutputSettings
    {
        [CommandArgument(0, "<BUNDLE>")]
        [Description("A bundle folder written by `lamina bundle`.")]
        public string Bundle { get; init; } = "";
    }

    public override int Execute(CommandContext context, Settings settings)
    {
        var verification = BundleVerifier.Inspect(settings.Bundle);
        if (settings.Json)
        {
            JsonOutput.Write(new
            {
                error = verification.FirstProblem is { } first ? new { code = "integrity", message = first.Describe(verification.Directory), at = first.Name } : null,
                bundle = verification.Directory,
                ok = verification.Ok,
                provenance_sha256 = verification.ProvenanceSha256,
                files = verification.Files.Select(f => new { f.Name, f.Expected, f.Actual, state = f.State.ToString().ToLowerInvariant() }),
            });
        }
        if (verification.FirstProblem is { } problem)
        {
            Console.Error.WriteLine($"error: {problem.Describe(verification.Directory)}");
            return ExitCodes.Integrity;
        }
        if (!settings.Json)
        {
            var models = verification.Lock?.Models.Count ?? 0;
            var plugins = verification.Lock?.Plugins.Count ?? 0;
            AnsiConsole.Console.MarkupLineEscaped(
                $"[green]ok[/] {verification.Directory}: {verification.Files.Count.ToString(CultureInfo.InvariantCulture)} files match provenance.json (sha256 {verification.ProvenanceSha256[..12]}) and the lock: {models} models, {plugins} plug-in sources");
        }
        return 0;
    }
}

/// <summary><c>lamina trace ID</c>: the lineage of a report, bundle, model card or run, every digest checked.</summary>
public sealed class TraceCommand : AsyncCommand<TraceCommand.Settings>
{
    public sealed class Settings : OutputSettings
    {
        [CommandArgument(0, "<ID>")]
        [Description("A run id (or prefix), a model card SHA-256, a bundle folder, an analysis report (report.json or its folder), or an image (HOST/REPO:TAG, HOST/REPO@sha256:HEX, oci:DIR:TAG).")]
        public string Id { get; init; } = "";
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings)
    {
        var home = CliContext.Home;
        var (store, blobs) = await CliContext.OpenStoresAsync(home);
        await using var _ = store;
        var lineage = await new LineageTracer(store, blobs, CliContext.OpenProduction(home)).TraceAsync(settings.Id, CliContext.Cancellation);
        if (settings.Json)
        {
            Console.Out.WriteLine(lineage.ToJson().ToJsonString(LaminaJson.Indented));
        }
        else
        {
            Render(lineage);
        }
        return lineage.HasProblem ? ExitCodes.Integrity : ExitCodes.Ok;
    }

    /// <summary>Writes the lineage as a tree, each digest marked verified, altered or missing.</summary>
    internal static void Render(LineageNode lineage)
    {
        var tree = new Tree(Label(lineage));
        Add(tree, lineage);
        AnsiConsole.Write(tree);
    }

    private static void Add(IHasTreeNodes parent, LineageNode node)
    {
        foreach (var child in node.Children) Add(parent.AddNode(Label(child)), child);
    }

    private static string Label(LineageNode node)
    {
        var mark = node.State switch
        {
            DigestState.Verified => " [green]✓[/]",
            DigestState.Altered => " [red]✗ altered[/]",
            DigestState.Missing => " [yellow]? missing[/]",
            DigestState.Extra => " [red]✗ extra[/]",
            _ => "",
        };
        var digest = node.Sha256 is { } sha ? $" [grey]{sha[..Math.Min(12, sha.Length)]}[/]" : "";
        var detail = node.Detail is { } d ? $" [grey]({Markup.Escape(d)})[/]" : "";
        return $"{Markup.Escape(node.Label)}{digest}{mark}{detail}";
    }
}
