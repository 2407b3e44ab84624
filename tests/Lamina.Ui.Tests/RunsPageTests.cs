using System.Net;
using System.Text.RegularExpressions;

namespace Lamina.Ui.Tests;

/// <summary>The runs table: filters, sorting, chosen columns and CSV export, all from the URL.</summary>
public sealed partial class RunsPageTests
{
    [Fact]
    public async Task Runs_FilteredByProjectAndStatus_ShowsOnlyMatchingRuns()
    {
        await using var ui = await UiHarness.CreateAsync();
        var seeded = await ui.SeedAsync();
        await ui.StartAsync();

        var html = await ui.Client.GetStringAsync("/runs?project=pathology&status=failed");

        Assert.Contains("data-page=\"runs\"", html);
        Assert.Equal([seeded.Failed.Id.ToString("D")], RunIds(html));
        Assert.Contains("data-total=\"1\"", html);
    }

    [Fact]
    public async Task Runs_SortedByAMetricsMinimum_ComeInThatOrder_WithTheColumnShown()
    {
        // Given two runs whose loss minimum differs (0.1 for the trained one, 0.4 for the failed one)
        await using var ui = await UiHarness.CreateAsync();
        var seeded = await ui.SeedAsync();
        await ui.StartAsync();

        // When the table is sorted by loss:min ascending, with that column and the lr parameter shown
        var html = await ui.Client.GetStringAsync("/runs?project=pathology&sort=metric:loss:min&metrics=loss:min&params=lr");

        // Then the lower minimum comes first, and the cells hold the values
        Assert.Equal([seeded.Trained.Id.ToString("D"), seeded.Failed.Id.ToString("D")], RunIds(html));
        Assert.Matches(@"<td class=""num"">0\.1</td>", html);
        Assert.Matches(@"<td class=""num"">0\.4</td>", html);
        Assert.Contains("<td class=\"param\">0.01</td>", html);
        Assert.Contains("aria-sort=\"ascending\"", html);
    }

    [Fact]
    public async Task Runs_TextSearch_MatchesTheTask()
    {
        await using var ui = await UiHarness.CreateAsync();
        var seeded = await ui.SeedAsync();
        await ui.StartAsync();

        var html = await ui.Client.GetStringAsync("/runs?q=evaluat");

        Assert.Equal([seeded.Running.Id.ToString("D")], RunIds(html));
    }

    [Fact]
    public async Task Runs_BadSort_IsABadRequestThatNamesTheKey()
    {
        await using var ui = await UiHarness.CreateAsync();
        await ui.StartAsync();

        var response = await ui.Client.GetAsync("/runs?sort=colour");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("sort=colour", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task RunsCsv_HasEveryMatchingRow_WithTheChosenColumns()
    {
        await using var ui = await UiHarness.CreateAsync();
        var seeded = await ui.SeedAsync();
        await ui.StartAsync();

        var response = await ui.Client.GetAsync("/runs.csv?project=pathology&sort=created&params=lr,model.layers&metrics=loss:last,accuracy:max");
        var lines = (await response.Content.ReadAsStringAsync()).Split("\r\n", StringSplitOptions.RemoveEmptyEntries);

        Assert.Equal("text/csv", response.Content.Headers.ContentType!.MediaType);
        Assert.Equal("id,project,task,type,status,created_at,started_at,ended_at,user,host,tags,queue,param:lr,param:model.layers,metric:loss:last,metric:accuracy:max", lines[0]);
        Assert.Equal(3, lines.Length);
        var trained = lines[1].Split(',');
        Assert.Equal(seeded.Trained.Id.ToString("D"), trained[0]);
        Assert.Equal(["0.1", "2", "0.1", "0.86"], trained[^4..]);
        var failed = lines[2].Split(',');
        Assert.Equal(seeded.Failed.Id.ToString("D"), failed[0]);
        Assert.Equal("failed", failed[4]);
        Assert.Equal(["0.01", "2", "0.4", ""], failed[^4..]);
    }

    [Fact]
    public async Task RunsCsv_KeepsAFormulaLikeTagAsText()
    {
        await using var ui = await UiHarness.CreateAsync();
        await ui.Store.CreateRunAsync(UiHarness.NewRun("p", "t", "{}", null, ["=HYPERLINK(\"http://x\")"], null), CancellationToken.None);
        await ui.StartAsync();

        var csv = await ui.Client.GetStringAsync("/runs.csv");

        Assert.Contains(",\"'=HYPERLINK(\"\"http://x\"\")\",", csv);
    }

    [Fact]
    public async Task Runs_Paged_SaysWhereThePageIs_AndLinksTheNext()
    {
        await using var ui = await UiHarness.CreateAsync();
        await ui.SeedAsync();
        await ui.StartAsync();

        var html = await ui.Client.GetStringAsync("/runs?size=2");
        var second = await ui.Client.GetStringAsync("/runs?size=2&page=2");

        Assert.Equal(2, RunIds(html).Count);
        Assert.Contains("runs 1–2 of 3", html);
        Assert.Contains("href=\"/runs?page=2&amp;size=2\"", html);
        Assert.Single(RunIds(second));
    }

    private static List<string> RunIds(string html) =>
        [.. RowPattern().Matches(html).Select(m => m.Groups[1].Value)];

    [GeneratedRegex("<tr data-run=\"([0-9a-f-]{36})\"")]
    private static partial Regex RowPattern();
}
