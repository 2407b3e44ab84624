using System.Security.Cryptography;
using System.Text.RegularExpressions;
using Microsoft.Playwright;

namespace Lamina.Cli.Tests.Ui.Browser;

/// <summary>
/// The web UI as a person uses it: Debian's chromium on pages that <c>lamina ui</c> serves over a real store, clicking
/// and typing as a person would.
/// </summary>
[Collection(BrowserCollection.Name)]
public sealed partial class UiBrowserTests(Chromium chromium, ServedStore served) : IClassFixture<ServedStore>
{
    // Generous: CI runs the other test projects beside these, and chromium shares two cores with them.
    private static readonly float Wait = 30_000;

    private UiStore Store => served.Store;

    [Fact]
    public async Task RunsTable_FilteredByProjectInItsForm_ShowsFewerRows_AndTheUrlKeepsTheFilter()
    {
        // Given the runs table of a store with runs of two projects
        await using var context = await chromium.NewContextAsync();
        var page = await context.NewPageAsync();
        await page.GotoAsync(served.Url("runs"));
        var rows = page.Locator("main[data-page=runs] table.runs tbody tr[data-run]");
        var before = await rows.CountAsync();

        // When the project filter is typed into the form and submitted
        await page.Locator("form.filters input[name=project]").FillAsync("Breast");
        await page.Locator("form.filters input[name=project]").PressAsync("Enter");
        await page.WaitForURLAsync(ProjectFilter(), new() { Timeout = Wait, WaitUntil = WaitUntilState.Commit });

        // Then only the breast project's two runs remain, and the URL (what a colleague is sent) holds the filter
        await Assertions.Expect(rows).ToHaveCountAsync(2, new() { Timeout = Wait });
        Assert.True(before > 2, $"the table showed {before} runs before filtering");
        Assert.Equal(1, await rows.Filter(new() { HasText = UiStore.Short(Store.Fast) }).CountAsync());
        Assert.Equal(0, await rows.Filter(new() { HasText = UiStore.Short(Store.Failed) }).CountAsync());

        // And opening that URL afresh shows the same rows
        var shared = await context.NewPageAsync();
        await shared.GotoAsync(page.Url);
        await Assertions.Expect(shared.Locator("table.runs tbody tr[data-run]")).ToHaveCountAsync(2, new() { Timeout = Wait });
    }

    [Fact]
    public async Task RunPage_DrawsTheLossCurve_AndColoursTheUncommittedDiff()
    {
        // Given a run with a loss curve and an uncommitted diff
        await using var context = await chromium.NewContextAsync();
        var page = await context.NewPageAsync();

        // When its page is opened from the runs table
        await page.GotoAsync(served.Url("runs"));
        await page.Locator($"table.runs tr[data-run='{Store.Fast:D}'] a[href^='/runs/']").First.ClickAsync();
        await page.WaitForURLAsync(new Regex($"/runs/{Store.Fast:D}|/runs/{UiStore.Short(Store.Fast)}"), new() { Timeout = Wait, WaitUntil = WaitUntilState.Commit });

        // Then the loss chart is drawn on a canvas, with a legend entry naming the run
        var chart = page.Locator("main[data-page=run] div.chart[data-metric=loss]");
        await Assertions.Expect(chart.Locator("canvas")).ToHaveCountAsync(1, new() { Timeout = Wait });
        await Assertions.Expect(chart.Locator(".u-legend")).ToContainTextAsync(UiStore.Short(Store.Fast), new() { Timeout = Wait });
        Assert.True(await InkedPixelsAsync(chart.Locator("canvas")) > 100, "the loss chart's canvas is blank");

        // And the diff shows the added line and the removed line, each coloured otherwise than the context lines
        var added = page.Locator("pre.diff .d-add", new() { HasText = UiStore.AddedLine.TrimStart('+').Trim() });
        var removed = page.Locator("pre.diff .d-del", new() { HasText = UiStore.RemovedLine.TrimStart('-').Trim() });
        await Assertions.Expect(added).ToHaveCountAsync(1);
        await Assertions.Expect(removed).ToHaveCountAsync(1);
        var context_ = await LookAsync(page.Locator("pre.diff .d-ctx").First);
        var addedLook = await LookAsync(added);
        var removedLook = await LookAsync(removed);
        Assert.NotEqual(context_, addedLook);
        Assert.NotEqual(context_, removedLook);
        Assert.NotEqual(addedLook, removedLook);
    }

