using Lamina.Core;
using Lamina.Tracking;
using Microsoft.Data.Sqlite;

namespace Lamina.Ship.Tests;

public sealed class StoreCopierTests
{
    private static readonly CancellationToken None = CancellationToken.None;
    private static readonly DateTimeOffset Time = new(2026, 3, 1, 12, 0, 0, TimeSpan.Zero);

    private static StoreEndpoint Endpoint(ShipStores s) => new(s.Store.DatabasePath, s.Store, s.Blobs.Root, s.Blobs, s.Production);

    /// <summary>
    /// A published training run with metrics (one NaN), a log, a data set whose manifest is a blob, a slide and a remembered
    /// slide digest; a second run, not published, that used the first one's model; and an audit entry of its own.
    /// </summary>
    private static async Task<(Guid Published, Guid Other, string Model)> FillAsync(ShipStores s)
    {
        var (manifest, _) = await s.Blobs.PutAsync(new MemoryStream("{\"format\":\"lamina.dataset/1\"}"u8.ToArray()), None);
        var (run, card) = await s.TrainedAsync(datasetId: manifest);
        await s.Store.LogMetricsAsync(run, [new("loss", 0, 0.9, Time), new("loss", 1, double.NaN, Time.AddSeconds(1)), new("auc", 1, 0.8, Time)], None);
        await s.Store.AppendLogAsync(run, "epoch 1\n", None);
        await s.Store.AppendLogAsync(run, "epoch 2\n", None);
        var slidePath = s.Temp.Combine("a.svs");
        File.WriteAllText(slidePath, "pixels");
        var slide = Sha256Digest.OfFile(slidePath).Digest.Hex;
        await s.Store.RecordRunInputsAsync(run, [], [new SlideInput(slidePath, slide, 6)], None);
        await s.Store.RememberSlideDigestAsync(slidePath, 6, Time, slide, None);
        await s.PublishAsync(run, card);
        var (other, _) = await s.TrainedAsync("other_model");
        var cardDigest = (await s.Store.ListModelsAsync(None)).Single(m => m.RunId == run).CardDigest;
        await s.Store.RecordRunModelAsync(other, new RunModel(run, card.Name, cardDigest, "evaluated"), None);
        await s.Store.AppendAuditAsync(AuditLog.BundleBuilt, "bundle-1", null, "{\"anchor\":\"1\"}", "release 1", None);
        return (run, other, card.Name);
    }

