using System.Text.Json;
using Lamina.Tracking;
using Lamina.Ui.Access;
using Lamina.Ui.Api;
using Lamina.Ui.Rendering;
using Microsoft.AspNetCore.Http;

namespace Lamina.Ui.Pages;

/// <summary>
/// <c>/runs/{id}</c>: one run, everything recorded with it: status and timings (live while it runs), its effective
/// configuration, code (commit and the uncommitted diff, coloured), plug-in sources, environment, metric charts, console
/// log, artifacts with previews, data and models it used and made, its lineage up and down, publications and audit entries.
/// </summary>
internal sealed class RunPage(UiContext ui)
{
    /// <summary>The console log lines shown (the whole log is one link away).</summary>
    public const int LogTail = 200;

    private const long DiffShown = 1 << 20;
    private const long PreviewShown = 256 << 10;

    public async Task HandleAsync(HttpContext context)
    {
        var token = context.RequestAborted;
        var store = ui.Store;
        var run = await store.ResolveRunAsync((string)context.Request.RouteValues["id"]!, token);
        var details = await store.GetRunDetailsAsync(run.Id, token);
        var user = UiUser.Of(context);
        var publications = await store.ListPublicationsAsync(run.Id, token);
        var live = run.Status is RunStatus.Queued or RunStatus.Running;

        var sections = new List<Html>
        {
            Summary(details, publications, user),
            await MetricsAsync(run, token),
            await ConfigurationAsync(run, token),
            await CodeAsync(details, token),
            Environment(details.Environment),
            await DataAsync(run, token),
            await ModelsAsync(run, publications, token),
            await ArtifactsAsync(details, token),
            await LogAsync(run, token),
            await AuditAsync(run, token),
        };
        var body = Html.Of($"""
            <div class="run" data-run="{run.Id:D}" data-live="{(live ? "1" : "0")}">
            <h1>Run <code>{Formats.ShortId(run.Id)}</code> · {run.ProjectName} / {run.TaskName} <span data-live-field="status">{Formats.StatusBadge(run.Status)}</span></h1>
            {sections}
            </div>
            """);
        await Layout.WriteAsync(context, ui, "run", $"Run {Formats.ShortId(run.Id)}", body);
    }

    private Html Summary(RunDetails details, IReadOnlyList<PublicationRecord> publications, UiUser user)
    {
        var run = details.Run;
        var now = ui.Time.GetUtcNow();
        var rows = new List<(string, Html)>
        {
            ("id", Html.Of($"<code>{run.Id:D}</code>")),
            ("project", Html.Of($"<a href=\"/runs?project={Uri.EscapeDataString(run.ProjectName)}\">{run.ProjectName}</a>")),
            ("task", Html.Of($"{run.TaskName} ({run.TaskType})")),
            ("status", Html.Of($"<span data-live-field=\"status-text\">{Formats.Status(run.Status)}</span>")),
            ("created", Formats.Time(run.CreatedAt)),
            ("started", Html.Of($"<span data-live-field=\"started\">{Formats.Time(run.StartedAt)}</span>")),
            ("ended", Html.Of($"<span data-live-field=\"ended\">{Formats.Time(run.EndedAt)}</span>")),
            ("duration", Html.Of($"<span data-live-field=\"duration\">{Formats.Duration(run, now)}</span>")),
            ("user", Html.Of($"{run.User}@{run.Host}")),
        };
        if (run.Executor is not null) rows.Add(("executor", Html.Text(run.Executor)));
        if (run.Queue is not null)
        {
            rows.Add(("queue", Html.Of($"<a href=\"/runs?queue={Uri.EscapeDataString(run.Queue)}\">{run.Queue}</a>, attempt {run.Attempt} of {run.MaxAttempts}{(run.WorkerId is null ? "" : ", worker " + run.WorkerId)}")));
        }
        if (run.Tags.Count > 0) rows.Add(("tags", Html.Join(run.Tags.Select(t => Html.Of($"<a class=\"tag\" href=\"/runs?tag={Uri.EscapeDataString(t)}\">{t}</a> ")))));
        if (run.Description is not null) rows.Add(("description", Html.Text(run.Description)));
        rows.Add(("experiment", Html.Of($"<code>{details.ExperimentFile}</code>")));
        if (run.AbortRequested is not null) rows.Add(("abort asked", Html.Of($"<span class=\"warn\">{run.AbortRequested}</span>")));
        if (run.Error is not null) rows.Add(("error", Html.Of($"<pre class=\"error\" data-live-field=\"error\">{run.Error}</pre>")));
        foreach (var p in publications)
        {
            rows.Add(("published", Html.Of($"model <a href=\"/models#{p.RunId:D}/{p.ModelName}\">{p.ModelName}</a> on {Formats.Time(p.PublishedAt)} by {p.PublishedBy}{(p.Reason is null ? "" : " (" + p.Reason + ")")}: the run is immutable")));
        }
        return Layout.Facts(rows) + Actions(run, publications.Count > 0, user);
    }

