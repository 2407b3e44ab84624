using System.Text.Json.Nodes;
using Lamina.Core.Analysis;
using Lamina.Tracking;

namespace Lamina.Ship.Tests;

public sealed class BundleTests
{
    private sealed class RecordingAudit : IBundleAudit
    {
        public List<(string Action, string Subject)> Entries { get; } = [];

        public Task AppendAsync(string action, string subject, string? oldValue, string? newValue, string? reason, CancellationToken cancellationToken)
        {
            Entries.Add((action, subject));
            return Task.CompletedTask;
        }

        public Task<AuditAnchor?> HeadAsync(CancellationToken cancellationToken) => Task.FromResult<AuditAnchor?>(null);
    }

    private static async Task<(ShipStores Stores, Guid Run, string Resolved)> ResolvedAsync()
    {
        var stores = await ShipStores.CreateAsync();
        var (run, card) = await stores.TrainedAsync(datasetId: new string('d', 64));
        await stores.PublishAsync(run, card);
        var analysis = stores.WriteCarcinomaAnalysis(run);
        var result = await stores.Resolver().ResolveAsync(analysis, stores.Temp.Combine("release", "resolved.yaml"), CancellationToken.None);
        return (stores, run, result.ResolvedFile);
    }

    [Fact]
    public async Task Bundle_CopiesEveryPinnedFile_AndDescribesThemInAnInTotoStatement()
    {
        // Given a resolved analysis file
        var (stores, run, resolved) = await ResolvedAsync();
        await using var owned = stores;
        var audit = new RecordingAudit();
        var target = stores.Temp.Combine("bundle");

        // When it is bundled
        var result = await stores.Builder(audit).BuildAsync(resolved, target, CancellationToken.None);

        // Then the bundle holds the models, the plug-in source, the resolved file and the lock, each as pinned
        var lockFile = LockFile.Read(LockFile.PathBeside(resolved));
        var expected = lockFile.Models[0].Files.Select(f => ($"models/carcinoma_model/{f.Name}", f.Sha256))
            .Append(("plugins/Normalization.cs", lockFile.Plugins[0].Sha256))
            .Append(("analysis.yaml", lockFile.ResolvedSha256))
            .Append(("lamina.lock.json", Sha256Digest.OfFile(LockFile.PathBeside(resolved)).Digest.Hex))
            .OrderBy(f => f.Item1, StringComparer.Ordinal).ToList();
        var onDisk = Directory.GetFiles(target, "*", SearchOption.AllDirectories)
            .Select(p => Path.GetRelativePath(target, p).Replace('\\', '/'))
            .Where(n => n != BundleProvenance.FileName)
            .Select(n => (n, Sha256Digest.OfFile(Path.Combine(target, n)).Digest.Hex))
            .OrderBy(f => f.Item1, StringComparer.Ordinal).ToList();
        Assert.Equal(expected, onDisk);

        // And provenance.json is an in-toto statement of SLSA provenance with every file as a subject
        var statement = JsonNode.Parse(File.ReadAllText(Path.Combine(target, BundleProvenance.FileName)))!;
        Assert.Equal("https://in-toto.io/Statement/v1", statement["_type"]!.GetValue<string>());
        Assert.Equal("https://slsa.dev/provenance/v1", statement["predicateType"]!.GetValue<string>());
        Assert.Equal(expected, statement["subject"]!.AsArray().Select(s => (s!["name"]!.GetValue<string>(), s["digest"]!["sha256"]!.GetValue<string>())).ToList());
        var build = statement["predicate"]!["buildDefinition"]!;
        Assert.Equal(BundleProvenance.BuildType, build["buildType"]!.GetValue<string>());
        Assert.Equal(lockFile.AnalysisFileSha256, build["externalParameters"]!["analysis_file_sha256"]!.GetValue<string>());
        var dependencies = build["resolvedDependencies"]!.AsArray();
        var model = dependencies.Single(d => d!["name"]?.GetValue<string>() == "models/carcinoma_model/model.json")!;
        Assert.Equal(lockFile.Models[0].CardSha256, model["digest"]!["sha256"]!.GetValue<string>());
        Assert.Equal(run.ToString(), model["annotations"]!["run"]!.GetValue<string>());
        Assert.Equal("0123456789abcdef0123456789abcdef01234567", model["annotations"]!["git_commit"]!.GetValue<string>());
        Assert.Equal(new string('d', 64), model["annotations"]!["datasets"]![0]!.GetValue<string>());
        Assert.Contains(dependencies, d => d!["digest"]!["gitCommit"]?.GetValue<string>() == "0123456789abcdef0123456789abcdef01234567");
        var details = statement["predicate"]!["runDetails"]!;
        Assert.Equal($"https://lamina.dev/cli@{AnalysisEngine.Version}", details["builder"]!["id"]!.GetValue<string>());
        Assert.True(Guid.TryParse(details["metadata"]!["invocationId"]!.GetValue<string>(), out _));
        Assert.True(DateTimeOffset.Parse(details["metadata"]!["startedOn"]!.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture)
            <= DateTimeOffset.Parse(details["metadata"]!["finishedOn"]!.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture));

        // And the audit trail has the bundle, and the bundle verifies
        Assert.Equal([("bundle.built", result.Directory)], audit.Entries);
        Assert.True(BundleVerifier.Verify(target).Ok);
    }