    [Fact]
    public async Task Compare_TwoRunsTickedInTheTable_OverlaysBothLossCurves()
    {
        // Given the runs table
        await using var context = await chromium.NewContextAsync();
        var page = await context.NewPageAsync();
        await page.GotoAsync(served.Url("runs"));

        // When the two trainings are ticked and compared
        await page.Locator($"tr[data-run='{Store.Fast:D}'] input[type=checkbox]").CheckAsync();
        await page.Locator($"tr[data-run='{Store.Slow:D}'] input[type=checkbox]").CheckAsync();
        await page.Locator("button.compare-button").ClickAsync();
        await page.WaitForURLAsync(new Regex("/compare\\?"), new() { Timeout = Wait, WaitUntil = WaitUntilState.Commit });

        // Then the loss chart has a series for each, named by the runs' short ids, on a canvas that is drawn
        var chart = page.Locator("main[data-page=compare] div.chart[data-metric=loss]");
        var legend = chart.Locator(".u-legend");
        await Assertions.Expect(legend).ToContainTextAsync(UiStore.Short(Store.Fast), new() { Timeout = Wait });
        await Assertions.Expect(legend).ToContainTextAsync(UiStore.Short(Store.Slow), new() { Timeout = Wait });
        Assert.True(await InkedPixelsAsync(chart.Locator("canvas")) > 100, "the comparison's canvas is blank");

        // And the parameter table, showing only differences, has the learning rate
        await Assertions.Expect(page.Locator("main[data-page=compare]")).ToContainTextAsync("optimizer.lr");
    }

    [Fact]
    public async Task Charts_OnALogScale_LabelTinyValuesByTheirMagnitude_AndAChartOfOnePoint_HasARangeAndLabelsThatFit()
    {
        // Given two runs whose learning rate fell from 1e-5 to 1e-8 and whose test AUC is one point each, the same
        await using var context = await chromium.NewContextAsync();
        var page = await context.NewPageAsync();

        // When they are compared on a log scale
        await page.GotoAsync(served.Url($"compare?runs={Store.Fast:D},{Store.Slow:D}&log=1"));
        var lr = page.Locator($"main[data-page=compare] div.chart[data-metric='{UiStore.LearningRateMetric}'][data-state=drawn]");
        var auc = page.Locator($"main[data-page=compare] div.chart[data-metric='{UiStore.SinglePointMetric}'][data-state=drawn]");
        await Assertions.Expect(lr).ToHaveCountAsync(1, new() { Timeout = Wait });
        await Assertions.Expect(auc).ToHaveCountAsync(1, new() { Timeout = Wait });
        var lrAxes = await AxesAsync(lr);
        var aucAxes = await AxesAsync(auc);

        // Then the learning rate's y ticks read as the tiny numbers they are, none of them "0", each different
        var lrTicks = lrAxes[1].Labels;
        Assert.True(lrTicks.Length >= 2, $"the learning rate's y axis has ticks {string.Join(" | ", lrTicks)}");
        Assert.All(lrTicks, t => Assert.InRange(double.Parse(t, System.Globalization.CultureInfo.InvariantCulture), 1e-9, 1e-4));
        Assert.Equal(lrTicks.Length, lrTicks.Distinct().Count());

        // And the AUC's chart spans a range around its one point on both axes, each tick different and as wide as its axis at most
        Assert.All(aucAxes, a => Assert.True(a.Min < a.Max, $"{a.Scale} spans {a.Min} to {a.Max}"));
        Assert.All(aucAxes, a => Assert.True(a.Labels.Length >= 2 && a.Labels.Length == a.Labels.Distinct().Count(), $"{a.Scale} ticks: {string.Join(" | ", a.Labels)}"));
        Assert.All(aucAxes.Concat(lrAxes).Where(a => a.Scale == "y"),
            a => Assert.True(a.WidestLabel <= a.Size, $"the y labels need {a.WidestLabel} px of the axis's {a.Size}: {string.Join(" | ", a.Labels)}"));
        Assert.All(aucAxes.Concat(lrAxes), a => Assert.True(a.Top >= 6, $"{a.Top} px above the plot: the top label is cut in half"));
    }