    /// <summary>Abort and requeue for operators; never anything that deletes or alters a published run.</summary>
    private static Html Actions(RunRecord run, bool published, UiUser user)
    {
        if (!user.May(AccessRole.Operator)) return Html.Empty;
        var forms = new List<Html>();
        if (run.Status is RunStatus.Queued or RunStatus.Running && run.AbortRequested is null)
        {
            forms.Add(Html.Of($"""<form method="post" action="/runs/{run.Id:D}/abort" class="action"><input name="reason" placeholder="why" required size="24"> <button type="submit" class="danger">Abort</button></form>"""));
        }
        if (run.Status is RunStatus.Failed or RunStatus.Aborted && !published)
        {
            forms.Add(Html.Of($"""<form method="post" action="/runs/{run.Id:D}/requeue" class="action"><input name="reason" placeholder="why" required size="24"> <button type="submit">Requeue</button></form>"""));
        }
        return forms.Count == 0 ? Html.Empty : Html.Of($"<div class=\"actions\">{forms}</div>");
    }

    private async Task<Html> MetricsAsync(RunRecord run, CancellationToken token)
    {
        var summaries = await ui.Browser.GetMetricSummariesAsync(run.Id, token);
        if (summaries.Count == 0)
        {
            return Layout.Section("Metrics", Html.Of($"<div class=\"charts\" data-runs=\"{run.Id:D}\"></div>") + Layout.Muted("no metrics logged yet"), "metrics");
        }
        var table = Html.Of($"""
            <table class="metrics"><thead><tr><th>metric</th><th>values</th><th>last (step)</th><th>min</th><th>max</th></tr></thead><tbody>
            {summaries.Select(s => Html.Of($"<tr><td>{s.Name}</td><td class=\"num\">{s.Count}</td><td class=\"num\">{Formats.Number(s.Last)} ({s.LastStep})</td><td class=\"num\">{Formats.Number(s.Min)}</td><td class=\"num\">{Formats.Number(s.Max)}</td></tr>"))}
            </tbody></table>
            """);
        // One chart per metric with more than one point; app.js draws each from /api/series.
        var charts = summaries.Where(s => s.Count > 1).Select(s =>
            Html.Of($"<figure><figcaption>{s.Name}</figcaption><div class=\"chart\" data-metric=\"{s.Name}\" data-runs=\"{run.Id:D}\" data-x=\"step\"></div></figure>"));
        return Layout.Section("Metrics", table + Html.Of($"<div class=\"charts\" data-runs=\"{run.Id:D}\">{charts}</div>"), "metrics");
    }

    private async Task<Html> ConfigurationAsync(RunRecord run, CancellationToken token)
    {
        var parameters = await ui.Browser.GetParametersAsync(run.Id, token);
        if (parameters.Count == 0) return Layout.Section("Configuration (effective)", Layout.Muted("empty"), "configuration");
        return Layout.Section("Configuration (effective)", Html.Of(
            $"<table class=\"params\"><tbody>{parameters.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => Html.Of($"<tr><th><code>{p.Key}</code></th><td><code>{p.Value}</code></td></tr>"))}</tbody></table>"),
            "configuration");
    }

