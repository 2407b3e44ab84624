using System.ComponentModel;
using System.Text;
using System.Text.Json;
using Lamina.Cli.Rendering;
using Lamina.Core;
using Lamina.Tracking;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Lamina.Cli.Commands;

/// <summary><c>lamina runs list</c>.</summary>
public sealed class RunsListCommand : AsyncCommand<RunsListCommand.Settings>
{
    public sealed class Settings : OutputSettings
    {
        [CommandOption("--project <NAME>")]
        public string? Project { get; init; }

        [CommandOption("--task <TASK>")]
        public string? Task { get; init; }

        // A string, parsed on use: the command line reflects over every command's settings at start, and an enum of
        // Lamina.Tracking here would load that assembly for every command, an analysis of a bundle included.
        [CommandOption("--status <STATUS>")]
        [Description("queued, running, completed, failed or aborted.")]
        public string? Status { get; init; }

        [CommandOption("-n|--limit <N>")]
        [DefaultValue(50)]
        public int Limit { get; init; } = 50;

        public override ValidationResult Validate() =>
            Status is not null && StatusOf(Status) is null
                ? ValidationResult.Error($"--status must be queued, running, completed, failed or aborted, not '{Status}'")
                : Limit < 1 ? ValidationResult.Error($"--limit must be at least 1, not {Limit}")
                : ValidationResult.Success();
    }

    private static RunStatus? StatusOf(string? status) =>
        Enum.TryParse<RunStatus>(status, ignoreCase: true, out var parsed) && Enum.IsDefined(parsed) ? parsed : null;

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings)
    {
        var (store, _) = await CliContext.OpenStoresAsync(CliContext.Home);
        await using var __ = store;
        var runs = await store.ListRunsAsync(new RunQuery(settings.Project, settings.Task, StatusOf(settings.Status), settings.Limit), CliContext.Cancellation);
        if (settings.Json)
        {
            JsonOutput.Write(runs);
            return 0;
        }
        if (runs.Count == 0)
        {
            AnsiConsole.MarkupLine("[grey]no runs yet: try 'lamina run <task>' or 'lamina demo'[/]");
            return 0;
        }
        var table = new Table().AddColumns("id", "project", "task", "type", "status", "started", "duration", "tags");
        foreach (var run in runs)
        {
            table.AddRow(
                Formats.ShortId(run.Id),
                Markup.Escape(run.ProjectName),
                Markup.Escape(run.TaskName),
                run.TaskType,
                Formats.Status(run.Status),
                Formats.Time(run.StartedAt ?? run.CreatedAt),
                Formats.Duration(run),
                Markup.Escape(string.Join(", ", run.Tags)));
        }
        AnsiConsole.Write(table);
        return 0;
    }
}

/// <summary><c>lamina runs show &lt;id&gt;</c>.</summary>
public sealed class RunsShowCommand : AsyncCommand<RunsShowCommand.Settings>
{
    public sealed class Settings : OutputSettings
    {
        [CommandArgument(0, "<RUN>")]
        [Description("A run id or a unique prefix of one.")]
        public string Run { get; init; } = "";

        [CommandOption("--diff")]
        [Description("Print only the recorded uncommitted diff, byte for byte (a patch for 'git apply').")]
        public bool Diff { get; init; }

        [CommandOption("--log")]
        [Description("Print only the captured console log.")]
        public bool Log { get; init; }

        // Each prints something else on its own: together, all but one were silently ignored.
        public override ValidationResult Validate() => (Diff ? 1 : 0) + (Log ? 1 : 0) + (Json ? 1 : 0) > 1
            ? ValidationResult.Error("--diff, --log and --json do not go together: give one")
            : ValidationResult.Success();
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings)
    {
        var token = CliContext.Cancellation;
        var (store, blobs) = await CliContext.OpenStoresAsync(CliContext.Home);
        await using var _ = store;
        var run = await store.ResolveRunAsync(settings.Run, token);
        if (settings.Diff)
        {
            var details = await store.GetRunDetailsAsync(run.Id, token);
            if (details.Git is null)
            {
                throw CliException.NoDiff(run.Id);
            }
            await using var diff = await blobs.OpenAsync(details.Git.DiffDigest, token);
            await using var stdout = Console.OpenStandardOutput();
            await diff.CopyToAsync(stdout, token);
            return 0;
        }
        if (settings.Log)
        {
            Console.Out.Write(await store.GetLogAsync(run.Id, token));
            return 0;
        }
        if (settings.Json)
        {
            var details = await store.GetRunDetailsAsync(run.Id, token);
            JsonOutput.Write(new
            {
                run = details.Run,
                experiment_file = details.ExperimentFile,
                configuration = JsonDocument.Parse(Secrets.RedactConfigurationJson(details.ConfigurationJson)).RootElement,
                git = Secrets.Redact(details.Git),
                diff = details.Git is null ? null : await ReadTextAsync(blobs, details.Git.DiffDigest, token),
                environment = details.Environment,
                plugin_sources = details.PluginSources,
                artifacts = details.Artifacts,
                inputs = await store.GetRunInputsAsync(run.Id, token),
                published = await store.ListPublicationsAsync(run.Id, token),
                metrics = MetricSummary.Of(await store.GetMetricsAsync(run.Id, token)),
                log = await store.GetLogAsync(run.Id, token),
                attempts = await store.GetAttemptsAsync(run.Id, token),
            });
            return 0;
        }
        await RenderAsync(store, run.Id, token, blobs);
        return 0;
    }

