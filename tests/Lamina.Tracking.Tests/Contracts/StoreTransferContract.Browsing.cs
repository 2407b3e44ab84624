namespace Lamina.Tracking.Tests.Contracts;

/// <summary>Issue 17: a copied run is found, sorted and charted in the target's runs table as in the source's.</summary>
public abstract partial class StoreTransferContract
{
    [Fact]
    public async Task ImportRun_RebuildsItsParametersAndMetricSummaries_AsTheSourceHasThem()
    {
        // Given runs with configurations, a NaN metric and a published run
        var (source, from) = await OpenAsync("source");
        var (target, to) = await OpenAsync("target");
        var (published, user, queued, _) = await FillAsync(source);

        // When they are copied
        await CopyRunsAsync(source, from, target, to);

        // Then each has the same parameters and summaries there, and the target's runs table finds them the same way
        foreach (var id in new[] { published, user, queued })
        {
            Assert.Equal(await source.GetParametersAsync(id, None), await target.GetParametersAsync(id, None));
            Assert.Equal(Comparable(await source.GetMetricSummariesAsync(id, None)), Comparable(await target.GetMetricSummariesAsync(id, None)));
        }
        Assert.NotEmpty(await target.GetParametersAsync(user, None));
        Assert.Equal((1, 0.75), (await target.GetMetricSummariesAsync(user, None)).Single() is var auc ? (auc.LastStep, auc.Last) : default);
        var query = new RunTableQuery(Sort: RunSort.Parse("metric:auc"), ParameterColumns: ["models.m.cls"], MetricColumns: [MetricColumn.Parse("auc:min")]);
        var (before, after) = (await source.BrowseRunsAsync(query, None), await target.BrowseRunsAsync(query, None));
        Assert.Equal(before.Rows.Select(r => (r.Run.Id, r.Parameters.GetValueOrDefault("models.m.cls"))),
            after.Rows.Select(r => (r.Run.Id, r.Parameters.GetValueOrDefault("models.m.cls"))));
        Assert.Equal(user, after.Rows[0].Run.Id);

        static IEnumerable<string> Comparable(IEnumerable<MetricSummary> summaries) => summaries.Select(s => s.ToString());
    }
}
