using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Lamina.Tracking;

namespace Lamina.Ui.Tests;

/// <summary>The other pages, each at its stable URL, and the assets they load from Lamina itself.</summary>
public sealed partial class PagesTests
{
    [Theory]
    [InlineData("/runs", "runs")]
    [InlineData("/compare", "compare")]
    [InlineData("/models", "models")]
    [InlineData("/releases", "releases")]
    [InlineData("/trace", "trace")]
    [InlineData("/audit", "audit")]
    [InlineData("/queues", "queues")]
    [InlineData("/datasets", "datasets")]
    [InlineData("/tokens", "tokens")]
    public async Task EveryPage_AnswersWithItsDataPage_AndLoadsNothingFromElsewhere(string path, string page)
    {
        await using var ui = await UiHarness.CreateAsync();
        await ui.SeedAsync();
        await ui.StartAsync();

        var response = await ui.Client.GetAsync(path);
        var html = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains($"<main data-page=\"{page}\">", html);
        Assert.DoesNotMatch("(src|href)=\"(https?:)?//", html);
        Assert.Contains("default-src 'self'", response.Headers.GetValues("Content-Security-Policy").Single());
    }

    [Fact]
    public async Task Assets_AreServedByTheirContentHash_CachedForAYear()
    {
        await using var ui = await UiHarness.CreateAsync();
        await ui.StartAsync();
        var html = await ui.Client.GetStringAsync("/trace");
        var scripts = AssetPattern().Matches(html).Select(m => m.Groups[1].Value).ToList();

        Assert.Contains(scripts, s => s.StartsWith("/assets/uPlot.iife.min.", StringComparison.Ordinal));
        Assert.Contains(scripts, s => s.StartsWith("/assets/app.", StringComparison.Ordinal) && s.EndsWith(".js", StringComparison.Ordinal));
        foreach (var script in scripts)
        {
            var response = await ui.Client.GetAsync(script);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Contains("immutable", response.Headers.CacheControl!.ToString());
            var hash = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(await response.Content.ReadAsByteArrayAsync()));
            Assert.Contains("." + hash[..12] + ".", script);
        }
        Assert.Equal(HttpStatusCode.NotFound, (await ui.Client.GetAsync("/assets/app.000000000000.js")).StatusCode);
    }

    [Fact]
    public async Task AppScript_AsServed_LabelsTicksByMagnitude_AndGivesASinglePointARange()
    {
        // Given a page that draws charts
        await using var ui = await UiHarness.CreateAsync();
        await ui.StartAsync();
        var html = await ui.Client.GetStringAsync("/compare");

        // When its script is fetched as the browser fetches it
        var url = AssetPattern().Matches(html).Select(m => m.Groups[1].Value)
            .Single(s => s.StartsWith("/assets/app.", StringComparison.Ordinal) && s.EndsWith(".js", StringComparison.Ordinal));
        var script = await ui.Client.GetStringAsync(url);

        // Then both axes take Lamina's tick labels (an exponent for tiny values), the y axis sizes itself to them, and one point gets a range
        Assert.Contains("function tickLabel(v, step)", script);
        Assert.Contains("{ label: x === 'time' ? 'seconds since the first point' : x, values: linearTicks }", script);
        Assert.Contains("{ values: log ? logTicks : linearTicks, size: axisSize }", script);
        Assert.Contains("const yRange = rangeOfOne(data.slice(1), log);", script);
    }

    [Fact]
    public async Task Audit_ShowsTheChainIntact_TheHeadAnchor_AndTheEntries()
    {
        await using var ui = await UiHarness.CreateAsync();
        var seeded = await ui.SeedAsync();
        await ui.StartAsync();
        var verification = await ui.Store.VerifyAuditAsync(CancellationToken.None);

        var html = await ui.Client.GetStringAsync($"/audit?object={seeded.Failed.Id:D}");

        Assert.Contains("data-audit=\"intact\"", html);
        Assert.Contains($"{verification.Count}:{verification.HeadHash}", html);
        Assert.Contains("<code>run.failed</code>", html);
        Assert.DoesNotContain(seeded.Trained.Id.ToString("D"), html);
    }

    [Fact]
    public async Task Audit_NamesTheRealVerifyOption_AndWritesTimesReadably_WithTheWholeTimeInDatetime()
    {
        // Given a store with audit entries
        await using var ui = await UiHarness.CreateAsync();
        var seeded = await ui.SeedAsync();
        await ui.StartAsync();
        var entry = (await ui.Store.ListAuditAsync(seeded.Failed.Id.ToString("D"), CancellationToken.None))[^1];

        // When the audit page is read
        var html = await ui.Client.GetStringAsync($"/audit?object={seeded.Failed.Id:D}");

        // Then it tells the option 'lamina audit verify' really has, and each time is UTC to the second, the stored one kept whole
        Assert.Contains("<code>lamina audit verify --expect ANCHOR</code>", html);
        Assert.DoesNotContain("--anchor", html);
        var readable = DateTimeOffset.Parse(entry.Time, CultureInfo.InvariantCulture).UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);
        Assert.Contains($"<td><time datetime=\"{entry.Time}\">{readable}</time></td>", html);
        Assert.DoesNotContain($"<td>{entry.Time}</td>", html);
    }

    [Fact]
    public async Task Models_ShowsAPublicationsWhoWhenWhyAndDigests()
    {
        // Given a completed run with a model, published
        await using var ui = await UiHarness.CreateAsync();
        var seeded = await ui.SeedAsync();
        var card = new string('c', 64);
        var manifest = new string('d', 64);
        await ui.Store.RegisterModelAsync(seeded.Trained.Id, "tumour", "trained", card, CancellationToken.None);
        await ui.Store.MarkPublishedAsync(new NewPublication(seeded.Trained.Id, "tumour", manifest, DateTimeOffset.UtcNow, "ada@gpu-01", "validated on cohort B"), CancellationToken.None);
        await ui.StartAsync();

        var models = await ui.Client.GetStringAsync("/models");
        var run = await ui.Client.GetStringAsync($"/runs/{seeded.Trained.Id:D}");

        Assert.Contains("<strong>tumour</strong>", models);
        Assert.Contains("by ada@gpu-01: validated on cohort B", models);
        Assert.Contains($"title=\"{manifest}\"", models);
        Assert.Contains($"title=\"{card}\"", models);
        Assert.Contains("the run is immutable", run);
        Assert.DoesNotContain("/requeue\"", run);
    }

    [Fact]
    public async Task Queues_FlagAWorkerWhoseHeartbeatStopped()
    {
        // Given a worker registered a minute ago by the store's clock, silent since
        await using var ui = await UiHarness.CreateAsync();
        await ui.Store.RegisterWorkerAsync(new WorkerRegistration("w1", "gpu-01", 4242, ["gpu"], ["H100"], 1, "0.1.0"), TimeSpan.FromSeconds(30), CancellationToken.None);
        await ui.StartAsync(sources: s => s with
        {
            Time = new ShiftedClock(TimeSpan.FromMinutes(1)),
            QueueDepths = _ => Task.FromResult<IReadOnlyList<QueueDepth>>([new QueueDepth("gpu", 7, 0)]),
        });

        var html = await ui.Client.GetStringAsync("/queues");

        Assert.Contains("<tr class=\"worker-stale\" data-state=\"stale\"><td>w1</td>", html);
    }

    [Fact]
    public async Task Trace_DrawsTheTracersTree_WithEachDigestsState()
    {
        await using var ui = await UiHarness.CreateAsync();
        var tree = new JsonObject
        {
            ["label"] = "run 0123",
            ["sha256"] = null,
            ["state"] = "verified",
            ["detail"] = null,
            ["children"] = new JsonArray(new JsonObject { ["label"] = "model.json", ["sha256"] = new string('e', 64), ["state"] = "altered", ["detail"] = "changed", ["children"] = new JsonArray() }),
        };
        await ui.StartAsync(sources: s => s with { Trace = (id, _) => Task.FromResult(id == "0123" ? tree : throw new InvalidOperationException(id)) });

        var html = await ui.Client.GetStringAsync("/trace/0123");

        Assert.Contains("data-trace=\"problem\"", html);
        Assert.Contains("<span class=\"node state-altered\" data-state=\"altered\">", html);
        Assert.Contains("model.json", html);
    }

    [Fact]
    public async Task Trace_WithoutTheCliTracer_SaysSo()
    {
        await using var ui = await UiHarness.CreateAsync();
        await ui.StartAsync();

        var html = await ui.Client.GetStringAsync("/trace/0123");

        Assert.Contains("needs the command line's tracer", html);
    }

    [Fact]
    public async Task Datasets_ListsTheSlidesOfTheManifest()
    {
        // Given a data set whose manifest is in the blob store
        await using var ui = await UiHarness.CreateAsync();
        var manifest = """{"format":"lamina.dataset/1","name":"tumour-tiles","settings":{},"classes":["stroma","tumour"],"validation_split":0.5,"seed":1,"slides":[{"name":"a.svs","sha256":"1111111111111111111111111111111111111111111111111111111111111111","size":2048,"width":1000,"height":800,"microns_per_pixel":0.5,"annotations_sha256":null,"split":"train"}],"tiles":[{"slide":0,"x":0,"y":0,"width":224,"height":224,"label":1}]}"""u8.ToArray();
        var (digest, _) = await ui.Blobs.PutBytesAsync(manifest, CancellationToken.None);
        await ui.Store.RegisterDatasetAsync(new DatasetRecord(digest, "tumour-tiles", DateTimeOffset.UtcNow, null, 1, 1, "{}"), CancellationToken.None);
        await ui.StartAsync();

        var list = await ui.Client.GetStringAsync("/datasets");
        var show = await ui.Client.GetStringAsync($"/datasets/{digest[..12]}");

        Assert.Contains($"href=\"/datasets/{digest}\">tumour-tiles</a>", list);
        Assert.Contains("<code>a.svs</code>", show);
        Assert.Contains("<svg class=\"tile-map\"", show);
        Assert.Contains("1000 × 800", show);
    }

    [GeneratedRegex("(?:src|href)=\"(/assets/[^\"]+)\"")]
    private static partial Regex AssetPattern();

    /// <summary>The system clock moved on by a fixed span: "now" as a later reader sees it.</summary>
    private sealed class ShiftedClock(TimeSpan shift) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => System.GetUtcNow() + shift;
    }
}
