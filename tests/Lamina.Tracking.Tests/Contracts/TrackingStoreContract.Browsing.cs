namespace Lamina.Tracking.Tests.Contracts;

/// <summary>
/// Issue 17: what the web UI reads. The runs table is filtered, sorted and paged by the database over the runs'
/// parameters and metric summaries (kept as runs are created and metrics logged), and metric series are downsampled
/// with nothing hidden.
/// </summary>
public abstract partial class TrackingStoreContract
{
    /// <summary>
    /// Replaces the (not yet opened) store under test with one at the schema before the runs table's tables, holding the
    /// rows <paramref name="seedSql"/> inserts there, and brings it up to date as an upgrade of Lamina would.
    /// </summary>
    protected abstract Task UseStoreFromBeforeBrowsingAsync(string seedSql);

    private static NewRun Configured(string configuration, string project = "pathology", string task = "simple_train") =>
        Samples.Run(project, task) with { ConfigurationJson = configuration };

    private static async Task<IReadOnlyList<Guid>> BrowseIdsAsync(ITrackingStore store, RunTableQuery query) =>
        [.. (await store.BrowseRunsAsync(query, None)).Rows.Select(r => r.Run.Id)];

    // Filters

    [Fact]
    public async Task BrowseRuns_FiltersByEachField_AndCountsWhatMatches()
    {
        // Given three runs that differ in every field the table filters by
        await using var store = await OpenAsync();
        var a = await store.CreateRunAsync(Samples.Run("lung", "train") with { Tags = ["he", "baseline"], User = "ada", Description = "first try" }, None);
        Time.Advance(TimeSpan.FromMinutes(1));
        var b = await store.CreateRunAsync(Samples.Run("kidney", "test", RunStatus.Queued) with
        {
            TaskType = "testing", Tags = ["ihc"], User = "bob", Description = "Kidney check, 100% of slides", Queueing = new RunQueueing("gpu", 2),
        }, None);
        Time.Advance(TimeSpan.FromMinutes(1));
        var c = await store.CreateRunAsync(Samples.Run("lung", "train") with { Tags = ["the"], User = "bob", Description = null }, None);
        await store.FinishRunAsync(c.Id, RunStatus.Failed, "CUDA Out of Memory", None);

        async Task Expect(RunTableQuery query, params RunRecord[] expected)
        {
            var page = await store.BrowseRunsAsync(query, None);
            Assert.Equal(expected.Select(r => r.Id), page.Rows.Select(r => r.Run.Id));
            Assert.Equal(expected.Length, page.Total);
        }

        // Then each filter keeps its runs, newest first
        await Expect(new RunTableQuery(), c, b, a);
        await Expect(new RunTableQuery(Project: "lung"), c, a);
        await Expect(new RunTableQuery(Task: "test"), b);
        await Expect(new RunTableQuery(TaskType: "testing"), b);
        await Expect(new RunTableQuery(Status: RunStatus.Failed), c);
        await Expect(new RunTableQuery(Status: RunStatus.Completed));
        await Expect(new RunTableQuery(User: "bob"), c, b);
        await Expect(new RunTableQuery(Queue: "gpu"), b);
        await Expect(new RunTableQuery(Project: "lung", User: "bob"), c);

        // A tag matches whole and exactly: "he" is not in "the", nor is "HE" the tag "he"
        await Expect(new RunTableQuery(Tag: "he"), a);
        await Expect(new RunTableQuery(Tag: "HE"));

        // Free text: id prefix, project, task, description, tags, user and error, case-insensitively; LIKE's wildcards are literal
        await Expect(new RunTableQuery(Text: a.Id.ToString()[..8].ToUpperInvariant()), a);
        await Expect(new RunTableQuery(Text: "KIDNEY"), b);
        await Expect(new RunTableQuery(Text: "out of memory"), c);
        await Expect(new RunTableQuery(Text: "IHC"), b);
        await Expect(new RunTableQuery(Text: "first TRY"), a);
        await Expect(new RunTableQuery(Text: " ada "), a);
        await Expect(new RunTableQuery(Text: "100%"), b);
        await Expect(new RunTableQuery(Text: "1_0"));
        await Expect(new RunTableQuery(Text: "%"), b);
    }

    // Sorting

