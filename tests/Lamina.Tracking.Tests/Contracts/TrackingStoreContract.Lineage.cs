namespace Lamina.Tracking.Tests.Contracts;

/// <summary>
/// The web UI's lineage reads: down from a run to the runs that used its models and data sets, and the audit entries of
/// one action (bundles built) found by the database rather than by reading the whole trail.
/// </summary>
public abstract partial class TrackingStoreContract
{
    [Fact]
    public async Task RunsUsingOutputsOf_AreTheOtherRunsThatUsedItsModelsOrDataSets_OldestFirst()
    {
        // Given a data set run that built tiles (and lists them as its own output), a training run that trained on them and
        // made a model, a test run that tested that model on the same tiles, and an unrelated run with its own data set
        var store = await OpenAsync();
        var none = CancellationToken.None;
        var builder = await store.CreateRunAsync(Samples.Run(task: "tiles"), none);
        var tiles = await store.RegisterDatasetAsync(new DatasetRecord(new string('a', 64), "tumour-tiles", Start, builder.Id, 2, 40, "{}"), none);
        await store.RecordRunInputsAsync(builder.Id, [new RunDataset(tiles.Id, "output")], [], none);
        Time.Advance(TimeSpan.FromMinutes(1));
        var trainer = await store.CreateRunAsync(Samples.Run(project: "lung", task: "train"), none);
        await store.RecordRunInputsAsync(trainer.Id, [new RunDataset(tiles.Id, "train")], [], none);
        await store.RegisterModelAsync(trainer.Id, "tumour", "trained", Card, none);
        Time.Advance(TimeSpan.FromMinutes(1));
        var tester = await store.CreateRunAsync(Samples.Run(project: "lung", task: "test") with { TaskType = "testing" }, none);
        await store.RecordRunInputsAsync(tester.Id, [new RunDataset(tiles.Id, "test")], [], none);
        await store.RecordRunModelAsync(tester.Id, new RunModel(trainer.Id, "tumour", Card, "tested"), none);
        await store.FinishRunAsync(tester.Id, RunStatus.Failed, "out of memory", none);
        var other = await store.CreateRunAsync(Samples.Run(task: "other"), none);
        var otherTiles = await store.RegisterDatasetAsync(new DatasetRecord(new string('b', 64), "other-tiles", Start, other.Id, 1, 1, "{}"), none);
        await store.RecordRunInputsAsync(other.Id, [new RunDataset(otherTiles.Id, "train")], [], none);

        // When the runs downstream of each are listed
        var fromBuilder = await store.ListRunsUsingOutputsOfAsync(builder.Id, none);
        var fromTrainer = await store.ListRunsUsingOutputsOfAsync(trainer.Id, none);

        // Then the builder's tiles were used by the trainer and the tester (never the builder itself), and the trainer's model by the tester
        Assert.Equal(
            [
                new DownstreamRun(trainer.Id, "lung", "train", "training", RunStatus.Running, LineageInput.Dataset, tiles.Id, "tumour-tiles", "train"),
                new DownstreamRun(tester.Id, "lung", "test", "testing", RunStatus.Failed, LineageInput.Dataset, tiles.Id, "tumour-tiles", "test"),
            ],
            fromBuilder);
        Assert.Equal([new DownstreamRun(tester.Id, "lung", "test", "testing", RunStatus.Failed, LineageInput.Model, "tumour", "tumour", "tested")], fromTrainer);
        Assert.Empty(await store.ListRunsUsingOutputsOfAsync(tester.Id, none));
        Assert.Empty(await store.ListRunsUsingOutputsOfAsync(other.Id, none));
        Assert.Empty(await store.ListRunsUsingOutputsOfAsync(Guid.NewGuid(), none));
    }

    [Fact]
    public async Task AuditByAction_IsThatActionsEntriesOldestFirst_OptionallyThoseWhoseNewValueContainsAText()
    {
        // Given bundle entries naming different runs, among entries of other actions
        var store = await OpenAsync();
        var none = CancellationToken.None;
        var (a, b) = (Guid.NewGuid().ToString("D"), Guid.NewGuid().ToString("D"));
        var first = await store.AppendAuditAsync(AuditLog.BundleBuilt, "bundle-1", null, $$"""{"models":[{"run":"{{a}}"}]}""", "release 1", none);
        await store.AppendAuditAsync("dataset.noted", "note-1", null, $$"""{"run":"{{a}}"}""", null, none);
        var second = await store.AppendAuditAsync(AuditLog.BundleBuilt, "bundle-2", null, $$"""{"models":[{"run":"{{b}}"}]}""", null, none);
        var third = await store.AppendAuditAsync(AuditLog.BundleBuilt, "bundle-3", null, $$"""{"models":[{"run":"{{a}}"},{"run":"{{b}}"}]}""", null, none);
        await store.AppendAuditAsync(AuditLog.BundleBuilt, "bundle-4", null, null, null, none);

        // When they are read by action, with and without a text of the new value
        var bundlesOfA = await store.ListAuditByActionAsync(AuditLog.BundleBuilt, a, none);
        var bundles = await store.ListAuditByActionAsync(AuditLog.BundleBuilt, null, none);

        // Then only that action's entries come, whole and in order; the text is matched exactly (case and all)
        Assert.Equal([first, third], bundlesOfA);
        Assert.Equal(["bundle-1", "bundle-2", "bundle-3", "bundle-4"], bundles.Select(e => e.ObjectId));
        Assert.Equal([second, third], await store.ListAuditByActionAsync(AuditLog.BundleBuilt, b, none));
        Assert.Empty(await store.ListAuditByActionAsync(AuditLog.BundleBuilt, a.ToUpperInvariant(), none));
        Assert.Empty(await store.ListAuditByActionAsync("model.unknown", null, none));
    }
}