    /// <summary>Where a remote run waited and ran: queue, workers, attempts and their timings.</summary>
    private static async Task RenderRemoteAsync(ITrackingStore store, RunRecord run, CancellationToken token)
    {
        var attempts = await store.GetAttemptsAsync(run.Id, token);
        if (run.Queue is null && attempts.Count <= 1)
        {
            return;
        }
        var grid = new Grid().AddColumn().AddColumn();
        if (run.Queue is not null) grid.AddRow("[grey]queue[/]", Markup.Escape(run.Queue));
        grid.AddRow("[grey]attempts[/]", $"{run.Attempt} of {run.MaxAttempts}");
        if (run.WorkerId is not null) grid.AddRow("[grey]worker[/]", Markup.Escape(run.WorkerId));
        if (run.Lease is { } lease) grid.AddRow("[grey]host[/]", Markup.Escape(lease.Owner.Host));
        if (run.StartedAt is { } started && run.QueuedAt is { } queued && started >= queued)
        {
            grid.AddRow("[grey]waited[/]", Formats.Span(started - queued));
        }
        else if (run.Status == RunStatus.Queued && run.QueuedAt is { } waiting)
        {
            grid.AddRow("[grey]waiting[/]", Formats.Span(DateTimeOffset.UtcNow - waiting));
        }
        if (run.StartedAt is not null) grid.AddRow("[grey]ran[/]", Formats.Duration(run));
        if (run.AbortRequested is { } abort) grid.AddRow("[grey]abort asked[/]", $"[yellow]{Markup.Escape(abort)}[/]");
        if (run.SourceBundleDigest is { } bundle) grid.AddRow("[grey]shipped source[/]", $"git bundle, sha256 {bundle[..16]}…");
        if (attempts.Count > 0)
        {
            var table = new Table().AddColumns("#", "executor", "started", "ran", "outcome", "Lamina", "error");
            foreach (var attempt in attempts)
            {
                table.AddRow(attempt.Attempt.ToString(System.Globalization.CultureInfo.InvariantCulture), Markup.Escape(attempt.Executor),
                    Formats.Time(attempt.StartedAt), Formats.Span((attempt.EndedAt ?? DateTimeOffset.UtcNow) - attempt.StartedAt), Markup.Escape(attempt.Outcome),
                    Markup.Escape(attempt.Environment?.LaminaVersion ?? ""), Markup.Escape(attempt.Error?.Split('\n')[0] ?? ""));
            }
            grid.AddRow(new Markup("[grey]history[/]"), table);
        }
        AnsiConsole.Console.Write(new Panel(grid).Header("remote execution"));
    }