    [Fact]
    public async Task BrowseRuns_SortedByAParameter_OrdersNumbersNumerically_ThenText_AndMissingLastEitherWay()
    {
        await using var store = await OpenAsync();
        var nine = await store.CreateRunAsync(Configured("""{"train":{"epochs":9}}"""), None);
        var hundred = await store.CreateRunAsync(Configured("""{"train":{"epochs":100}}"""), None);
        var missing = await store.CreateRunAsync(Configured("""{"train":{}}"""), None);
        var auto = await store.CreateRunAsync(Configured("""{"train":{"epochs":"auto"}}"""), None);
        var ten = await store.CreateRunAsync(Configured("""{"train":{"epochs":"10"}}"""), None);

        Assert.Equal([nine.Id, ten.Id, hundred.Id, auto.Id, missing.Id],
            await BrowseIdsAsync(store, new RunTableQuery(Sort: RunSort.Parse("param:train.epochs"))));
        Assert.Equal([hundred.Id, ten.Id, nine.Id, auto.Id, missing.Id],
            await BrowseIdsAsync(store, new RunTableQuery(Sort: RunSort.Parse("-param:train.epochs"))));
    }

    [Fact]
    public async Task BrowseRuns_SortedByAMetric_UsesItsLastMinOrMax_AndPutsRunsWithoutItLast()
    {
        // Given runs whose loss has a different order by last, min and max, and one run without a loss
        await using var store = await OpenAsync();
        async Task<Guid> RunWithLoss(params double[] values)
        {
            var run = await store.CreateRunAsync(Samples.Run(), None);
            await store.LogMetricsAsync(run.Id, [.. values.Select((v, i) => new MetricPoint("loss", i, v, Start))], None);
            return run.Id;
        }
        var x = await RunWithLoss(5, 1, 3);   // last 3, min 1, max 5
        var y = await RunWithLoss(2, 9, 4);   // last 4, min 2, max 9
        var z = await RunWithLoss(0.5, 2);    // last 2, min 0.5, max 2
        var none = (await store.CreateRunAsync(Samples.Run(), None)).Id;

        Assert.Equal([z, x, y, none], await BrowseIdsAsync(store, new RunTableQuery(Sort: RunSort.Parse("metric:loss"))));
        Assert.Equal([y, x, z, none], await BrowseIdsAsync(store, new RunTableQuery(Sort: RunSort.Parse("-metric:loss:last"))));
        Assert.Equal([z, x, y, none], await BrowseIdsAsync(store, new RunTableQuery(Sort: RunSort.Parse("metric:loss:min"))));
        Assert.Equal([y, x, z, none], await BrowseIdsAsync(store, new RunTableQuery(Sort: RunSort.Parse("-metric:loss:min"))));
        Assert.Equal([z, x, y, none], await BrowseIdsAsync(store, new RunTableQuery(Sort: RunSort.Parse("metric:loss:max"))));
        Assert.Equal([y, x, z, none], await BrowseIdsAsync(store, new RunTableQuery(Sort: RunSort.Parse("-metric:loss:max"))));
    }

    [Fact]
    public async Task BrowseRuns_SortedByTheRunsOwnColumns_PutsRunsWithoutAValueLast()
    {
        // Given a queued run (never started), one that ran 10 minutes and one that ran 2 minutes, made in that order
        await using var store = await OpenAsync();
        var queued = await store.CreateRunAsync(Samples.Run("b-project", "c-task", RunStatus.Queued) with { User = "cy" }, None);
        Time.Advance(TimeSpan.FromMinutes(1));
        var longRun = await store.CreateRunAsync(Samples.Run("c-project", "a-task") with { User = "ada" }, None);
        Time.Advance(TimeSpan.FromMinutes(1));
        var shortRun = await store.CreateRunAsync(Samples.Run("a-project", "b-task") with { User = "bo" }, None);
        Time.Advance(TimeSpan.FromMinutes(2));
        await store.FinishRunAsync(shortRun.Id, RunStatus.Completed, null, None);
        Time.Advance(TimeSpan.FromMinutes(7));
        await store.FinishRunAsync(longRun.Id, RunStatus.Failed, "boom", None);

        async Task Expect(string sort, params RunRecord[] expected) =>
            Assert.Equal(expected.Select(r => r.Id), await BrowseIdsAsync(store, new RunTableQuery(Sort: RunSort.Parse(sort))));

        await Expect("created", queued, longRun, shortRun);
        await Expect("-created", shortRun, longRun, queued);
        await Expect("started", longRun, shortRun, queued);
        await Expect("-started", shortRun, longRun, queued);
        await Expect("ended", shortRun, longRun, queued);
        await Expect("duration", shortRun, longRun, queued);
        await Expect("-duration", longRun, shortRun, queued);
        await Expect("status", shortRun, longRun, queued);
        await Expect("project", shortRun, queued, longRun);
        await Expect("-task", queued, shortRun, longRun);
        await Expect("user", longRun, shortRun, queued);
    }