    [Fact]
    public async Task Bundle_OnTheTrackingStoresAuditTrail_AnchorsItsHeadInTheProvenance()
    {
        // Given a resolved analysis file and the audit trail's head (run created, finished, model published)
        var (stores, _, resolved) = await ResolvedAsync();
        await using var owned = stores;
        var before = await stores.Store.VerifyAuditAsync(CancellationToken.None);

        // When it is bundled with the tracking store's audit trail
        var result = await stores.Builder(new TrackingStoreAudit(stores.Store)).BuildAsync(resolved, stores.Temp.Combine("bundle"), CancellationToken.None);

        // Then the provenance records that head as a byproduct, the bundle's own entry follows it, and the anchor holds
        var anchor = BundleProvenance.AuditAnchorOf(result.Provenance);
        Assert.Equal(new AuditAnchor(before.Count, before.HeadHash), anchor);
        var byproduct = result.Provenance["predicate"]!["runDetails"]!["byproducts"]![0]!;
        Assert.Equal((BundleProvenance.AuditAnchorName, $"lamina:audit/{before.Count}", before.HeadHash),
            (byproduct["name"]!.GetValue<string>(), byproduct["uri"]!.GetValue<string>(), byproduct["digest"]!["sha256"]!.GetValue<string>()));
        var entries = await stores.Store.ListAuditAsync(null, CancellationToken.None);
        Assert.Equal(("bundle.built", before.Count + 1), (entries[^1].Action, entries[^1].Seq));
        Assert.Null(AuditLog.CheckAnchors(entries, [anchor!]));
        Assert.True(BundleVerifier.Verify(result.Directory).Ok);
    }

    [Fact]
    public async Task Bundle_OnATamperedAuditTrail_IsRefused_AndLeavesNoFolder()
    {
        // Given a resolved analysis file, and an audit entry edited by someone who dropped the trigger
        var (stores, _, resolved) = await ResolvedAsync();
        await using var owned = stores;
        await using (var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={stores.Store.DatabasePath};Pooling=false"))
        {
            await connection.OpenAsync();
            await using var command = connection.CreateCommand();
            command.CommandText = "DROP TRIGGER audit_log_no_update; UPDATE audit_log SET who = 'mallory@elsewhere' WHERE seq = 1;";
            await command.ExecuteNonQueryAsync();
        }

        // When it is bundled
        var error = await Assert.ThrowsAsync<ShipException>(() =>
            stores.Builder(new TrackingStoreAudit(stores.Store)).BuildAsync(resolved, stores.Temp.Combine("bundle"), CancellationToken.None));

        // Then the broken entry is named, and no bundle is made
        Assert.StartsWith("the audit trail is broken at entry 1:", error.Message);
        Assert.Empty(Directory.GetFileSystemEntries(stores.Temp.Path, "bundle*"));
    }

    [Theory]
    [InlineData("altered")]
    [InlineData("missing")]
    public async Task Bundle_TamperedProductionFile_IsRefusedNamingIt_AndLeavesNoFolder(string tampering)
    {
        // Given a published file changed after resolve
        var (stores, run, resolved) = await ResolvedAsync();
        await using var owned = stores;
        var head = Path.Combine(stores.Production.FolderOf(run, "carcinoma_model"), "head.onnx");
        if (tampering == "altered") File.AppendAllText(head, "!");
        else File.Delete(head);
        var target = stores.Temp.Combine("bundle");

        // When it is bundled
        var error = await Assert.ThrowsAsync<ShipException>(() => stores.Builder().BuildAsync(resolved, target, CancellationToken.None));

        // Then the file is named, and neither the bundle nor a temporary folder is left
        Assert.StartsWith($"{head}: ", error.Message);
        Assert.Contains(tampering == "altered" ? "altered" : "missing", error.Message);
        Assert.Empty(Directory.GetFileSystemEntries(stores.Temp.Path, "bundle*"));
    }

    [Fact]
    public async Task Bundle_ResolvedFileEditedAfterResolve_IsRefused()
    {
        var (stores, _, resolved) = await ResolvedAsync();
        await using var owned = stores;
        File.AppendAllText(resolved, "# edited\n");

        var error = await Assert.ThrowsAsync<ShipException>(() => stores.Builder().BuildAsync(resolved, stores.Temp.Combine("bundle"), CancellationToken.None));

        Assert.Contains("edited after `lamina resolve`", error.Message);
    }

    [Theory]
    [InlineData("altered", "models/carcinoma_model/head.onnx")]
    [InlineData("missing", "plugins/Normalization.cs")]
    [InlineData("extra", "models/carcinoma_model/notes.txt")]
    public async Task Verify_ChangedBundle_FailsNamingTheFile(string change, string file)
    {
        // Given a bundle that verifies
        var (stores, _, resolved) = await ResolvedAsync();
        await using var owned = stores;
        var target = stores.Temp.Combine("bundle");
        await stores.Builder().BuildAsync(resolved, target, CancellationToken.None);
        Assert.True(BundleVerifier.Inspect(target).Ok);

        // When one file is changed
        var path = Path.Combine(target, file);
        switch (change)
        {
            case "altered": File.AppendAllText(path, "x"); break;
            case "missing": File.Delete(path); break;
            default: File.WriteAllText(path, "x"); break;
        }

        // Then verification fails naming it
        var error = Assert.Throws<BundleException>(() => BundleVerifier.Verify(target));
        Assert.StartsWith($"{path}: ", error.Message);
        Assert.Contains(change == "extra" ? "nobody pinned" : change, error.Message);
    }
}
