using Microsoft.Extensions.Time.Testing;

namespace Lamina.Tracking.Tests.Contracts;

/// <summary>
/// What every tracking store backend must do, through <see cref="ITrackingStore"/> alone. A backend's test class derives
/// from this and supplies the store; the tests run unchanged on each.
/// </summary>
public abstract partial class TrackingStoreContract : IAsyncLifetime
{
    protected static readonly DateTimeOffset Start = new(2025, 3, 14, 9, 26, 53, 589, TimeSpan.Zero);
    private static readonly string Card = new('c', 64);
    private static readonly string Manifest = new('e', 64);
    private readonly List<ITrackingStore> _opened = [];

    protected FakeTimeProvider Time { get; } = new(Start);

    /// <summary>
    /// Opens the store under test, empty at a test's start; every call within one test opens the same store again, as a
    /// second client would. <paramref name="actor"/> is who its audit entries name.
    /// </summary>
    protected abstract Task<ITrackingStore> OpenStoreAsync(TimeProvider time, string actor);

    /// <summary>How the audit log is tampered with by someone who gets past the store and its guards.</summary>
    public enum AuditTampering
    {
        /// <summary>A field of the entry (its reason) is changed, its hash left as it was.</summary>
        FieldChanged,

        /// <summary>The entry is deleted.</summary>
        EntryRemoved,

        /// <summary>The entry's previous hash is set to its own hash.</summary>
        PreviousHashChanged,
    }

    /// <summary>Gives a run another id, behind the store's back: the only way to test ambiguous id prefixes.</summary>
    protected abstract Task ChangeRunIdAsync(Guid from, Guid to);

    /// <summary>Tampers with audit entry <paramref name="seq"/> behind the store's back, past whatever guards the backend has.</summary>
    protected abstract Task TamperWithAuditAsync(AuditTampering tampering, long seq);

    public virtual Task InitializeAsync() => Task.CompletedTask;

    public virtual async Task DisposeAsync()
    {
        foreach (var store in _opened) await store.DisposeAsync();
    }

    private async Task<ITrackingStore> OpenAsync(string actor = "grace@lab-01")
    {
        var store = await OpenStoreAsync(Time, actor);
        _opened.Add(store);
        return store;
    }

    // A completed run with a metric, a log, an artifact and a model, published.
    private Task<RunRecord> PublishedRunAsync(ITrackingStore store) => Samples.PublishedRunAsync(store, Time, Start, Card, Manifest);

    private async Task<Guid> RunWithIdAsync(ITrackingStore store, Guid id)
    {
        // Queued: a run that started has an attempt row, which refers to its id too; so would parameters of its configuration.
        var run = await store.CreateRunAsync(Samples.Run(initial: RunStatus.Queued) with { Git = null, PluginSources = [], ConfigurationJson = "{}" },
            CancellationToken.None);
        await ChangeRunIdAsync(run.Id, id);
        return id;
    }

    // Runs

    [Fact]
    public async Task CreateFinishDetails_RoundTripsEveryField()
    {
        var store = await OpenAsync();
        var created = await store.CreateRunAsync(Samples.Run(), CancellationToken.None);
        Time.Advance(TimeSpan.FromMinutes(5));

        await store.FinishRunAsync(created.Id, RunStatus.Failed, "out of memory", CancellationToken.None);
        var details = await store.GetRunDetailsAsync(created.Id, CancellationToken.None);

        var run = details.Run;
        Assert.Equal(created.Id, run.Id);
        Assert.Equal(("pathology", "simple_train", "training"), (run.ProjectName, run.TaskName, run.TaskType));
        Assert.Equal(RunStatus.Failed, run.Status);
        Assert.Equal(Start, run.CreatedAt);
        Assert.Equal(Start, run.StartedAt);
        Assert.Equal(Start.AddMinutes(5), run.EndedAt);
        Assert.Equal(["baseline", "he"], run.Tags);
        Assert.Equal(("first try", "ada", "gpu-01", "out of memory"), (run.Description, run.User, run.Host, run.Error));
        Assert.Equal("experiments/lamina.yaml", details.ExperimentFile);
        Assert.Equal("""{"models":{"m":{"cls":"Linear"}}}""", details.ConfigurationJson);
        Assert.Equal(Samples.Git, details.Git);
        Assert.Equal(Samples.Environment with { Packages = details.Environment.Packages }, details.Environment);
        Assert.Equal(Samples.Environment.Packages.OrderBy(p => p.Key), details.Environment.Packages.OrderBy(p => p.Key));
        Assert.Equal(["plugins/a.cs", "plugins/b.cs"], details.PluginSources.Select(s => s.Path));
        Assert.Equal(new string('c', 64), details.PluginSources[0].Sha256);
        Assert.Empty(details.Artifacts);
    }

