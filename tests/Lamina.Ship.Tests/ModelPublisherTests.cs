using System.Text;
using Lamina.Core;
using Lamina.Core.Inference;
using Lamina.Tracking;
using Microsoft.Extensions.Time.Testing;

namespace Lamina.Ship.Tests;

/// <summary>The publisher against a real SQLite store, blob store and production folder; packages are registered through the API.</summary>
public sealed class ModelPublisherTests : IAsyncLifetime
{
    private static readonly DateTimeOffset Start = new(2025, 6, 2, 8, 0, 0, TimeSpan.Zero);
    private readonly TemporaryDirectory _temp = new();
    private readonly FakeTimeProvider _time = new(Start);
    private SqliteTrackingStore _store = null!;
    private FileBlobStore _blobs = null!;
    private FolderProductionStore _production = null!;
    private ModelPublisher _publisher = null!;

    public async Task InitializeAsync()
    {
        _store = await SqliteTrackingStore.OpenAsync(_temp.Combine("tracking.db"), _time, CancellationToken.None, actor: "ada@gpu-01");
        _blobs = new FileBlobStore(_temp.Combine("blobs"));
        _production = new FolderProductionStore(_temp.Combine("production"));
        _publisher = new ModelPublisher(_store, _blobs, _production, _time);
    }

    public async Task DisposeAsync()
    {
        await _store.DisposeAsync();
        _temp.Dispose();
    }

    // A run that stored model packages with the given names, finished with the given status.
    private async Task<Guid> RunWithModelsAsync(RunStatus status, params string[] models)
    {
        var environment = new EnvironmentInfo("os", "x64", "cpu", 1, 1, null, "net", "0", new Dictionary<string, string>());
        var run = await _store.CreateRunAsync(
            new NewRun("ship", "train", "training", [], null, "ada", "gpu-01", "lamina.yaml", "{}", null, environment, []), CancellationToken.None);
        foreach (var name in models)
        {
            var head = Encoding.UTF8.GetBytes($"weights of {name}");
            var card = new ModelCard
            {
                Name = name,
                Kind = "trained",
                Input = new InputSpec(224, 0.5, null, 0, 3),
                Classes = ["normal", "tumour"],
                Network = ModelPackages.Describe("head.onnx", head),
                TrainingRun = run.Id,
            };
            await ModelPackages.StoreAsync(_store, _blobs, run.Id, card, new Dictionary<string, byte[]> { ["head.onnx"] = head }, CancellationToken.None);
        }
        await _store.FinishRunAsync(run.Id, status, status == RunStatus.Failed ? "out of memory" : null, CancellationToken.None);
        _time.Advance(TimeSpan.FromMinutes(5));
        return run.Id;
    }

    private Task<PublishResult> PublishAsync(Guid run, string? model = null) =>
        _publisher.PublishAsync(new PublishRequest(run.ToString()[..8], model, "validated on cohort B", "ada@gpu-01"), CancellationToken.None);

    private string[] TemporaryFolders(Guid run) =>
        Directory.Exists(Path.Combine(_production.Root, run.ToString())) ? Directory.GetDirectories(Path.Combine(_production.Root, run.ToString()), ".*") : [];

    [Fact]
    public async Task Publish_ACompletedRunsModel_CopiesVerifiesRenamesAndMarksTheRun()
    {
        var run = await RunWithModelsAsync(RunStatus.Completed, "tumour");

        var result = await PublishAsync(run);

        Assert.Equal(PublishOutcome.Published, result.Outcome);
        var published = await _production.OpenAsync(run, "tumour", CancellationToken.None);
        var model = (await _store.ListModelsAsync(CancellationToken.None)).Single();
        Assert.Equal(model.CardDigest, published.Manifest.CardSha256);
        Assert.Equal(["model.json", "head.onnx"], published.Manifest.Files.Select(f => f.Name));
        Assert.Equal((Start.AddMinutes(5), "ada@gpu-01", "validated on cohort B"),
            (published.Manifest.PublishedAt, published.Manifest.PublishedBy, published.Manifest.Reason));
        Assert.Empty(TemporaryFolders(run));

        var publication = Assert.Single(await _store.ListPublicationsAsync(run, CancellationToken.None));
        Assert.Equal(Sha256Digest.OfFile(Path.Combine(result.Location, ProductionStore.ManifestFile)).Digest.Hex, publication.ManifestSha256);
        var audit = (await _store.ListAuditAsync(null, CancellationToken.None)).Last();
        Assert.Equal((AuditLog.ModelPublished, $"{run}/tumour", "validated on cohort B"), (audit.Action, audit.ObjectId, audit.Reason));
        await Assert.ThrowsAsync<RunPublishedException>(() => _store.DeleteRunAsync(run, CancellationToken.None));
    }

    [Fact]
    public async Task Publish_Again_IsANoOpThatSaysSo()
    {
        var run = await RunWithModelsAsync(RunStatus.Completed, "tumour");
        var first = await PublishAsync(run);
        _time.Advance(TimeSpan.FromDays(1));

        var again = await PublishAsync(run);

        Assert.Equal(PublishOutcome.AlreadyPublished, again.Outcome);
        Assert.Equal(first.Publication, again.Publication);
        Assert.Equal(first.Manifest.PublishedAt, (await _production.OpenAsync(run, "tumour", CancellationToken.None)).Manifest.PublishedAt);
        Assert.Single(await _store.ListAuditAsync(null, CancellationToken.None), e => e.Action == AuditLog.ModelPublished);
    }