    internal static async Task RenderAsync(ITrackingStore store, Guid runId, CancellationToken token, IBlobStore? blobs = null)
    {
        var details = await store.GetRunDetailsAsync(runId, token);
        var run = details.Run;
        var console = AnsiConsole.Console;

        var summary = new Grid().AddColumn().AddColumn();
        void Row(string key, string value) => summary.AddRow($"[grey]{key}[/]", value);
        Row("id", $"[bold]{run.Id}[/]");
        Row("project", Markup.Escape(run.ProjectName));
        Row("task", $"{Markup.Escape(run.TaskName)} ({run.TaskType})");
        Row("status", Formats.Status(run.Status));
        Row("created", Formats.Time(run.CreatedAt));
        Row("started", Formats.Time(run.StartedAt));
        if (run.Executor is not null) Row("executor", Markup.Escape(run.Executor));
        Row("ended", $"{Formats.Time(run.EndedAt)} ({Formats.Duration(run)})");
        Row("user", Markup.Escape($"{run.User}@{run.Host}"));
        Row("tags", Markup.Escape(string.Join(", ", run.Tags)));
        if (run.Description is not null) Row("description", Markup.Escape(run.Description));
        Row("experiment", Markup.Escape(details.ExperimentFile));
        if (run.Error is not null) Row("error", $"[red]{Markup.Escape(run.Error.Split('\n')[0])}[/]");
        foreach (var publication in await store.ListPublicationsAsync(runId, token))
        {
            Row("published", Markup.Escape($"{publication.ModelName} at {Formats.Time(publication.PublishedAt)} by {publication.PublishedBy}" +
                (publication.Reason is { } reason ? $" ({reason})" : "") + ": the run is immutable"));
        }
        console.Write(new Panel(summary).Header("run"));
        await RenderRemoteAsync(store, run, token);

        var git = new Grid().AddColumn().AddColumn();
        if (details.Git is { } g)
        {
            git.AddRow("[grey]commit[/]", g.Commit ?? "(no commit yet)");
            git.AddRow("[grey]branch[/]", Markup.Escape(g.Branch ?? "(detached)"));
            git.AddRow("[grey]remote[/]", Markup.Escape(g.Remote is { } remote ? Secrets.RedactUris(remote) : "(none)"));
            git.AddRow("[grey]uncommitted[/]", g.Dirty ? $"[yellow]yes[/], diff of {Formats.Bytes(g.DiffSize)} (sha256 {g.DiffDigest[..16]}…)" : "no");
        }
        else
        {
            git.AddRow("[grey]git[/]", "not a git repository (or git not installed) when the run started");
        }
        console.Write(new Panel(git).Header("code"));

        var env = details.Environment;
        var environment = new Grid().AddColumn().AddColumn();
        environment.AddRow("[grey]os[/]", Markup.Escape($"{env.Os} ({env.Architecture})"));
        environment.AddRow("[grey]cpu[/]", Markup.Escape($"{env.Cpu} × {env.CpuCount}"));
        environment.AddRow("[grey]memory[/]", Formats.Bytes(env.MemoryBytes));
        environment.AddRow("[grey]gpu[/]", Markup.Escape(env.Gpu ?? "none"));
        environment.AddRow("[grey].NET[/]", Markup.Escape(env.DotnetVersion));
        environment.AddRow("[grey]Lamina[/]", Markup.Escape(env.LaminaVersion));
        environment.AddRow("[grey]packages[/]", Markup.Escape(string.Join(", ", env.Packages.Select(p => $"{p.Key} {p.Value}"))));
        console.Write(new Panel(environment).Header("environment"));

        if (details.PluginSources.Count > 0)
        {
            var sources = new Table().AddColumns("plug-in source", "sha256");
            foreach (var source in details.PluginSources) sources.AddRow(Markup.Escape(source.Path), source.Sha256);
            console.Write(sources);
        }

        var inputs = await store.GetRunInputsAsync(runId, token);
        if (inputs.Datasets.Count > 0 || inputs.Slides.Count > 0 || inputs.Models.Count > 0)
        {
            var data = new Table().AddColumns("data", "role", "sha256");
            foreach (var m in inputs.Models) data.AddRow(Markup.Escape($"model {m.ModelName} of run {m.ModelRunId}"), m.Role, m.CardDigest);
            foreach (var d in inputs.Datasets) data.AddRow("data set", d.Role, d.DatasetId);
            foreach (var s in inputs.Slides) data.AddRow(Markup.Escape(s.Path), "slide", s.Sha256);
            console.Write(data);
        }

        console.Write(new Rule("configuration (effective)").LeftJustified());
        foreach (var (key, value) in RunComparison.Flatten(Secrets.RedactConfigurationJson(details.ConfigurationJson)))
        {
            console.MarkupLineEscaped($"  [grey]{key}[/] = {value}");
        }

        var metrics = MetricSummary.Of(await store.GetMetricsAsync(runId, token));
        if (metrics.Count > 0)
        {
            var table = new Table().AddColumns("metric", "values", "last (step)", "min", "max");
            foreach (var m in metrics)
            {
                table.AddRow(Markup.Escape(m.Name), m.Count.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    $"{Formats.Number(m.Last)} ({m.LastStep})", Formats.Number(m.Min), Formats.Number(m.Max));
            }
            console.Write(table);
        }

        if (details.Artifacts.Count > 0)
        {
            var table = new Table().AddColumns("artifact", "size", "sha256");
            foreach (var a in details.Artifacts) table.AddRow(Markup.Escape(a.Name), Formats.Bytes(a.Size), a.Digest);
            console.Write(table);
        }

        if (blobs is not null && details.Git is { Dirty: true } dirty)
        {
            console.Write(new Rule("uncommitted diff (lamina runs show --diff prints it byte for byte)").LeftJustified());
            console.Profile.Out.Writer.Write(await ReadTextAsync(blobs, dirty.DiffDigest, token));
            console.Profile.Out.Writer.Flush();
        }

        var log = await store.GetLogAsync(runId, token);
        if (log.Length > 0)
        {
            var lines = log.TrimEnd('\n').Split('\n');
            console.Write(new Rule($"console log ({lines.Length} lines; --log prints it all)").LeftJustified());
            foreach (var line in lines.TakeLast(15)) console.Profile.Out.Writer.WriteLine(line);
        }
    }