    [Fact]
    public async Task CreateRun_Queued_HasNoStartTime_AndWithoutGitStoresNone()
    {
        var store = await OpenAsync();

        var run = await store.CreateRunAsync(Samples.Run(initial: RunStatus.Queued) with { Git = null }, CancellationToken.None);
        var details = await store.GetRunDetailsAsync(run.Id, CancellationToken.None);

        Assert.Equal(RunStatus.Queued, details.Run.Status);
        Assert.Null(details.Run.StartedAt);
        Assert.Null(details.Git);
    }

    [Theory]
    [InlineData(RunStatus.Completed)]
    [InlineData(RunStatus.Aborted)]
    public async Task FinishRun_AlreadyFinished_IsRefused(RunStatus first)
    {
        var store = await OpenAsync();
        var run = await store.CreateRunAsync(Samples.Run(), CancellationToken.None);
        await store.FinishRunAsync(run.Id, first, null, CancellationToken.None);

        var error = await Assert.ThrowsAsync<RunStateException>(() => store.FinishRunAsync(run.Id, RunStatus.Failed, "late", CancellationToken.None));

        Assert.Equal($"run {run.Id:D} is already {first.ToString().ToLowerInvariant()}", error.Message);
        Assert.Equal(first, (await store.ResolveRunAsync(run.Id.ToString(), CancellationToken.None)).Status);
    }

    [Fact]
    public async Task FinishRun_UnknownRun_IsNotFound()
    {
        var store = await OpenAsync();

        await Assert.ThrowsAsync<RunNotFoundException>(() => store.FinishRunAsync(Guid.NewGuid(), RunStatus.Completed, null, CancellationToken.None));
    }

    [Fact]
    public async Task ListRuns_NewestFirst_WithFilters()
    {
        var store = await OpenAsync();
        var a = await store.CreateRunAsync(Samples.Run("p1", "train"), CancellationToken.None);
        Time.Advance(TimeSpan.FromSeconds(1));
        var b = await store.CreateRunAsync(Samples.Run("p2", "train"), CancellationToken.None);
        Time.Advance(TimeSpan.FromSeconds(1));
        var c = await store.CreateRunAsync(Samples.Run("p1", "test"), CancellationToken.None);
        var d = await store.CreateRunAsync(Samples.Run("p1", "test"), CancellationToken.None); // same instant as c
        await store.FinishRunAsync(c.Id, RunStatus.Completed, null, CancellationToken.None);

        async Task<Guid[]> List(RunQuery q) => [.. (await store.ListRunsAsync(q, CancellationToken.None)).Select(r => r.Id)];

        Assert.Equal([d.Id, c.Id, b.Id, a.Id], await List(new RunQuery()));
        Assert.Equal([d.Id, c.Id, a.Id], await List(new RunQuery(ProjectName: "p1")));
        Assert.Equal([b.Id, a.Id], await List(new RunQuery(TaskName: "train")));
        Assert.Equal([c.Id], await List(new RunQuery(Status: RunStatus.Completed)));
        Assert.Equal([d.Id, c.Id], await List(new RunQuery(Limit: 2)));
    }

    [Fact]
    public async Task ResolveRun_ByFullIdUniquePrefixOrPrefixWithoutDashes()
    {
        var store = await OpenAsync();
        var run = await store.CreateRunAsync(Samples.Run(), CancellationToken.None);
        var id = run.Id.ToString("D");

        Assert.Equal(run.Id, (await store.ResolveRunAsync(id.ToUpperInvariant(), CancellationToken.None)).Id);
        Assert.Equal(run.Id, (await store.ResolveRunAsync(id[..4], CancellationToken.None)).Id);
        Assert.Equal(run.Id, (await store.ResolveRunAsync(id[..11], CancellationToken.None)).Id);
        Assert.Equal(run.Id, (await store.ResolveRunAsync(run.Id.ToString("N")[..12], CancellationToken.None)).Id);
    }