    [Fact]
    public async Task Publish_RunsThatCannotBePublished_AreRefusedWithTheReason()
    {
        var failed = await RunWithModelsAsync(RunStatus.Failed, "tumour");
        var none = await RunWithModelsAsync(RunStatus.Completed);
        var several = await RunWithModelsAsync(RunStatus.Completed, "tumour", "stroma");

        Assert.Contains("is failed (out of memory): only a completed run", (await Assert.ThrowsAsync<PublishRefusedException>(() => PublishAsync(failed))).Message);
        Assert.Contains("produced no model", (await Assert.ThrowsAsync<PublishRefusedException>(() => PublishAsync(none))).Message);
        Assert.Contains("several models (stroma, tumour): choose one with --model NAME",
            (await Assert.ThrowsAsync<PublishRefusedException>(() => PublishAsync(several))).Message);
        Assert.Contains("has no model 'fat' (it has: stroma, tumour)",
            (await Assert.ThrowsAsync<PublishRefusedException>(() => PublishAsync(several, "fat"))).Message);

        Assert.Empty(await _production.ListAsync(CancellationToken.None));
        Assert.Empty(await _store.ListPublicationsAsync(null, CancellationToken.None));
        Assert.Equal(PublishOutcome.Published, (await PublishAsync(several, "stroma")).Outcome);
    }

    [Fact]
    public async Task CopyFailingMidway_PublishesAndMarksNothing_AndTheNextPublishCompletes()
    {
        // Given a run whose head file's blob has gone missing
        var run = await RunWithModelsAsync(RunStatus.Completed, "tumour");
        var head = _blobs.PathOf(ModelPackages.Describe("head.onnx", Encoding.UTF8.GetBytes("weights of tumour")).Sha256);
        File.Move(head, head + ".away");

        // When it is published, the copy fails
        await Assert.ThrowsAsync<BlobNotFoundException>(() => PublishAsync(run));

        // Then the production store has no model, no temporary folder, and the run is not published
        Assert.False(await _production.ContainsAsync(run, "tumour", CancellationToken.None));
        Assert.Empty(await _production.ListAsync(CancellationToken.None));
        Assert.Empty(TemporaryFolders(run));
        Assert.Empty(await _store.ListPublicationsAsync(run, CancellationToken.None));

        // And once the blob is back, publishing completes
        File.Move(head + ".away", head);
        Assert.Equal(PublishOutcome.Published, (await PublishAsync(run)).Outcome);
        Assert.True((await _production.VerifyAsync(run, "tumour", CancellationToken.None)).Ok);
    }

    [Fact]
    public async Task MarkingFailedAfterTheCopy_TheCopyStays_AndTheNextPublishCompletesTheMarking()
    {
        // Given a verified copy in place but no marking (the process died between the two)
        var run = await RunWithModelsAsync(RunStatus.Completed, "tumour");
        var model = (await _store.ListModelsAsync(CancellationToken.None)).Single();
        var copied = await _publisher.CopyAsync(model, "grace@lab-01", "first attempt", CancellationToken.None);
        Assert.True(await _production.ContainsAsync(run, "tumour", CancellationToken.None));
        Assert.Empty(await _store.ListPublicationsAsync(run, CancellationToken.None));
        _time.Advance(TimeSpan.FromHours(1));

        // When publishing again
        var result = await PublishAsync(run);

        // Then the marking is completed as the copy was published
        Assert.Equal(PublishOutcome.MarkingCompleted, result.Outcome);
        Assert.Equal((copied.Manifest.PublishedAt, "grace@lab-01", "first attempt"),
            (result.Publication.PublishedAt, result.Publication.PublishedBy, result.Publication.Reason));
        Assert.Equal(PublishOutcome.AlreadyPublished, (await PublishAsync(run)).Outcome);
    }

    [Fact]
    public async Task Publish_WhenThePublishedCopyWasAlteredOrRemoved_SaysSoAndRepairsNothing()
    {
        var run = await RunWithModelsAsync(RunStatus.Completed, "tumour");
        var folder = (await PublishAsync(run)).Location;
        var head = Path.Combine(folder, "head.onnx");
        File.WriteAllText(head, "weights of tumour, fine-tuned by hand");

        var altered = await Assert.ThrowsAsync<ShipException>(() => PublishAsync(run));

        Assert.Contains("is published (at 2025-06-02 08:05:00 UTC), but its production copy was altered", altered.Message);
        Assert.Contains(head, altered.Message);
        Assert.Equal("weights of tumour, fine-tuned by hand", File.ReadAllText(head));

        Directory.Delete(folder, recursive: true);
        var missing = await Assert.ThrowsAsync<ShipException>(() => PublishAsync(run));
        Assert.Contains("but its production copy", missing.Message);
        Assert.Contains("is missing", missing.Message);
        Assert.False(Directory.Exists(folder));
    }
}