    // Paging

    [Fact]
    public async Task BrowseRuns_PagesAreDisjoint_StableUnderTies_AndEachCountsEveryMatch()
    {
        // Given seven runs made at the same instant (only their ids tell them apart)
        await using var store = await OpenAsync();
        for (var i = 0; i < 7; i++) await store.CreateRunAsync(Samples.Run(), None);

        var pages = new List<RunPage>();
        for (var offset = 0; offset < 9; offset += 3)
        {
            pages.Add(await store.BrowseRunsAsync(new RunTableQuery(Offset: offset, Limit: 3), None));
        }

        Assert.All(pages, page => Assert.Equal(7, page.Total));
        Assert.Equal([3, 3, 1], pages.Select(p => p.Rows.Count));
        var paged = pages.SelectMany(p => p.Rows.Select(r => r.Run.Id)).ToList();
        Assert.Equal(await BrowseIdsAsync(store, new RunTableQuery(Limit: 7)), paged);
        Assert.Equal(7, paged.Distinct().Count());
        Assert.Equal(paged.Select(id => id.ToString()).Order(StringComparer.Ordinal), paged.Select(id => id.ToString()));
        Assert.Empty((await store.BrowseRunsAsync(new RunTableQuery(Offset: 7), None)).Rows);
    }

    [Theory]
    [InlineData(0, 0)]
    [InlineData(RunTableQuery.MaxLimit + 1, 0)]
    [InlineData(10, -1)]
    public async Task BrowseRuns_RefusesALimitOutOfRange_OrANegativeOffset(int limit, int offset)
    {
        await using var store = await OpenAsync();

        var e = await Assert.ThrowsAnyAsync<ArgumentException>(() => store.BrowseRunsAsync(new RunTableQuery(Offset: offset, Limit: limit), None));

        Assert.Contains(limit is < 1 or > RunTableQuery.MaxLimit ? limit.ToString(System.Globalization.CultureInfo.InvariantCulture) : "offset", e.Message);
    }

    // Columns

    [Fact]
    public async Task BrowseRuns_FillsTheAskedParameterAndMetricColumns_OfThePagesRows()
    {
        await using var store = await OpenAsync();
        var run = await store.CreateRunAsync(Configured("""{"optimizer":{"lr":0.01,"name":"adam"},"layers":[64,32]}"""), None);
        await store.LogMetricsAsync(run.Id, [new("loss", 1, 0.9, Start), new("loss", 2, 0.4, Start), new("auc", 1, 0.7, Start), new("acc", 1, 0.5, Start)], None);

        var row = (await store.BrowseRunsAsync(new RunTableQuery(
            ParameterColumns: ["optimizer.lr", "layers[1]", "absent"],
            MetricColumns: [MetricColumn.Parse("loss:min"), MetricColumn.Parse("loss:last"), MetricColumn.Parse("auc")]), None)).Rows.Single();

        Assert.Equal(new Dictionary<string, string> { ["optimizer.lr"] = "0.01", ["layers[1]"] = "32" }, row.Parameters);
        Assert.Equal(["auc", "loss"], row.Metrics.Keys.Order());
        Assert.Equal(new MetricSummary("loss", 2, 2, 0.4, 0.4, 0.9), row.Metrics["loss"]);
        Assert.Equal(new MetricSummary("auc", 1, 1, 0.7, 0.7, 0.7), row.Metrics["auc"]);
        var bare = (await store.BrowseRunsAsync(new RunTableQuery(), None)).Rows.Single();
        Assert.Equal((0, 0), (bare.Parameters.Count, bare.Metrics.Count));
    }

    [Fact]
    public async Task GetParameters_IsTheConfigurationFlattened_WithSecretsRedacted()
    {
        await using var store = await OpenAsync();
        const string Configuration = """{"data":{"url":"s3://bucket/x","api_token":"hunter2"},"seed":7,"flags":[]}""";
        var run = await store.CreateRunAsync(Configured(Configuration), None);

        var parameters = await store.GetParametersAsync(run.Id, None);

        Assert.Equal(RunComparison.Flatten(Secrets.RedactConfigurationJson(Configuration)), parameters);
        Assert.Equal(Secrets.Mask, parameters["data.api_token"]);
        Assert.Equal(("7", "[]"), (parameters["seed"], parameters["flags"]));
        await Assert.ThrowsAsync<RunNotFoundException>(() => store.GetParametersAsync(Guid.NewGuid(), None));
    }