    [Fact]
    public async Task ResolveRun_AmbiguousPrefix_ListsTheMatches()
    {
        var store = await OpenAsync();
        Guid[] ids = [new("ab12cd00-0000-4000-8000-000000000001"), new("ab12cd00-0000-4000-8000-000000000002"), new("ab12ef00-0000-4000-8000-000000000003")];
        foreach (var id in ids)
        {
            await RunWithIdAsync(store, id);
        }

        var error = await Assert.ThrowsAsync<AmbiguousRunIdException>(() => store.ResolveRunAsync("AB12", CancellationToken.None));

        Assert.Equal($"'AB12' is ambiguous: it matches 3 runs ({ids[0]}, {ids[1]}, {ids[2]})", error.Message);
        Assert.Equal(ids[2], (await store.ResolveRunAsync("ab12e", CancellationToken.None)).Id);
    }

    [Fact]
    public async Task ResolveRun_NoMatch_TooShortOrNotHex_AreClearErrors()
    {
        var store = await OpenAsync();
        await RunWithIdAsync(store, new Guid("ab12cd00-0000-4000-8000-000000000001"));

        var none = await Assert.ThrowsAsync<RunNotFoundException>(() => store.ResolveRunAsync("abc1", CancellationToken.None));
        var shortPrefix = await Assert.ThrowsAsync<TrackingException>(() => store.ResolveRunAsync("ab-1", CancellationToken.None));
        var notHex = await Assert.ThrowsAsync<TrackingException>(() => store.ResolveRunAsync("ab12%", CancellationToken.None));

        Assert.Equal("no run matches 'abc1'", none.Message);
        Assert.Contains("too short", shortPrefix.Message);
        Assert.Contains("not a run id", notHex.Message);
    }

    [Fact]
    public async Task DeleteRun_RemovesTheRunAndEverythingAttached_AndLeavesOtherRunsAlone()
    {
        var store = await OpenAsync();
        var doomed = await store.CreateRunAsync(Samples.Run(), CancellationToken.None);
        var kept = await store.CreateRunAsync(Samples.Run(), CancellationToken.None);
        foreach (var run in new[] { doomed, kept })
        {
            await store.LogMetricsAsync(run.Id, [new("loss", 1, 1, Start)], CancellationToken.None);
            await store.AddArtifactAsync(run.Id, "model.onnx", new string('1', 64), 1, CancellationToken.None);
            await store.AppendLogAsync(run.Id, "hello", CancellationToken.None);
        }

        await store.DeleteRunAsync(doomed.Id, CancellationToken.None);

        await Assert.ThrowsAsync<RunNotFoundException>(() => store.GetRunDetailsAsync(doomed.Id, CancellationToken.None));
        await Assert.ThrowsAsync<RunNotFoundException>(() => store.GetMetricsAsync(doomed.Id, CancellationToken.None));
        Assert.Equal([kept.Id], (await store.ListRunsAsync(new RunQuery(), CancellationToken.None)).Select(r => r.Id));
        Assert.Single(await store.GetMetricsAsync(kept.Id, CancellationToken.None));
        Assert.Single((await store.GetRunDetailsAsync(kept.Id, CancellationToken.None)).Artifacts);
        Assert.Equal("hello", await store.GetLogAsync(kept.Id, CancellationToken.None));

        await Assert.ThrowsAsync<RunNotFoundException>(() => store.DeleteRunAsync(doomed.Id, CancellationToken.None));
    }

    [Fact]
    public async Task CancelledToken_IsHonoured_AndNothingIsWritten()
    {
        var store = await OpenAsync();
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => store.CreateRunAsync(Samples.Run(), cancelled.Token));