    [Fact]
    public async Task Artifact_DownloadedFromTheRunPage_HasTheDigestTheStoreRecorded()
    {
        // Given a run's page listing its artifacts
        await using var context = await chromium.NewContextAsync();
        var page = await context.NewPageAsync();
        await page.GotoAsync(served.Url($"runs/{Store.Fast:D}"));

        // When the curve's PNG is downloaded as a person clicks it
        var link = page.Locator("main[data-page=run] a[download][data-sha256]", new() { HasText = UiStore.CurveArtifact });
        var download = await page.RunAndWaitForDownloadAsync(() => link.ClickAsync(), new() { Timeout = Wait });
        var saved = await download.PathAsync();

        // Then the file's SHA-256 is the blob's, a PNG, named after the artifact
        await using var file = File.OpenRead(saved);
        Assert.Equal(Store.CurveDigest, Convert.ToHexStringLower(await SHA256.HashDataAsync(file)));
        Assert.Equal("loss.png", download.SuggestedFilename);
        Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], (await File.ReadAllBytesAsync(saved))[..4]);
    }

    private static Regex ProjectFilter() => new("[?&]project=Breast(&|$)");

    /// <summary>How many pixels of a canvas are not transparent: a chart that was drawn has its lines and axes.</summary>
    private static Task<int> InkedPixelsAsync(ILocator canvas) => canvas.First.EvaluateAsync<int>("""
        c => {
          const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
          let inked = 0;
          for (let i = 3; i < data.length; i += 4) if (data[i] > 0) inked++;
          return inked;
        }
        """);

    /// <summary>A drawn chart's axes as uPlot laid them out: scale, range, tick labels, the widest label and the axis's size (CSS pixels).</summary>
    private static Task<ChartAxis[]> AxesAsync(ILocator chart) => chart.EvaluateAsync<ChartAxis[]>("""
        el => el._plot.axes.map(a => {
          const u = el._plot;
          u.ctx.font = a.font[0];
          const labels = (a._values || []).filter(v => v !== null && v !== undefined && v !== "").map(String);
          const widest = Math.max(0, ...labels.map(l => u.ctx.measureText(l).width)) / devicePixelRatio + a.ticks.size + a.gap;
          return { scale: a.scale, min: u.scales[a.scale].min, max: u.scales[a.scale].max, labels, widestLabel: widest, size: a._size, top: u.bbox.top / devicePixelRatio };
        })
        """);

    /// <summary>A line's colour and background as the browser renders them.</summary>
    private static Task<string> LookAsync(ILocator line) =>
        line.EvaluateAsync<string>("e => { const s = getComputedStyle(e); return s.color + ' on ' + s.backgroundColor; }");

    /// <summary>One axis of a drawn chart (settable: Playwright fills it from the page's JSON).</summary>
    private sealed class ChartAxis
    {
        public string Scale { get; set; } = "";

        public double Min { get; set; }

        public double Max { get; set; }

        public string[] Labels { get; set; } = [];

        public double WidestLabel { get; set; }

        public double Size { get; set; }

        /// <summary>The room above the plot, where the top tick's label reaches.</summary>
        public double Top { get; set; }
    }
}