    [Fact]
    public async Task ListParameterKeysAndMetricNames_AreSortedAndDistinct_ForAProjectOrAll()
    {
        await using var store = await OpenAsync();
        var lung = await store.CreateRunAsync(Configured("""{"b":1,"a":{"x":2}}""", project: "lung"), None);
        var kidney = await store.CreateRunAsync(Configured("""{"c":1,"b":2}""", project: "kidney"), None);
        await store.LogMetricsAsync(lung.Id, [new("loss", 1, 1, Start), new("auc", 1, 1, Start)], None);
        await store.LogMetricsAsync(kidney.Id, [new("dice", 1, 1, Start), new("loss", 1, 1, Start)], None);

        Assert.Equal(["a.x", "b", "c"], await store.ListParameterKeysAsync(null, None));
        Assert.Equal(["a.x", "b"], await store.ListParameterKeysAsync("lung", None));
        Assert.Equal(["auc", "dice", "loss"], await store.ListMetricNamesAsync(null, None));
        Assert.Equal(["dice", "loss"], await store.ListMetricNamesAsync("kidney", None));
        Assert.Empty(await store.ListMetricNamesAsync("nowhere", None));
    }

    // Metric summaries

    [Fact]
    public async Task MetricSummaries_AcrossBatches_CountEveryPoint_LastIsTheHighestStepThenLatestTime_AndMinMaxIgnoreNaN()
    {
        await using var store = await OpenAsync();
        var run = await store.CreateRunAsync(Samples.Run(), None);

        await store.LogMetricsAsync(run.Id, [new("loss", 1, 0.9, Start), new("loss", 3, 0.5, Start), new("acc", 1, double.NaN, Start)], None);
        await store.LogMetricsAsync(run.Id, [new("loss", 2, 7.0, Start.AddSeconds(5)), new("loss", 3, 0.6, Start.AddSeconds(1))], None);
        await store.LogMetricsAsync(run.Id, [new("loss", 0, -1.0, Start), new("loss", 3, 0.4, Start.AddSeconds(1)), new("loss", 4, double.NaN, Start)], None);

        var summaries = await store.GetMetricSummariesAsync(run.Id, None);

        Assert.Equal(["acc", "loss"], summaries.Select(s => s.Name));
        var acc = summaries[0];
        Assert.Equal((1, 1L), (acc.Count, acc.LastStep));
        Assert.True(double.IsNaN(acc.Last) && double.IsNaN(acc.Min) && double.IsNaN(acc.Max));
        var loss = summaries[1];
        Assert.Equal((7, 4L, -1.0, 7.0), (loss.Count, loss.LastStep, loss.Min, loss.Max));
        Assert.True(double.IsNaN(loss.Last));

        // The same as summarising the points read back, for everything MetricSummary.Of and the table agree on
        var fromPoints = MetricSummary.Of(await store.GetMetricsAsync(run.Id, None));
        Assert.Equal(fromPoints.Select(s => (s.Name, s.Count, s.LastStep)), summaries.Select(s => (s.Name, s.Count, s.LastStep)));

        // Step 3 logged three times: the latest time wins, and of equal times the one logged last
        await store.LogMetricsAsync(run.Id, [new("f1", 3, 0.1, Start.AddSeconds(2)), new("f1", 3, 0.2, Start.AddSeconds(1))], None);
        await store.LogMetricsAsync(run.Id, [new("f1", 3, 0.3, Start.AddSeconds(2))], None);
        Assert.Equal(0.3, (await store.GetMetricSummariesAsync(run.Id, None)).Single(s => s.Name == "f1").Last);
    }