    private async Task<Html> CodeAsync(RunDetails details, CancellationToken token)
    {
        if (Secrets.Redact(details.Git) is not { } git)
        {
            return Layout.Section("Code", Layout.Muted("not a git work tree (or git not installed) when the run started"), "code");
        }
        var facts = Layout.Facts([
            ("commit", git.Commit is null ? Html.Raw("(no commit yet)") : Html.Of($"<code class=\"commit\">{git.Commit}</code>")),
            ("branch", Html.Text(git.Branch ?? "(detached)")),
            ("remote", Html.Text(git.Remote ?? "(none)")),
            ("uncommitted", git.Dirty
                ? Html.Of($"yes: diff of {Formats.Bytes(git.DiffSize)}, sha256 {Formats.Digest(git.DiffDigest)} · <a href=\"/runs/{details.Run.Id:D}/diff\" download>download</a>")
                : Html.Raw("no")),
        ]);
        var diff = Html.Empty;
        if (git.Dirty)
        {
            try
            {
                var (text, truncated) = await BlobReader.ReadTextAsync(ui.Blobs, git.DiffDigest, DiffShown, $"the uncommitted diff of run {details.Run.Id:D}", token);
                diff = DiffView.Render(text, truncated);
            }
            catch (BlobNotFoundException)
            {
                diff = Html.Of($"<p class=\"error\">the diff's blob {git.DiffDigest} is not in the blob store</p>");
            }
        }
        var sources = details.PluginSources.Count == 0 ? Html.Empty : Html.Of($"""
            <h3>Plug-in sources</h3>
            <table><thead><tr><th>file</th><th>sha256</th></tr></thead><tbody>
            {details.PluginSources.Select(s => Html.Of($"<tr><td><code>{s.Path}</code></td><td><code>{s.Sha256}</code></td></tr>"))}
            </tbody></table>
            """);
        return Layout.Section("Code", facts + diff + sources, "code");
    }

