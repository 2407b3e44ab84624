using Lamina.Tracking;

namespace Lamina.Ui.Tests;

/// <summary>A run page's lineage, down as well as up: data set → training run → model → the runs that used it, publications, bundles.</summary>
public sealed class LineageTests
{
    private static readonly CancellationToken None = CancellationToken.None;

    [Fact]
    public async Task RunPage_LineageGoesDown_ToTheRunsThatUsedItsDataSetsAndModels()
    {
        // Given a data set run that built tiles, a training run on them that made a model, and an analysis run of that model
        await using var ui = await UiHarness.CreateAsync();
        var builder = await ui.Store.CreateRunAsync(UiHarness.NewRun("pathology", "tiles", "{}", null, [], null), None);
        var tiles = await ui.Store.RegisterDatasetAsync(new DatasetRecord(new string('a', 64), "tumour-tiles", DateTimeOffset.UtcNow, builder.Id, 2, 40, "{}"), None);
        var trainer = await ui.Store.CreateRunAsync(UiHarness.NewRun("pathology", "simple_train", "{}", null, [], null), None);
        await ui.Store.RecordRunInputsAsync(trainer.Id, [new RunDataset(tiles.Id, "train")], [], None);
        await ui.Store.RegisterModelAsync(trainer.Id, "tumour", "trained", new string('c', 64), None);
        var analysis = await ui.Store.CreateRunAsync(UiHarness.NewRun("screening", "analyse", "{}", null, [], null) with { TaskType = "analysis" }, None);
        await ui.Store.RecordRunModelAsync(analysis.Id, new RunModel(trainer.Id, "tumour", new string('c', 64), "analysed"), None);
        await ui.StartAsync();

        // When the builder's and the trainer's pages are read
        var builderPage = await ui.Client.GetStringAsync($"/runs/{builder.Id:D}");
        var trainerPage = await ui.Client.GetStringAsync($"/runs/{trainer.Id:D}");

        // Then each page's "down" links the runs that used what it made, saying what and how
        Assert.Contains($"<li data-downstream=\"{trainer.Id:D}\">run <a href=\"/runs/{trainer.Id:D}\" class=\"run-id\">", builderPage);
        Assert.Contains($"used data set <a href=\"/datasets/{tiles.Id}\">tumour-tiles</a> (train)</li>", builderPage);
        Assert.Contains($"<li data-downstream=\"{analysis.Id:D}\">run <a href=\"/runs/{analysis.Id:D}\" class=\"run-id\">", trainerPage);
        Assert.Contains("(screening / analyse, analysis)", trainerPage);
        Assert.Contains("used model tumour (analysed)</li>", trainerPage);
        Assert.DoesNotContain("data-downstream", await ui.Client.GetStringAsync($"/runs/{analysis.Id:D}"));
    }

    [Fact]
    public async Task RunPage_ShowsOnlyTheBundlesBuiltFromItsModels_AndReleasesEveryBundle_WithReadableTimes()
    {
        // Given a published run, one bundle of its model and one of another run's
        await using var ui = await UiHarness.CreateAsync();
        var seeded = await ui.SeedAsync();
        await ui.Store.RegisterModelAsync(seeded.Trained.Id, "tumour", "trained", new string('c', 64), None);
        await ui.Store.MarkPublishedAsync(new NewPublication(seeded.Trained.Id, "tumour", new string('d', 64), DateTimeOffset.UtcNow, "ada@gpu-01", null), None);
        var ours = await ui.Store.AppendAuditAsync(AuditLog.BundleBuilt, "bundle-ours", null, $$"""{"models":[{"run":"{{seeded.Trained.Id:D}}"}]}""", null, None);
        await ui.Store.AppendAuditAsync(AuditLog.BundleBuilt, "bundle-theirs", null, $$"""{"models":[{"run":"{{seeded.Failed.Id:D}}"}]}""", null, None);
        await ui.StartAsync();

        // When the run's page and the releases page are read
        var run = await ui.Client.GetStringAsync($"/runs/{seeded.Trained.Id:D}");
        var releases = await ui.Client.GetStringAsync("/releases");

        // Then the run names its own bundle only, and the releases page lists both, newest first
        Assert.Contains($"<li>bundle <code>bundle-ours</code> built <time datetime=\"{ours.Time}\">", run);
        Assert.DoesNotContain("bundle-theirs", run);
        Assert.True(releases.IndexOf("bundle-theirs", StringComparison.Ordinal) < releases.IndexOf("bundle-ours", StringComparison.Ordinal));
        Assert.Contains($"<td><time datetime=\"{ours.Time}\">", releases);
    }
}
