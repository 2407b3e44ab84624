using System.Net;
using System.Text.Json;

namespace Lamina.Ui.Tests;

/// <summary>Compare: the series API both charts read, the page's charts, parameters and parallel coordinates.</summary>
public sealed class CompareTests
{
    [Fact]
    public async Task Series_OfTwoRuns_HasBothSeries_WithEveryPoint()
    {
        await using var ui = await UiHarness.CreateAsync();
        var seeded = await ui.SeedAsync();
        await ui.StartAsync();

        var json = await ui.Client.GetStringAsync($"/api/series?runs={seeded.Trained.Id:D},{seeded.Failed.Id.ToString("N")[..8]}&metrics=loss&points=all");
        using var document = JsonDocument.Parse(json);
        var series = document.RootElement.EnumerateArray().ToList();

        Assert.Equal(2, series.Count);
        var trained = series.Single(s => s.GetProperty("run_id").GetString() == seeded.Trained.Id.ToString("D"));
        Assert.Equal("loss", trained.GetProperty("name").GetString());
        Assert.Equal(10, trained.GetProperty("count").GetInt32());
        Assert.False(trained.GetProperty("downsampled").GetBoolean());
        var last = trained.GetProperty("points")[9];
        Assert.Equal(9, last[0].GetInt64());
        Assert.Equal(0.1, last[2].GetDouble(), 12);
        Assert.Equal(5, series.Single(s => s.GetProperty("run_id").GetString() == seeded.Failed.Id.ToString("D")).GetProperty("count").GetInt32());
    }

    [Fact]
    public async Task Series_Downsampled_KeepsEachBucketsMinimumAndMaximum()
    {
        // Given a run whose 1,000 loss points hide one spike
        await using var ui = await UiHarness.CreateAsync();
        var run = await ui.Store.CreateRunAsync(UiHarness.NewRun("p", "t", "{}", null, [], null), CancellationToken.None);
        var start = DateTimeOffset.UtcNow;
        await ui.Store.LogMetricsAsync(run.Id, [.. Enumerable.Range(0, 1000).Select(s => new Lamina.Tracking.MetricPoint("loss", s, s == 517 ? 50.0 : 1.0, start.AddSeconds(s)))], CancellationToken.None);
        await ui.StartAsync();

        // When its series is asked for in 10 points
        var json = await ui.Client.GetStringAsync($"/api/series?runs={run.Id:D}&metrics=loss&points=10");
        using var document = JsonDocument.Parse(json);
        var series = document.RootElement[0];

        // Then it is downsampled, and the spike is still the maximum of one point
        Assert.True(series.GetProperty("downsampled").GetBoolean());
        Assert.Equal(1000, series.GetProperty("count").GetInt32());
        var points = series.GetProperty("points").EnumerateArray().ToList();
        Assert.True(points.Count <= 10);
        Assert.Equal(50.0, points.Max(p => p[4].GetDouble()));
    }

    [Fact]
    public async Task ComparePage_HasAChartPerMetric_ForBothRuns_AndTheParameterThatDiffers()
    {
        await using var ui = await UiHarness.CreateAsync();
        var seeded = await ui.SeedAsync();
        await ui.StartAsync();

        var ids = $"{seeded.Trained.Id:D},{seeded.Failed.Id:D}";
        var html = await ui.Client.GetStringAsync($"/compare?runs={ids}&metric=loss&diff=1");

        Assert.Contains("data-page=\"compare\"", html);
        Assert.Contains($"<div class=\"chart\" data-metric=\"loss\" data-runs=\"{ids}\"", html);
        Assert.Contains($"<div class=\"chart\" data-metric=\"accuracy\" data-runs=\"{ids}\"", html);
        Assert.Contains("<tr class=\"differs\"><th><code>lr</code></th><td>0.1</td><td>0.01</td></tr>", html);
        Assert.DoesNotContain("<code>model.layers</code>", html);
        Assert.Contains("class=\"parallel-data\"", html);
        Assert.Contains("\"keys\":[\"lr\"]", html);
    }

    [Fact]
    public async Task ComparePage_DrawsCurvesBeforeFiguresLoggedOnce()
    {
        // Given two runs with curves of loss and accuracy, one of them with an AUC logged once (first in name order)
        await using var ui = await UiHarness.CreateAsync();
        var seeded = await ui.SeedAsync();
        await ui.StartAsync();

        // When they are compared without a chosen metric
        var html = await ui.Client.GetStringAsync($"/compare?runs={seeded.Trained.Id:D},{seeded.Failed.Id:D}");

        // Then the curves come first, in name order, and the one-value metric after them; the first curve is the chosen metric
        var order = System.Text.RegularExpressions.Regex.Matches(html, "<div class=\"chart\" data-metric=\"([^\"]+)\"").Select(m => m.Groups[1].Value).ToList();
        Assert.Equal(["accuracy", "loss", "auc"], order);
        Assert.Contains("<option value=\"accuracy\" selected>", html);
    }

    [Fact]
    public async Task ComparePage_FromTheRunsTablesTickedBoxes_ComparesThoseRuns()
    {
        await using var ui = await UiHarness.CreateAsync();
        var seeded = await ui.SeedAsync();
        await ui.StartAsync();

        // The runs table's form sends one runs=ID per ticked box
        var html = await ui.Client.GetStringAsync($"/compare?runs={seeded.Trained.Id:D}&runs={seeded.Failed.Id:D}");

        Assert.Contains("<h1>Compare 2 runs</h1>", html);
        Assert.Contains($"data-runs=\"{seeded.Trained.Id:D},{seeded.Failed.Id:D}\"", html);
    }

    [Fact]
    public async Task ComparePage_WithAllParameters_MarksThoseThatAreTheSame()
    {
        await using var ui = await UiHarness.CreateAsync();
        var seeded = await ui.SeedAsync();
        await ui.StartAsync();

        var html = await ui.Client.GetStringAsync($"/compare?runs={seeded.Trained.Id:D},{seeded.Failed.Id:D}");

        Assert.Contains("<tr class=\"same\"><th><code>model.layers</code></th><td>2</td><td>2</td></tr>", html);
        Assert.Contains("only differences</a> (2 of 3 are the same in every run)", html);
    }

    [Fact]
    public async Task ComparePage_OfOneRun_OrOfBadSettings_IsABadRequest()
    {
        await using var ui = await UiHarness.CreateAsync();
        var seeded = await ui.SeedAsync();
        await ui.StartAsync();

        var one = await ui.Client.GetAsync($"/compare?runs={seeded.Trained.Id:D}");
        var x = await ui.Client.GetAsync($"/compare?runs={seeded.Trained.Id:D},{seeded.Failed.Id:D}&x=colour");
        var tooMany = await ui.Client.GetAsync("/api/series?runs=" + string.Join(',', Enumerable.Range(0, 51).Select(_ => seeded.Trained.Id.ToString("D"))));

        Assert.Equal(HttpStatusCode.BadRequest, one.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, x.StatusCode);
        Assert.Contains("step, epoch or time", await x.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.BadRequest, tooMany.StatusCode);
    }
}