    [Fact]
    public async Task Copy_IntoAnEmptyStore_KeepsEveryRunRowBlobModelAndAuditEntry()
    {
        // Given a store with runs, metrics, a log, a data set, a published model and audit entries, and an empty one
        await using var source = await ShipStores.CreateAsync();
        await using var target = await ShipStores.CreateAsync();
        var (published, other, model) = await FillAsync(source);

        // When it is copied
        var steps = new List<string>();
        var summary = await new StoreCopier(new SyncProgress(p => steps.Add(p.Stage))).CopyAsync(Endpoint(source), Endpoint(target), None);

        // Then every run is there with the same rows, ids, times and digests
        Assert.Equal((2, 0, 1, 1, 1), (summary.RunsCopied, summary.RunsSkipped, summary.ModelsCopied, summary.DatasetsCopied, summary.SlideDigestsCopied));
        Assert.Equal(["blobs", "models", "data sets", "runs", "audit"], steps);
        Assert.Equal((await source.Store.ListRunsAsync(new RunQuery(), None)).Select(r => (r.Id, r.CreatedAt, r.Status)),
            (await target.Store.ListRunsAsync(new RunQuery(), None)).Select(r => (r.Id, r.CreatedAt, r.Status)));
        foreach (var run in new[] { published, other })
        {
            var (from, to) = (await source.Store.ExportRunAsync(run, None), await target.Store.ExportRunAsync(run, None));
            Assert.Equal(from.Fingerprint(), to.Fingerprint());
            Assert.Equal(from.Publications, to.Publications);
            Assert.Equal(await source.Store.GetMetricsAsync(run, None), await target.Store.GetMetricsAsync(run, None));
            Assert.Equal(await source.Store.GetLogAsync(run, None), await target.Store.GetLogAsync(run, None));
            Assert.Equal((await source.Store.GetRunDetailsAsync(run, None)).Artifacts, (await target.Store.GetRunDetailsAsync(run, None)).Artifacts);
            foreach (var digest in from.BlobDigests) Assert.True(await target.Blobs.ExistsAsync(digest, None), digest);
        }
        Assert.Contains(await target.Store.GetMetricsAsync(published, None), p => double.IsNaN(p.Value));
        Assert.Equal("epoch 1\nepoch 2\n", await target.Store.GetLogAsync(published, None));
        Assert.Equal(await source.Store.ListDatasetsAsync(None), await target.Store.ListDatasetsAsync(None));
        Assert.Equal(await source.Store.ListPublicationsAsync(null, None), await target.Store.ListPublicationsAsync(null, None));
        var slide = source.Temp.Combine("a.svs");
        Assert.Equal(Sha256Digest.OfFile(slide).Digest.Hex, await target.Store.FindSlideDigestAsync(slide, 6, Time, None));

        // And the audit log is the same chain, intact
        Assert.Equal(AuditImportMode.Verbatim, summary.AuditMode);
        Assert.Equal(await source.Store.ListAuditAsync(null, None), await target.Store.ListAuditAsync(null, None));
        var verification = await target.Store.VerifyAuditAsync(None);
        Assert.True(verification.Intact);
        Assert.Equal((await source.Store.VerifyAuditAsync(None)).HeadHash, verification.HeadHash);

        // And the published run stays published and immutable, its production copy verifies, and its lineage traces
        await Assert.ThrowsAsync<RunPublishedException>(() => target.Store.DeleteRunAsync(published, None));
        await Assert.ThrowsAsync<RunPublishedException>(() => target.Store.AppendLogAsync(published, "more", None));
        var copy = await target.Production.OpenAsync(published, model, None);
        Assert.Equal((await source.Production.OpenAsync(published, model, None)).ManifestSha256, copy.ManifestSha256);
        Assert.Equal((await target.Store.ListPublicationsAsync(published, None)).Single().ManifestSha256, copy.ManifestSha256);
        var lineage = await target.Tracer().TraceAsync(published.ToString(), None);
        Assert.False(lineage.HasProblem, string.Join("\n", Flatten(lineage).Where(n => n.State is DigestState.Missing or DigestState.Altered).Select(n => n.Label)));
        Assert.Contains("published", lineage.Detail);
    }

    [Fact]
    public async Task Copy_Twice_CopiesNothingTheSecondTime()
    {
        // Given a store copied once
        await using var source = await ShipStores.CreateAsync();
        await using var target = await ShipStores.CreateAsync();
        await FillAsync(source);
        var first = await new StoreCopier().CopyAsync(Endpoint(source), Endpoint(target), None);
        var audit = await target.Store.ListAuditAsync(null, None);

        // When it is copied again
        var second = await new StoreCopier().CopyAsync(Endpoint(source), Endpoint(target), None);

        // Then nothing is copied, everything is found there
        Assert.False(second.CopiedAnything, second.ToString());
        Assert.Equal((2, first.BlobsCopied, 1, 1), (second.RunsSkipped, second.BlobsSkipped, second.ModelsSkipped, second.DatasetsSkipped));
        Assert.Equal((0, audit.Count), (second.AuditCopied, second.AuditSkipped));
        Assert.Equal(audit, await target.Store.ListAuditAsync(null, None));
    }

    [Fact]
    public async Task Copy_OfATamperedBlob_IsRefusedNamingIt_AndLeavesNothingVisible()
    {
        // Given a store one of whose blobs no longer holds the bytes its name says
        await using var source = await ShipStores.CreateAsync();
        await using var target = await ShipStores.CreateAsync();
        var (run, _, _) = await FillAsync(source);
        var head = (await source.Store.GetRunDetailsAsync(run, None)).Artifacts.Single(a => a.Name.EndsWith("head.onnx", StringComparison.Ordinal)).Digest;
        var tampered = "tampered weights"u8.ToArray();
        File.WriteAllBytes(source.Blobs.PathOf(head), tampered);

        // When it is copied
        var error = await Assert.ThrowsAsync<ShipException>(() => new StoreCopier().CopyAsync(Endpoint(source), Endpoint(target), None));

        // Then the copy is refused naming the blob, and the target shows nothing of it: no run, no model, no audit entry, no such blob
        Assert.Equal(LaminaErrorKind.Integrity, error.Kind);
        Assert.Contains(head, error.Message);
        Assert.Contains(Sha256Digest.Of(tampered).Hex, error.Message);
        Assert.Empty(await target.Store.ListRunsAsync(new RunQuery(), None));
        Assert.Empty(await target.Store.ListAuditAsync(null, None));
        Assert.Empty(await target.Production.ListAsync(None));
        Assert.False(await target.Blobs.ExistsAsync(head, None));
        Assert.False(await target.Blobs.ExistsAsync(Sha256Digest.Of(tampered).Hex, None));
        Assert.Empty(Directory.EnumerateFiles(target.Blobs.Root, ".tmp-*"));
    }