    private static async Task<string> ReadTextAsync(IBlobStore blobs, string digest, CancellationToken token)
    {
        await using var stream = await blobs.OpenAsync(digest, token);
        using var reader = new StreamReader(stream, Encoding.UTF8);
        return await reader.ReadToEndAsync(token);
    }
}

/// <summary><c>lamina runs compare &lt;id&gt; &lt;id&gt;...</c>.</summary>
public sealed class RunsCompareCommand : AsyncCommand<RunsCompareCommand.Settings>
{
    public sealed class Settings : OutputSettings
    {
        [CommandArgument(0, "<RUNS>")]
        [Description("Two or more run ids or unique prefixes.")]
        public string[] Runs { get; init; } = [];

        public override ValidationResult Validate() =>
            Runs.Length < 2 ? ValidationResult.Error("compare needs at least two runs") : ValidationResult.Success();
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings)
    {
        var token = CliContext.Cancellation;
        var (store, _) = await CliContext.OpenStoresAsync(CliContext.Home);
        await using var __ = store;
        var ids = new List<Guid>();
        foreach (var prefix in settings.Runs) ids.Add((await store.ResolveRunAsync(prefix, token)).Id);
        var comparison = await RunComparison.BuildAsync(store, ids, token);
        if (settings.Json)
        {
            JsonOutput.Write(comparison);
            return 0;
        }
        var headers = new[] { "" }.Concat(comparison.Runs.Select(r => Formats.ShortId(r.Id))).ToArray();
        Section("runs", headers, comparison.Context);
        Section("parameters that differ", headers, comparison.Parameters, "[grey]the configurations are identical[/]");
        Section("final metric values", headers, comparison.FinalMetrics, "[grey]no metrics recorded[/]");
        return 0;
    }

    private static void Section(string title, string[] headers, IReadOnlyList<ComparisonRow> rows, string? empty = null)
    {
        AnsiConsole.Write(new Rule(title).LeftJustified());
        if (rows.Count == 0)
        {
            AnsiConsole.MarkupLine(empty ?? "");
            return;
        }
        var table = new Table().AddColumns(headers);
        foreach (var row in rows)
        {
            table.AddRow([Markup.Escape(row.Key), .. row.Values.Select(v => v is null ? "[grey]-[/]" : Markup.Escape(v))]);
        }
        AnsiConsole.Write(table);
    }
}

/// <summary><c>lamina runs delete &lt;id&gt;</c>.</summary>
public sealed class RunsDeleteCommand : AsyncCommand<RunsDeleteCommand.Settings>
{
    public sealed class Settings : LaminaSettings
    {
        [CommandArgument(0, "<RUN>")]
        public string Run { get; init; } = "";

        [CommandOption("-y|--yes")]
        [Description("Do not ask for confirmation.")]
        public bool Yes { get; init; }
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings)
    {
        var token = CliContext.Cancellation;
        var (store, _) = await CliContext.OpenStoresAsync(CliContext.Home);
        await using var __ = store;
        var run = await store.ResolveRunAsync(settings.Run, token);
        if ((await store.ListPublicationsAsync(run.Id, token)).FirstOrDefault() is { } published)
        {
            // Refused before asking; the store and the database's triggers refuse it too.
            throw new RunPublishedException(run.Id, published.PublishedAt, "deleted");
        }
        if (!settings.Yes)
        {
            if (Console.IsInputRedirected)
            {
                throw CliException.ConfirmationNeeded("delete", run.Id);
            }
            if (!AnsiConsole.Confirm($"Delete run {run.Id} ({Markup.Escape(run.TaskName)}, {run.Status.ToString().ToLowerInvariant()})?", false))
            {
                AnsiConsole.MarkupLine("[grey]kept[/]");
                return LaminaApp.Failure;
            }
        }
        await store.DeleteRunAsync(run.Id, token);
        AnsiConsole.Console.MarkupLineEscaped($"deleted run {run.Id}");
        return 0;
    }
}