    [Fact]
    public async Task MetricSummaries_OfASecondAttempt_ForgetTheFirstAttemptsMetrics()
    {
        // Given a queued run whose first attempt logged a loss and failed
        await using var store = await OpenAsync();
        var run = await store.CreateRunAsync(Samples.Run(initial: RunStatus.Queued) with { Queueing = new RunQueueing("gpu", 3) }, None);
        await store.ClaimRunAsync(run.Id, Claim("w1"), None);
        await store.LogMetricsAsync(run.Id, [new("loss", 1, 0.1, Start), new("loss", 50, 0.05, Start), new("first_only", 1, 1, Start)], None);
        await store.FinishRunAsync(run.Id, RunStatus.Failed, "node lost", None);
        await store.RequeueRunAsync(run.Id, null, "try again", None);

        // When the second attempt starts and logs its own loss
        await store.ClaimRunAsync(run.Id, Claim("w2"), None);
        Assert.Empty(await store.GetMetricSummariesAsync(run.Id, None));
        await store.LogMetricsAsync(run.Id, [new("loss", 1, 0.8, Start), new("loss", 2, 0.7, Start)], None);

        // Then the summaries, the table and the series show only the second attempt
        Assert.Equal([new MetricSummary("loss", 2, 2, 0.7, 0.7, 0.8)], await store.GetMetricSummariesAsync(run.Id, None));
        Assert.Equal(["loss"], await store.ListMetricNamesAsync(null, None));
        Assert.Equal([0.8, 0.7], (await store.GetMetricSeriesAsync([run.Id], null, 100, None)).Single().Points.Select(p => p.Value));
    }

    // Series

    [Fact]
    public async Task MetricSeries_OfFewerPointsThanAsked_IsEveryPointInStepOrder()
    {
        await using var store = await OpenAsync();
        var run = await store.CreateRunAsync(Samples.Run(), None);
        await store.LogMetricsAsync(run.Id, [new("loss", 2, 0.5, Start.AddSeconds(2)), new("loss", 1, 0.7, Start.AddSeconds(1)), new("auc", 1, 0.6, Start)], None);

        var series = await store.GetMetricSeriesAsync([run.Id], null, 10, None);

        Assert.Equal([("auc", 1, false), ("loss", 2, false)], series.Select(s => (s.Name, s.Count, s.Downsampled)));
        Assert.Equal([new SeriesPoint(1, Start.AddSeconds(1), 0.7, 0.7, 0.7), new SeriesPoint(2, Start.AddSeconds(2), 0.5, 0.5, 0.5)], series[1].Points);
        Assert.All(series, s => Assert.Equal(run.Id, s.RunId));
    }

    [Fact]
    public async Task MetricSeries_Downsampled_IntoBucketsOfConsecutiveSteps_KeepsTheGlobalMinMaxAndTheLastPoint()
    {
        // Given 1,000 points, in batches as a training loop logs them, with one spike up and one down in the middle
        await using var store = await OpenAsync();
        var run = await store.CreateRunAsync(Samples.Run(), None);
        var other = await store.CreateRunAsync(Samples.Run(), None);
        double Value(int step) => step switch { 537 => 1e6, 222 => -1e6, _ => Math.Sin(step / 10.0) };
        for (var batch = 0; batch < 10; batch++)
        {
            await store.LogMetricsAsync(run.Id, [.. Enumerable.Range(batch * 100, 100).Select(s => new MetricPoint("loss", s, Value(s), Start.AddSeconds(s)))], None);
        }
        await store.LogMetricsAsync(other.Id, [new("loss", 0, 1, Start), new("acc", 0, 1, Start)], None);

        // When it is read as 50 points, with another run's short series
        var series = await store.GetMetricSeriesAsync([run.Id, other.Id], ["loss"], 50, None);

        // Then each point stands for 20 consecutive steps: their last point, lowest and highest value
        var loss = series[0];
        Assert.Equal((run.Id, 1000, true, 50), (loss.RunId, loss.Count, loss.Downsampled, loss.Points.Count));
        Assert.Equal(Enumerable.Range(0, 50).Select(k => 20L * k + 19), loss.Points.Select(p => p.Step));
        Assert.Equal(1e6, loss.Points.Max(p => p.Max));
        Assert.Equal(-1e6, loss.Points.Min(p => p.Min));
        Assert.Equal(1e6, loss.Points[537 / 20].Max);
        Assert.Equal(new SeriesPoint(999, Start.AddSeconds(999), Value(999), Enumerable.Range(980, 20).Min(Value), Enumerable.Range(980, 20).Max(Value)),
            loss.Points[^1]);
        Assert.Equal([(other.Id, "loss", 1, false)], series.Skip(1).Select(s => (s.RunId, s.Name, s.Count, s.Downsampled)));
        await Assert.ThrowsAsync<RunNotFoundException>(() => store.GetMetricSeriesAsync([Guid.NewGuid()], null, 50, None));
    }