    [Fact]
    public async Task Copy_IntoAStoreWithHistoryOfItsOwn_AppendsTheSourceChain_AndBothVerify()
    {
        // Given a team store with a run and audit history of its own
        await using var source = await ShipStores.CreateAsync();
        await using var team = await ShipStores.CreateAsync();
        var (theirs, _) = await team.TrainedAsync("team_model");
        await team.Store.AppendAuditAsync(AuditLog.BundleBuilt, "team-bundle", null, null, null, None);
        var before = await team.Store.ListAuditAsync(null, None);
        var (published, other, _) = await FillAsync(source);
        var sourceAudit = await source.Store.ListAuditAsync(null, None);

        // When a laptop's store is copied into it
        var summary = await new StoreCopier().CopyAsync(Endpoint(source), Endpoint(team), None);

        // Then both stores' runs are there, and the team's chain kept its entries and verifies
        Assert.Equal(AuditImportMode.Appended, summary.AuditMode);
        Assert.Equal(new[] { theirs, published, other }.Order(), (await team.Store.ListRunsAsync(new RunQuery(), None)).Select(r => r.Id).Order());
        var after = await team.Store.ListAuditAsync(null, None);
        Assert.Equal(before, after.Take(before.Count));
        Assert.True((await team.Store.VerifyAuditAsync(None)).Intact);
        Assert.True((await source.Store.VerifyAuditAsync(None)).Intact);

        // And each source entry is there with its original hash, which still checks, then one entry naming the source
        var imported = after.Skip(before.Count).Take(sourceAudit.Count).ToList();
        Assert.All(imported, e => Assert.Equal(AuditLog.AuditImported, e.Action));
        var originals = imported.Select(e => AuditLog.ReadImported(e) ?? throw new InvalidOperationException($"entry {e.Seq} holds no original")).ToList();
        Assert.Equal(sourceAudit, originals);
        Assert.All(originals, o => Assert.Equal(o.Hash, AuditLog.ComputeHash(o)));
        Assert.True(AuditLog.Verify(originals).Intact);
        var copied = after[^1];
        Assert.Equal((AuditLog.StoreCopied, source.Store.DatabasePath), (copied.Action, copied.ObjectId));
        Assert.Contains(sourceAudit[^1].Hash, copied.NewValue);
        Assert.Equal(before.Count + sourceAudit.Count + 1, after.Count);

        // And a second copy brings nothing; one after the source moved on brings only the new entry
        var again = await new StoreCopier().CopyAsync(Endpoint(source), Endpoint(team), None);
        Assert.False(again.CopiedAnything, again.ToString());
        Assert.Equal(after, await team.Store.ListAuditAsync(null, None));
        await source.Store.AppendAuditAsync(AuditLog.BundleBuilt, "bundle-2", null, null, null, None);
        var third = await new StoreCopier().CopyAsync(Endpoint(source), Endpoint(team), None);
        Assert.Equal((1, sourceAudit.Count), (third.AuditCopied, third.AuditSkipped));
        Assert.True((await team.Store.VerifyAuditAsync(None)).Intact);
    }