        Assert.Empty(await store.ListRunsAsync(new RunQuery(), CancellationToken.None));
    }

    [Fact]
    public async Task ASecondClient_SeesWhatTheFirstWrote()
    {
        var first = await OpenAsync();
        var second = await OpenAsync("ada@gpu-01");
        var run = await first.CreateRunAsync(Samples.Run(), CancellationToken.None);
        await first.LogMetricsAsync(run.Id, [new("loss", 1, 0.5, Start)], CancellationToken.None);

        await second.FinishRunAsync(run.Id, RunStatus.Completed, null, CancellationToken.None);

        Assert.Equal(RunStatus.Completed, (await first.ResolveRunAsync(run.Id.ToString(), CancellationToken.None)).Status);
        Assert.Equal([new MetricPoint("loss", 1, 0.5, Start)], await second.GetMetricsAsync(run.Id, CancellationToken.None));
    }

    // Metrics, artifacts, logs

    [Fact]
    public async Task Metrics_RoundTripOrderedByNameAndStep_IncludingNaNAndInfinities()
    {
        var store = await OpenAsync();
        var run = await store.CreateRunAsync(Samples.Run(), CancellationToken.None);
        var t = Start.AddSeconds(1);

        await store.LogMetricsAsync(run.Id, [new("loss", 2, 0.5, t), new("auc", 1, 0.9, t), new("loss", 1, 0.75, t)], CancellationToken.None);
        await store.LogMetricsAsync(run.Id, [new("loss", 3, double.NaN, t.AddSeconds(1))], CancellationToken.None);
        // Issue 12: a diverged plug-in's values are kept as they are, not refused or turned into something finite.
        await store.LogMetricsAsync(run.Id, [new("grad", 1, double.PositiveInfinity, t), new("grad", 2, double.NegativeInfinity, t)], CancellationToken.None);
        var metrics = await store.GetMetricsAsync(run.Id, CancellationToken.None);

        Assert.Equal(
            [new("auc", 1, 0.9, t), new("grad", 1, double.PositiveInfinity, t), new("grad", 2, double.NegativeInfinity, t),
                new("loss", 1, 0.75, t), new("loss", 2, 0.5, t), new MetricPoint("loss", 3, double.NaN, t.AddSeconds(1))],
            metrics);
    }

    [Fact]
    public async Task Artifacts_RoundTripSortedByName_AndSameNameReplaces()
    {
        var store = await OpenAsync();
        var run = await store.CreateRunAsync(Samples.Run(), CancellationToken.None);
        var (d1, d2, d3) = (new string('1', 64), new string('2', 64), new string('3', 64));

        await store.AddArtifactAsync(run.Id, "model.onnx", d1, 10, CancellationToken.None);
        await store.AddArtifactAsync(run.Id, "card.json", d2, 20, CancellationToken.None);
        Time.Advance(TimeSpan.FromSeconds(30));
        await store.AddArtifactAsync(run.Id, "model.onnx", d3, 30, CancellationToken.None);
        var artifacts = (await store.GetRunDetailsAsync(run.Id, CancellationToken.None)).Artifacts;

        Assert.Equal([new("card.json", d2, 20, Start), new ArtifactRecord("model.onnx", d3, 30, Start.AddSeconds(30))], artifacts);
    }

    [Fact]
    public async Task Log_IsConcatenatedInOrderOfAppending()
    {
        var store = await OpenAsync();
        var run = await store.CreateRunAsync(Samples.Run(), CancellationToken.None);

        foreach (var part in new[] { "epoch 1\n", "epoch 2\n", "", "done" })
        {
            await store.AppendLogAsync(run.Id, part, CancellationToken.None);
        }

        Assert.Equal("epoch 1\nepoch 2\ndone", await store.GetLogAsync(run.Id, CancellationToken.None));
    }

    [Fact]
    public async Task Writes_ToUnknownRun_AreNotFound()
    {
        var store = await OpenAsync();
        var id = Guid.NewGuid();

        await Assert.ThrowsAsync<RunNotFoundException>(() => store.LogMetricsAsync(id, [new("loss", 1, 1, Start)], CancellationToken.None));
        await Assert.ThrowsAsync<RunNotFoundException>(() => store.AddArtifactAsync(id, "a", new string('1', 64), 1, CancellationToken.None));
        await Assert.ThrowsAsync<RunNotFoundException>(() => store.AppendLogAsync(id, "x", CancellationToken.None));
        await Assert.ThrowsAsync<RunNotFoundException>(() => store.RegisterModelAsync(id, "m", "trained", Card, CancellationToken.None));
        await Assert.ThrowsAsync<RunNotFoundException>(() => store.RecordRunInputsAsync(id, [], [], CancellationToken.None));
    }

    // Data sets, run inputs, slide digests

    [Fact]
    public async Task RegisterDataset_Again_KeepsTheFirstRegistration_AndListsNewestFirst()
    {
        var store = await OpenAsync();
        var run = await store.CreateRunAsync(Samples.Run(), CancellationToken.None);
        var older = new DatasetRecord(new string('a', 64), "tiles", Start, run.Id, 3, 1200, """{"classes":2}""");
        var newer = new DatasetRecord(new string('b', 64), "tiles-he", Start.AddDays(1), null, 1, 10, "{}");

        Assert.Equal(older, await store.RegisterDatasetAsync(older, CancellationToken.None));
        await store.RegisterDatasetAsync(newer, CancellationToken.None);
        var again = await store.RegisterDatasetAsync(older with { Name = "renamed", TileCount = 1 }, CancellationToken.None);

        Assert.Equal(older, again);
        Assert.Equal([newer, older], await store.ListDatasetsAsync(CancellationToken.None));
    }

    [Fact]
    public async Task RegisterDataset_AnIdThatIsNotADigest_IsRejected()
    {
        var store = await OpenAsync();

        await Assert.ThrowsAsync<ArgumentException>(() => store.RegisterDatasetAsync(
            new DatasetRecord("tiles-1", "tiles", Start, null, 1, 1, "{}"), CancellationToken.None));

        Assert.Empty(await store.ListDatasetsAsync(CancellationToken.None));
    }

    [Fact]
    public async Task ResolveDataset_ByUniquePrefix_AndClearErrorsOtherwise()
    {
        var store = await OpenAsync();
        var first = new DatasetRecord("abcd1" + new string('0', 59), "one", Start, null, 1, 1, "{}");
        var second = new DatasetRecord("abcd2" + new string('0', 59), "two", Start, null, 1, 1, "{}");
        await store.RegisterDatasetAsync(first, CancellationToken.None);
        await store.RegisterDatasetAsync(second, CancellationToken.None);

        Assert.Equal(second, await store.ResolveDatasetAsync("ABCD2", CancellationToken.None));
        Assert.Equal(first, await store.ResolveDatasetAsync(first.Id, CancellationToken.None));
        Assert.Contains("is ambiguous", (await Assert.ThrowsAsync<TrackingException>(() => store.ResolveDatasetAsync("abcd", CancellationToken.None))).Message);
        Assert.Equal("no data set matches 'abce'", (await Assert.ThrowsAsync<TrackingException>(() => store.ResolveDatasetAsync("abce", CancellationToken.None))).Message);
        Assert.Contains("is not a data set id", (await Assert.ThrowsAsync<TrackingException>(() => store.ResolveDatasetAsync("abc", CancellationToken.None))).Message);
    }

    [Fact]
    public async Task RunInputs_RoundTripSorted_AndRecordingAgainAddsNoDuplicates()
    {
        var store = await OpenAsync();
        var model = await store.CreateRunAsync(Samples.Run(), CancellationToken.None);
        var run = await store.CreateRunAsync(Samples.Run(task: "test"), CancellationToken.None);
        var (dataA, dataB) = (new string('a', 64), new string('b', 64));
        RunDataset[] datasets = [new(dataB, "test"), new(dataA, "input")];
        SlideInput[] slides = [new("slides/b.svs", new string('2', 64), 20), new("slides/a.svs", new string('1', 64), 10)];
        foreach (var id in new[] { dataA, dataB }) await store.RegisterDatasetAsync(new DatasetRecord(id, "tiles", Start, model.Id, 1, 1, "{}"), CancellationToken.None);

        await store.RecordRunInputsAsync(run.Id, datasets, slides, CancellationToken.None);
        await store.RecordRunInputsAsync(run.Id, datasets, [slides[0] with { Sha256 = new string('3', 64), Size = 30 }], CancellationToken.None);
        await store.RecordRunModelAsync(run.Id, new RunModel(model.Id, "tumour", Card, "tested"), CancellationToken.None);
        await store.RecordRunModelAsync(run.Id, new RunModel(model.Id, "tumour", Card, "tested"), CancellationToken.None);
        var inputs = await store.GetRunInputsAsync(run.Id, CancellationToken.None);

        Assert.Equal([new(dataA, "input"), new RunDataset(dataB, "test")], inputs.Datasets);
        Assert.Equal([slides[1], new SlideInput("slides/b.svs", new string('3', 64), 30)], inputs.Slides);
        Assert.Equal([new RunModel(model.Id, "tumour", Card, "tested")], inputs.Models);
        Assert.Empty((await store.GetRunInputsAsync(model.Id, CancellationToken.None)).Datasets);
    }

    [Fact]
    public async Task SlideDigest_IsFoundOnlyForTheSamePathSizeAndTime_AndRememberingAgainReplacesIt()
    {
        var store = await OpenAsync();
        var modified = Start.AddDays(-2);

        await store.RememberSlideDigestAsync("/slides/a.svs", 100, modified, new string('1', 64), CancellationToken.None);

        Assert.Equal(new string('1', 64), await store.FindSlideDigestAsync("/slides/a.svs", 100, modified, CancellationToken.None));
        Assert.Null(await store.FindSlideDigestAsync("/slides/a.svs", 101, modified, CancellationToken.None));
        Assert.Null(await store.FindSlideDigestAsync("/slides/a.svs", 100, modified.AddSeconds(1), CancellationToken.None));
        Assert.Null(await store.FindSlideDigestAsync("/slides/b.svs", 100, modified, CancellationToken.None));

        await store.RememberSlideDigestAsync("/slides/a.svs", 200, modified.AddHours(1), new string('2', 64), CancellationToken.None);
        Assert.Equal(new string('2', 64), await store.FindSlideDigestAsync("/slides/a.svs", 200, modified.AddHours(1), CancellationToken.None));
        Assert.Null(await store.FindSlideDigestAsync("/slides/a.svs", 100, modified, CancellationToken.None));
    }

    // Models and publications

    [Fact]
    public async Task Models_AreListedNewestFirst_WithTheirRunsProjectAndStatus_AndRegisteringAgainReplacesTheCard()
    {
        var store = await OpenAsync();
        var run = await store.CreateRunAsync(Samples.Run("pathology"), CancellationToken.None);
        await store.RegisterModelAsync(run.Id, "tumour", "trained", new string('1', 64), CancellationToken.None);
        Time.Advance(TimeSpan.FromMinutes(1));
        await store.RegisterModelAsync(run.Id, "stroma", "imported", new string('2', 64), CancellationToken.None);
        await store.RegisterModelAsync(run.Id, "tumour", "trained", Card, CancellationToken.None);
        await store.FinishRunAsync(run.Id, RunStatus.Completed, null, CancellationToken.None);

        var models = await store.ListModelsAsync(CancellationToken.None);

        Assert.Equal(
            [new ModelRecord(run.Id, "stroma", "imported", new string('2', 64), Start.AddMinutes(1), "pathology", RunStatus.Completed),
             new ModelRecord(run.Id, "tumour", "trained", Card, Start, "pathology", RunStatus.Completed)],
            models);
    }

    [Fact]
    public async Task MarkPublished_RecordsThePublication_AndMarkingAgainChangesNothing()
    {
        var store = await OpenAsync();
        var run = await PublishedRunAsync(store);
        Time.Advance(TimeSpan.FromHours(1));

        var (again, already) = await store.MarkPublishedAsync(
            new NewPublication(run.Id, "tumour", new string('f', 64), Time.GetUtcNow(), "someone@else", "again"), CancellationToken.None);

        Assert.True(already);
        Assert.Equal(new PublicationRecord(run.Id, "tumour", Card, Manifest, Start.AddMinutes(1), "ada@gpu-01", "validated"), again);
        Assert.Equal([again], await store.ListPublicationsAsync(run.Id, CancellationToken.None));
        Assert.Equal([again], await store.ListPublicationsAsync(null, CancellationToken.None));
        Assert.Empty(await store.ListPublicationsAsync(Guid.NewGuid(), CancellationToken.None));
        Assert.Single(await store.ListAuditAsync(null, CancellationToken.None), e => e.Action == AuditLog.ModelPublished);
    }

    [Theory]
    [InlineData(RunStatus.Failed, "is failed: only a completed run")]
    [InlineData(RunStatus.Running, "is running: only a completed run")]
    public async Task MarkPublished_ARunThatDidNotComplete_IsRefused(RunStatus status, string expected)
    {
        var store = await OpenAsync();
        var run = await store.CreateRunAsync(Samples.Run(), CancellationToken.None);
        await store.RegisterModelAsync(run.Id, "tumour", "trained", Card, CancellationToken.None);
        if (status != RunStatus.Running) await store.FinishRunAsync(run.Id, status, "boom", CancellationToken.None);

        var error = await Assert.ThrowsAsync<PublishRefusedException>(() => store.MarkPublishedAsync(
            new NewPublication(run.Id, "tumour", Manifest, Start, "ada@gpu-01", null), CancellationToken.None));

        Assert.Contains(expected, error.Message);
        Assert.Empty(await store.ListPublicationsAsync(null, CancellationToken.None));
    }

    [Fact]
    public async Task MarkPublished_AnUnknownModel_IsRefused()
    {
        var store = await OpenAsync();
        var run = await store.CreateRunAsync(Samples.Run(), CancellationToken.None);
        await store.FinishRunAsync(run.Id, RunStatus.Completed, null, CancellationToken.None);

        var error = await Assert.ThrowsAsync<PublishRefusedException>(() => store.MarkPublishedAsync(
            new NewPublication(run.Id, "tumour", Manifest, Start, "ada@gpu-01", null), CancellationToken.None));

        Assert.Contains("has no model 'tumour'", error.Message);
    }

    [Fact]
    public async Task PublishedRun_EveryChangeThroughTheStore_IsRefusedWithAClearMessage()
    {
        var store = await OpenAsync();
        var run = await PublishedRunAsync(store);
        var other = await store.CreateRunAsync(Samples.Run(), CancellationToken.None);

        var refusals = new Func<Task>[]
        {
            () => store.DeleteRunAsync(run.Id, CancellationToken.None),
            () => store.LogMetricsAsync(run.Id, [new("loss", 2, 0.4, Start)], CancellationToken.None),
            () => store.AppendLogAsync(run.Id, "more", CancellationToken.None),
            () => store.AddArtifactAsync(run.Id, "model/tumour/head.onnx", new string('2', 64), 10, CancellationToken.None),
            () => store.RegisterModelAsync(run.Id, "tumour", "trained", new string('d', 64), CancellationToken.None),
            () => store.RecordRunInputsAsync(run.Id, [], [new SlideInput("a.svs", new string('3', 64), 1)], CancellationToken.None),
            () => store.RecordRunModelAsync(run.Id, new RunModel(other.Id, "x", Card, "test"), CancellationToken.None),
        };
        foreach (var refusal in refusals)
        {
            var error = await Assert.ThrowsAsync<RunPublishedException>(refusal);
            Assert.StartsWith($"run {run.Id} is published (at 2025-03-14 09:27:53 UTC): it cannot be", error.Message);
        }

        Assert.EndsWith("cannot be deleted", (await Assert.ThrowsAsync<RunPublishedException>(refusals[0])).Message);
        Assert.Equal(RunStatus.Completed, (await store.ResolveRunAsync(run.Id.ToString(), CancellationToken.None)).Status);
        Assert.Single(await store.GetMetricsAsync(run.Id, CancellationToken.None));
        Assert.Equal("epoch 1", await store.GetLogAsync(run.Id, CancellationToken.None));
        Assert.Equal(Card, (await store.ListModelsAsync(CancellationToken.None)).Single().CardDigest);

        // Another run is not affected.
        await store.DeleteRunAsync(other.Id, CancellationToken.None);
    }

    // Audit

    [Fact]
    public async Task Audit_RecordsEveryChangeOfState_InOrder_WithWhoAndOldAndNewValues()
    {
        var store = await OpenAsync();
        var run = await PublishedRunAsync(store);
        var failed = await store.CreateRunAsync(Samples.Run(), CancellationToken.None);
        await store.FinishRunAsync(failed.Id, RunStatus.Failed, "out of memory", CancellationToken.None);
        await store.DeleteRunAsync(failed.Id, CancellationToken.None);
        await store.AppendAuditAsync(AuditLog.BundleBuilt, "bundle-1", null, """{"models":1}""", "release 1.0", CancellationToken.None);

        var entries = await store.ListAuditAsync(null, CancellationToken.None);

        Assert.Equal([1L, 2, 3, 4, 5, 6, 7], entries.Select(e => e.Seq));
        Assert.Equal(
            [AuditLog.RunCreated, AuditLog.RunFinished, AuditLog.ModelPublished, AuditLog.RunCreated, AuditLog.RunFailed, AuditLog.RunDeleted, AuditLog.BundleBuilt],
            entries.Select(e => e.Action));
        Assert.Equal(["ada@gpu-01", "grace@lab-01", "ada@gpu-01", "ada@gpu-01", "grace@lab-01", "grace@lab-01", "grace@lab-01"], entries.Select(e => e.Who));
        Assert.Equal($"{run.Id}/tumour", entries[2].ObjectId);
        Assert.Equal("validated", entries[2].Reason);
        Assert.Equal("""{"status":"running"}""", entries[4].OldValue);
        Assert.Equal("""{"status":"failed","error":"out of memory"}""", entries[4].NewValue);
        Assert.Contains("\"status\":\"failed\"", entries[5].OldValue);
        Assert.Null(entries[5].NewValue);
        Assert.Equal(AuditLog.Genesis, entries[0].PreviousHash);
        Assert.All(entries.Skip(1), (e, i) => Assert.Equal(entries[i].Hash, e.PreviousHash));
        Assert.All(entries, e => Assert.Equal(AuditLog.ComputeHash(e), e.Hash));
        Assert.Equal(Start.ToString("O"), entries[0].Time);

        var verification = await store.VerifyAuditAsync(CancellationToken.None);
        Assert.True(verification.Intact);
        Assert.Equal((7L, entries[^1].Hash), (verification.Count, verification.HeadHash));

        // Filtering by object: a run id gives the run's entries and its models'.
        Assert.Equal([1L, 2, 3], (await store.ListAuditAsync(run.Id.ToString(), CancellationToken.None)).Select(e => e.Seq));
    }

    [Fact]
    public async Task Audit_AFailedChange_LeavesNoEntry()
    {
        var store = await OpenAsync();
        var run = await PublishedRunAsync(store);
        var before = (await store.ListAuditAsync(null, CancellationToken.None)).Count;

        var second = await store.CreateRunAsync(Samples.Run(), CancellationToken.None);
        await store.FinishRunAsync(second.Id, RunStatus.Completed, null, CancellationToken.None);

        await Assert.ThrowsAsync<RunPublishedException>(() => store.DeleteRunAsync(run.Id, CancellationToken.None));
        await Assert.ThrowsAsync<RunStateException>(() => store.FinishRunAsync(second.Id, RunStatus.Failed, null, CancellationToken.None));

        // The second run's creation and finish are recorded; the refused delete and finish are not.
        Assert.Equal(before + 2, (await store.ListAuditAsync(null, CancellationToken.None)).Count);
    }

    [Fact]
    public async Task VerifyAudit_OfAnEmptyStore_IsIntactWithNothingInIt()
    {
        var store = await OpenAsync();

        var verification = await store.VerifyAuditAsync(CancellationToken.None);

        Assert.Equal((0L, true), (verification.Count, verification.Intact));
        Assert.Empty(await store.ListAuditAsync(null, CancellationToken.None));
    }

    [Theory]
    [InlineData(AuditTampering.FieldChanged, 2, 2, "a field of entry 2 (run.finished")]
    [InlineData(AuditTampering.EntryRemoved, 2, 3, "entry 2 is missing")]
    [InlineData(AuditTampering.PreviousHashChanged, 3, 3, "previous hash")]
    public async Task VerifyAudit_AfterTamperingBehindTheStoresBack_NamesTheFirstBrokenEntry(AuditTampering tampering, long entry, long seq, string problem)
    {
        // Given an audit log, tampered with by someone who got past the store
        var store = await OpenAsync();
        await PublishedRunAsync(store);
        await store.AppendAuditAsync(AuditLog.BundleBuilt, "bundle-1", null, null, null, CancellationToken.None);
        Assert.True((await store.VerifyAuditAsync(CancellationToken.None)).Intact);
        await TamperWithAuditAsync(tampering, entry);

        // When the chain is recomputed
        var verification = await (await OpenAsync()).VerifyAuditAsync(CancellationToken.None);

        // Then the first broken entry is named, with what differs
        Assert.False(verification.Intact);
        Assert.Equal(seq, verification.FirstBreak!.Seq);
        Assert.Contains(problem, verification.FirstBreak.Problem);
    }

    [Theory]
    [InlineData("Run.Created")]
    [InlineData("created")]
    public async Task AppendAudit_RejectsABadActionName(string action)
    {
        var store = await OpenAsync();

        await Assert.ThrowsAsync<ArgumentException>(() => store.AppendAuditAsync(action, "x", null, null, null, CancellationToken.None));
        await Assert.ThrowsAsync<ArgumentException>(() => store.AppendAuditAsync("bundle.built", "x", "not json", null, null, CancellationToken.None));
        Assert.Empty(await store.ListAuditAsync(null, CancellationToken.None));
    }

    [Fact]
    public async Task AppendAudit_FromManyTasksAndTwoClientsAtOnce_KeepsOneUnbrokenSequence()
    {
        var first = await OpenAsync();
        var second = await OpenStoreAsync(TimeProvider.System, "ada@gpu-01");
        _opened.Add(second);

        await Task.WhenAll(Enumerable.Range(0, 40).Select(i =>
            (i % 2 == 0 ? first : second).AppendAuditAsync(AuditLog.BundleBuilt, $"bundle-{i}", null, null, null, CancellationToken.None)));

        var entries = await first.ListAuditAsync(null, CancellationToken.None);
        Assert.Equal(Enumerable.Range(1, 40).Select(i => (long)i), entries.Select(e => e.Seq));
        Assert.Equal(Enumerable.Range(0, 40).Select(i => $"bundle-{i}").Order(StringComparer.Ordinal), entries.Select(e => e.ObjectId).Order(StringComparer.Ordinal));
        Assert.True((await first.VerifyAuditAsync(CancellationToken.None)).Intact);
    }
}