    // Migration

    [Fact]
    public async Task Migration_OfAStoreFromBeforeTheRunsTable_BackfillsParametersAndSummaries_AndKeepsThePublishedRunFrozen()
    {
        // Given a store from before the runs table: a published run with a configuration and metrics, a run whose configuration
        // is not JSON, and one with more parameters than the backfill inserts in one statement
        Guid published = new("00000000-0000-4000-8000-000000000011"), bare = new("00000000-0000-4000-8000-000000000012"),
            wide = new("00000000-0000-4000-8000-000000000013");
        string T(int minutes) => Start.AddMinutes(minutes).ToString("O");
        var wideConfiguration = "{" + string.Join(",", Enumerable.Range(0, 1234).Select(i => $"\"k{i}\":{i}")) + "}";
        await UseStoreFromBeforeBrowsingAsync($"""
            INSERT INTO projects (name, created_at) VALUES ('old', '{T(0)}');
            INSERT INTO runs (id, project_id, task_name, task_type, status, created_at, started_at, ended_at, tags, user_name, host, error,
                              experiment_file, configuration, environment, attempt)
            VALUES ('{published}', (SELECT id FROM projects WHERE name = 'old'), 'train', 'training', 'completed', '{T(0)}', '{T(1)}', '{T(2)}', '[]',
                    'ada', 'gpu-01', NULL, 'lamina.yaml', '{"{"}"lr": 0.5, "password": "x", "name": "mlp"{"}"}', '{"{}"}', 1),
                   ('{bare}', (SELECT id FROM projects WHERE name = 'old'), 'train', 'training', 'failed', '{T(3)}', '{T(3)}', '{T(4)}', '[]',
                    'ada', 'gpu-01', 'boom', 'lamina.yaml', 'not json', '{"{}"}', 1),
                   ('{wide}', (SELECT id FROM projects WHERE name = 'old'), 'train', 'training', 'queued', '{T(6)}', NULL, NULL, '[]',
                    'ada', 'gpu-01', NULL, 'lamina.yaml', '{wideConfiguration}', '{"{}"}', 0);
            INSERT INTO metrics (run_id, name, step, value, time)
            VALUES ('{published}', 'loss', 1, 0.9, '{T(1)}'), ('{published}', 'loss', 3, 0.2, '{T(1)}'), ('{published}', 'loss', 2, NULL, '{T(1)}'),
                   ('{published}', 'loss', 3, 0.3, '{T(1)}'), ('{published}', 'auc', 1, 0.8, '{T(1)}');
            INSERT INTO published (run_id, model_name, card_digest, manifest_sha256, published_at, published_by)
            VALUES ('{published}', 'tumour', '{new string('c', 64)}', '{new string('e', 64)}', '{T(5)}', 'ada@gpu-01');
            """);

        // When it is opened by this Lamina
        await using var store = await OpenAsync();

        // Then every run has its parameters and summaries, as if they had been kept all along
        Assert.Equal(new Dictionary<string, string> { ["lr"] = "0.5", ["name"] = "mlp", ["password"] = Secrets.Mask },
            await store.GetParametersAsync(published, None));
        Assert.Empty(await store.GetParametersAsync(bare, None));
        var wideParameters = await store.GetParametersAsync(wide, None);
        Assert.Equal((1234, "1233"), (wideParameters.Count, wideParameters["k1233"]));
        Assert.Equal([new MetricSummary("auc", 1, 1, 0.8, 0.8, 0.8), new MetricSummary("loss", 4, 3, 0.3, 0.2, 0.9)],
            await store.GetMetricSummariesAsync(published, None));
        var page = await store.BrowseRunsAsync(new RunTableQuery(Sort: RunSort.Parse("param:lr"), ParameterColumns: ["lr"],
            MetricColumns: [MetricColumn.Parse("loss:min")]), None);
        Assert.Equal([published, wide, bare], page.Rows.Select(r => r.Run.Id));
        Assert.Equal(0.2, page.Rows[0].Metrics["loss"].Min);

        // And the published run stays frozen
        await Assert.ThrowsAsync<RunPublishedException>(() => store.LogMetricsAsync(published, [new("loss", 4, 0.1, Start)], None));
        Assert.Equal(4, (await store.GetMetricSummariesAsync(published, None)).Single(s => s.Name == "loss").Count);
    }
}