    [Fact]
    public async Task Copy_OfARunPublishedSinceAnEarlierCopy_PublishesItInTheTarget()
    {
        // Given a completed run copied before it was published
        await using var source = await ShipStores.CreateAsync();
        await using var target = await ShipStores.CreateAsync();
        var (run, card) = await source.TrainedAsync();
        await new StoreCopier().CopyAsync(Endpoint(source), Endpoint(target), None);

        // When it is published in the source and copied again
        await source.PublishAsync(run, card);
        var summary = await new StoreCopier().CopyAsync(Endpoint(source), Endpoint(target), None);

        // Then the target records the publication, holds the production copy, and refuses to delete the run
        Assert.Equal((0, 1, 1), (summary.RunsCopied, summary.RunsPublished, summary.ModelsCopied));
        Assert.Single(await target.Store.ListPublicationsAsync(run, None));
        await Assert.ThrowsAsync<RunPublishedException>(() => target.Store.DeleteRunAsync(run, None));
        Assert.True((await target.Store.VerifyAuditAsync(None)).Intact);
    }

    [Fact]
    public async Task Copy_OfARunThatDiffersFromTheTargetsRunOfTheSameId_IsAConflictNamingTheRun()
    {
        // Given two stores each holding a different run under the same id
        await using var source = await ShipStores.CreateAsync();
        await using var target = await ShipStores.CreateAsync();
        var id = Guid.NewGuid();
        await source.TrainedAsync(id: id);
        await target.TrainedAsync("another_model", id: id);

        // When one is copied into the other
        var error = await Assert.ThrowsAsync<TrackingException>(() => new StoreCopier().CopyAsync(Endpoint(source), Endpoint(target), None));

        // Then it is a conflict naming the run, and the target's run is unchanged
        Assert.Equal(LaminaErrorKind.Conflict, error.Kind);
        Assert.Contains(id.ToString(), error.Message);
        Assert.Equal("another_model", (await target.Store.ListModelsAsync(None)).Single().Name);
    }

    [Fact]
    public async Task Copy_FromAStoreWhoseAuditChainIsBroken_IsRefusedBeforeWritingAnything()
    {
        // Given a store whose first audit entry was altered behind its back
        await using var source = await ShipStores.CreateAsync();
        await using var target = await ShipStores.CreateAsync();
        await source.TrainedAsync();
        await using (var connection = new SqliteConnection($"Data Source={source.Store.DatabasePath};Pooling=false"))
        {
            await connection.OpenAsync();
            await using var command = connection.CreateCommand();
            command.CommandText = "DROP TRIGGER audit_log_no_update; UPDATE audit_log SET who = 'mallory@elsewhere' WHERE seq = 1;";
            await command.ExecuteNonQueryAsync();
        }

        // When it is copied
        var error = await Assert.ThrowsAsync<ShipException>(() => new StoreCopier().CopyAsync(Endpoint(source), Endpoint(target), None));

        // Then it is refused naming the broken entry, and nothing was written
        Assert.Equal(LaminaErrorKind.Integrity, error.Kind);
        Assert.Contains("broken at entry 1", error.Message);
        Assert.Empty(await target.Store.ListRunsAsync(new RunQuery(), None));
        Assert.Empty(Directory.EnumerateFiles(target.Blobs.Root, "*", SearchOption.AllDirectories));
    }

    [Fact]
    public async Task Copy_OfAPublishedModelWhoseProductionCopyIsGone_IsRefusedBeforeWritingAnything()
    {
        // Given a store whose published model's production copy was removed
        await using var source = await ShipStores.CreateAsync();
        await using var target = await ShipStores.CreateAsync();
        var (run, _, model) = await FillAsync(source);
        Directory.Delete(source.Production.FolderOf(run, model), recursive: true);

        // When it is copied
        var error = await Assert.ThrowsAsync<ShipException>(() => new StoreCopier().CopyAsync(Endpoint(source), Endpoint(target), None));

        // Then it is refused naming the missing copy, and nothing was written
        Assert.Equal(LaminaErrorKind.Integrity, error.Kind);
        Assert.Contains(source.Production.FolderOf(run, model), error.Message);
        Assert.Empty(await target.Store.ListRunsAsync(new RunQuery(), None));
        Assert.Empty(Directory.EnumerateFiles(target.Blobs.Root, "*", SearchOption.AllDirectories));
    }

    private static IEnumerable<LineageNode> Flatten(LineageNode node) => node.Children.SelectMany(Flatten).Prepend(node);

    // Progress<T> posts to the thread pool; the test wants the stages in order, as they happen.
    private sealed class SyncProgress(Action<StoreCopyProgress> report) : IProgress<StoreCopyProgress>
    {
        public void Report(StoreCopyProgress value) => report(value);
    }
}