    private static Html Environment(EnvironmentInfo env) => Layout.Section("Environment", Layout.Facts([
        ("os", Html.Text($"{env.Os} ({env.Architecture})")),
        ("cpu", Html.Text($"{env.Cpu} × {env.CpuCount}")),
        ("memory", Html.Text(Formats.Bytes(env.MemoryBytes))),
        ("gpu", Html.Text(env.Gpu ?? "none")),
        (".NET", Html.Text(env.DotnetVersion)),
        ("Lamina", Html.Text(env.LaminaVersion)),
        ("packages", Html.Join(env.Packages.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => Html.Of($"<code>{p.Key} {p.Value}</code> ")))),
    ]), "environment");

    private async Task<Html> DataAsync(RunRecord run, CancellationToken token)
    {
        var inputs = await ui.Store.GetRunInputsAsync(run.Id, token);
        if (inputs.Datasets.Count == 0 && inputs.Slides.Count == 0 && inputs.Models.Count == 0)
        {
            return Layout.Section("Data and models used", Layout.Muted("none recorded"), "data");
        }
        var rows = new List<Html>();
        foreach (var d in inputs.Datasets)
        {
            var name = await DatasetNameAsync(d.DatasetId, token);
            rows.Add(Html.Of($"<tr><td>data set <a href=\"/datasets/{d.DatasetId}\">{name}</a></td><td>{d.Role}</td><td>{Formats.Digest(d.DatasetId)}</td></tr>"));
        }
        foreach (var m in inputs.Models)
        {
            rows.Add(Html.Of($"<tr><td>model {m.ModelName} of run {Formats.RunLink(m.ModelRunId)}</td><td>{m.Role}</td><td>{Formats.Digest(m.CardDigest)}</td></tr>"));
        }
        foreach (var s in inputs.Slides)
        {
            rows.Add(Html.Of($"<tr><td>slide <code>{s.Path}</code> ({Formats.Bytes(s.Size)})</td><td>slide</td><td>{Formats.Digest(s.Sha256)}</td></tr>"));
        }
        return Layout.Section("Data and models used", Html.Of($"<table><thead><tr><th>what</th><th>role</th><th>sha256</th></tr></thead><tbody>{rows}</tbody></table>"), "data");
    }

    private async Task<string> DatasetNameAsync(string id, CancellationToken token)
    {
        try
        {
            return (await ui.Store.ResolveDatasetAsync(id, token)).Name;
        }
        catch (Lamina.Core.LaminaException e) when (e.Kind == Lamina.Core.LaminaErrorKind.NotFound)
        {
            return id[..12];
        }
    }

    /// <summary>
    /// The models this run made (with their cards), and the lineage down from it: the runs that used its models or data
    /// sets, publications, bundles, releases.
    /// </summary>
    private async Task<Html> ModelsAsync(RunRecord run, IReadOnlyList<PublicationRecord> publications, CancellationToken token)
    {
        var models = (await ui.Store.ListModelsAsync(token)).Where(m => m.RunId == run.Id).ToList();
        var inputs = await ui.Store.GetRunInputsAsync(run.Id, token);
        var up = new List<Html>();
        foreach (var d in inputs.Datasets)
        {
            var dataset = await TryDatasetAsync(d.DatasetId, token);
            up.Add(Html.Of($"<li>data set <a href=\"/datasets/{d.DatasetId}\">{dataset?.Name ?? d.DatasetId[..12]}</a> ({d.Role}){(dataset?.RunId is { } builder && builder != run.Id ? Html.Of($", built by run {Formats.RunLink(builder)}") : Html.Empty)}</li>"));
        }
        foreach (var m in inputs.Models) up.Add(Html.Of($"<li>model {m.ModelName} of run {Formats.RunLink(m.ModelRunId)} ({m.Role})</li>"));

        var down = new List<Html>();
        foreach (var m in models) down.Add(Html.Of($"<li>model <a href=\"/models#{m.RunId:D}/{m.Name}\">{m.Name}</a> ({m.Kind}), card {Formats.Digest(m.CardDigest)}</li>"));
        foreach (var used in await ui.Browser.ListRunsUsingOutputsOfAsync(run.Id, token)) down.Add(DownstreamItem(used));
        foreach (var p in publications)
        {
            down.Add(Html.Of($"<li>published {p.ModelName}: manifest {Formats.Digest(p.ManifestSha256)}, by {p.PublishedBy}</li>"));
        }
        if (publications.Count > 0)
        {
            foreach (var bundle in await ui.Browser.ListAuditByActionAsync(AuditLog.BundleBuilt, run.Id.ToString("D"), token))
            {
                down.Add(Html.Of($"<li>bundle <code>{bundle.ObjectId}</code> built {Formats.Time(bundle.Time)} by {bundle.Who} (<a href=\"/trace/{bundle.ObjectId}\">trace</a>)</li>"));
            }
            foreach (var release in (await ui.Store.ListReleasesAsync(null, token)).Where(r => r.Models.Any(m => m.Run == run.Id)))
            {
                down.Add(Html.Of($"<li>release <a href=\"/releases#{release.Customer}-{release.Version}\">{release.Customer} {release.Version}</a>: image {Formats.Digest(release.ImageDigest)}</li>"));
            }
        }

        var cards = new List<Html>();
        foreach (var m in models)
        {
            cards.Add(Html.Of($"<details class=\"card\"><summary>model card of {m.Name} (model.json)</summary>{await JsonPreviewAsync(m.CardDigest, $"the card of model {m.Name}", token)}</details>"));
        }
        var lineage = Html.Of($"""
            <div class="lineage"><div><h3>Up: what it came from</h3>{(up.Count == 0 ? Layout.Muted("nothing recorded") : Html.Of($"<ul>{up}</ul>"))}</div>
            <div><h3>Down: what came of it</h3>{(down.Count == 0 ? Layout.Muted("nothing recorded") : Html.Of($"<ul>{down}</ul>"))}</div></div>
            <p><a href="/trace/{run.Id:D}">Trace this run</a> (every digest checked)</p>
            """);
        return Layout.Section("Models and lineage", lineage + Html.Join(cards), "lineage");
    }

    /// <summary>A run that used this run's model or data set: which one, how, and that run's project, task and status.</summary>
    private static Html DownstreamItem(DownstreamRun used)
    {
        var input = used.Kind == LineageInput.Model
            ? Html.Of($"model {used.InputName}")
            : Html.Of($"data set <a href=\"/datasets/{used.Input}\">{used.InputName}</a>");
        return Html.Of($"<li data-downstream=\"{used.RunId:D}\">run {Formats.RunLink(used.RunId)} ({used.Project} / {used.Task}, {used.TaskType}) {Formats.StatusBadge(used.Status)} used {input} ({used.Role})</li>");
    }

    private async Task<DatasetRecord?> TryDatasetAsync(string id, CancellationToken token)
    {
        try
        {
            return await ui.Store.ResolveDatasetAsync(id, token);
        }
        catch (Lamina.Core.LaminaException e) when (e.Kind == Lamina.Core.LaminaErrorKind.NotFound)
        {
            return null;
        }
    }

    private async Task<Html> ArtifactsAsync(RunDetails details, CancellationToken token)
    {
        if (details.Artifacts.Count == 0) return Layout.Section("Artifacts", Layout.Muted("none"), "artifacts");
        var rows = new List<Html>();
        var previews = new List<Html>();
        foreach (var a in details.Artifacts.OrderBy(a => a.Name, StringComparer.Ordinal))
        {
            var href = ArtifactUrl(details.Run.Id, a.Name);
            rows.Add(Html.Of($"<tr><td><a href=\"{href}\" download data-sha256=\"{a.Digest}\">{a.Name}</a></td><td class=\"num\">{Formats.Bytes(a.Size)}</td><td>{Formats.Digest(a.Digest)}</td></tr>"));
            switch (ArtifactTypes.PreviewOf(a.Name))
            {
                case ArtifactPreview.Image:
                    previews.Add(Html.Of($"<figure class=\"preview\"><img src=\"{href}?inline=1\" alt=\"{a.Name}\" loading=\"lazy\"><figcaption>{a.Name}</figcaption></figure>"));
                    break;
                case ArtifactPreview.Json when a.Size <= PreviewShown:
                    previews.Add(Html.Of($"<details class=\"preview-json\"><summary>{a.Name}</summary>{await JsonPreviewAsync(a.Digest, a.Name, token)}</details>"));
                    break;
                case ArtifactPreview.Text when a.Size <= PreviewShown:
                    previews.Add(Html.Of($"<details class=\"preview-text\"><summary>{a.Name}</summary>{await TextPreviewAsync(a.Digest, a.Name, token)}</details>"));
                    break;
            }
        }
        return Layout.Section("Artifacts", Html.Of($"""
            <table class="artifacts"><thead><tr><th>name</th><th>size</th><th>sha256</th></tr></thead><tbody>{rows}</tbody></table>
            <div class="previews">{previews}</div>
            """), "artifacts");
    }

    public static string ArtifactUrl(Guid runId, string name) =>
        $"/runs/{runId:D}/artifacts/{string.Join('/', name.Split('/').Select(Uri.EscapeDataString))}";

    private async Task<Html> JsonPreviewAsync(string digest, string what, CancellationToken token)
    {
        try
        {
            var (text, truncated) = await BlobReader.ReadTextAsync(ui.Blobs, digest, PreviewShown, what, token);
            if (truncated) return Html.Of($"<pre class=\"json\">{text}</pre>") + Layout.Muted("… cut here; download it whole");
            using var document = JsonDocument.Parse(text);
            return Html.Of($"<pre class=\"json\">{JsonSerializer.Serialize(document.RootElement, Indented)}</pre>");
        }
        catch (JsonException)
        {
            return Layout.Muted("not valid JSON");
        }
        catch (BlobNotFoundException)
        {
            return Html.Of($"<p class=\"error\">blob {digest} is not in the blob store</p>");
        }
    }

    private async Task<Html> TextPreviewAsync(string digest, string what, CancellationToken token)
    {
        try
        {
            var (text, _) = await BlobReader.ReadTextAsync(ui.Blobs, digest, PreviewShown, what, token);
            return Html.Of($"<pre>{text}</pre>");
        }
        catch (BlobNotFoundException)
        {
            return Html.Of($"<p class=\"error\">blob {digest} is not in the blob store</p>");
        }
    }

    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private async Task<Html> LogAsync(RunRecord run, CancellationToken token)
    {
        var log = await ui.Store.GetLogAsync(run.Id, token);
        var (tail, total) = LogText.Tail(log, LogTail);
        return Layout.Section("Console log", Html.Of($"""
            <p class="muted"><span data-live-field="log-lines">{total}</span> lines; the last {LogTail} here · <a href="/runs/{run.Id:D}/log">whole log</a></p>
            <pre class="log" data-live-field="log">{tail}</pre>
            """), "log");
    }

    private async Task<Html> AuditAsync(RunRecord run, CancellationToken token)
    {
        var entries = await ui.Store.ListAuditAsync(run.Id.ToString("D"), token);
        return Layout.Section("Audit trail", entries.Count == 0 ? Layout.Muted("no entries") : AuditPage.Table(entries), "audit");
    }
}

/// <summary>The end of a console log.</summary>
internal static class LogText
{
    /// <summary>The last <paramref name="lines"/> lines and the number of lines in all.</summary>
    public static (string Tail, int Total) Tail(string log, int lines)
    {
        if (log.Length == 0) return ("", 0);
        var all = log.TrimEnd('\n').Split('\n');
        return (string.Join('\n', all.TakeLast(lines)) + "\n", all.Length);
    }
}
