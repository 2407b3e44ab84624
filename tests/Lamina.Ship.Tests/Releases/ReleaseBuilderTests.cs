using System.Text.Json.Nodes;
using Lamina.Core.Config;
using Lamina.Ship.Images;
using Lamina.Ship.Releases;
using Lamina.Ship.Signing;
using Lamina.Ship.Tests.Images;
using Lamina.Tracking;

namespace Lamina.Ship.Tests.Releases;

public sealed class ReleaseBuilderTests
{
    private static ReleaseBuilder Builder(ShipStores stores) => new(stores.Store, stores.Blobs, stores.Production,
        new OciReleaseImaging(new TrackingStoreAudit(stores.Store), TimeProvider.System),
        new CosignReleaseSigning(), TimeProvider.System, "release@test");

    private static async Task<(ShipStores Stores, string Customer, ImageReference Base)> PublishedCustomerAsync(bool publish = true)
    {
        var stores = await ShipStores.CreateAsync();
        var (run, card) = await stores.TrainedAsync();
        if (publish) await stores.PublishAsync(run, card);
        var customer = await CustomerRepository.CreateAsync(stores.Temp.Combine("customers", "hospital-a"), "hospital-a", run,
            remote: "https://ci:hunter2@git.example.org/customers/hospital-a.git");
        var baseImage = await TestBaseImage.WriteAsync(stores.Temp.Combine("base"));
        return (stores, customer, baseImage);
    }

    [Fact]
    public async Task Release_IntoAnOciLayoutTwice_GivesTheSameImageDigest_ByteIdenticalBundles_AndOneRecord()
    {
        // Given a customer repository whose analysis uses a published model, and a lamina-serve base in a layout
        var (stores, customer, baseImage) = await PublishedCustomerAsync();
        await using var owned = stores;
        using var key = SigningKey.Generate();
        var (privateKey, publicKey) = key.WritePair(stores.Temp.Combine("keys"), "release", password: null);

        // When it is released twice, into two layouts, from two work folders
        var first = await Builder(stores).ReleaseAsync(new ReleaseRequest(customer)
        {
            Base = baseImage, OciLayout = stores.Temp.Combine("out-1"), WorkDirectory = stores.Temp.Combine("work-1"), KeyPath = privateKey,
        }, CancellationToken.None);
        var second = await Builder(stores).ReleaseAsync(new ReleaseRequest(customer)
        {
            Base = baseImage, OciLayout = stores.Temp.Combine("out-2"), WorkDirectory = stores.Temp.Combine("work-2"), KeyPath = privateKey,
        }, CancellationToken.None);

        // Then both give the same image digest, the version from git describe, and the second is the first record
        Assert.Equal(first.Image.ImageDigest, second.Image.ImageDigest);
        Assert.Equal("1.0.0", first.Record.Version);
        Assert.False(first.AlreadyRecorded);
        Assert.True(second.AlreadyRecorded);
        Assert.Equal(first.Record.Id, second.Record.Id);

        // And the two bundles are the same bytes, file for file
        Assert.Equal(Files(first.BundleDirectory), Files(second.BundleDirectory));
        var provenance = JsonNode.Parse(File.ReadAllText(Path.Combine(first.BundleDirectory, BundleProvenance.FileName)))!;
        Assert.Null(BundleProvenance.AuditAnchorOf(provenance));
        Assert.Equal("2026-05-06T07:08:09.000Z", provenance["predicate"]!["runDetails"]!["metadata"]!["startedOn"]!.GetValue<string>());

        // And the layout holds the image under the version, its manifest what the record says
        var layout = new OciLayoutStore(stores.Temp.Combine("out-1"));
        var manifest = await layout.GetManifestAsync("", "1.0.0", CancellationToken.None);
        Assert.Equal(first.Record.ImageDigest, manifest.Digest);
        Assert.Equal(first.Image.BundleDigest, first.Record.BundleDigest);

        // And the record names the customer commit, the redacted remote, the base, the model and the signatures
        var head = await CustomerRepository.GitAsync(customer, "rev-parse", "HEAD");
        var record = Assert.Single(await stores.Store.ListReleasesAsync("hospital-a", CancellationToken.None));
        Assert.Equal(head, record.CustomerCommit);
        Assert.DoesNotContain("hunter2", record.CustomerRemote);
        Assert.Equal("registry.example.org/customers/hospital-a:1.0.0", record.Image);
        Assert.Equal(first.Image.BaseDigest, record.BaseDigest);
        Assert.Equal("carcinoma_model", Assert.Single(record.Models).Model);
        Assert.Equal(key.KeyId, record.SigningKeyId);
        Assert.NotNull(record.AuditAnchor);
        Assert.Equal(record.SignatureDigest, (await layout.GetManifestAsync("", SimpleSigning.SignatureTag(record.ImageDigest), CancellationToken.None)).Digest);
        Assert.Equal(record.AttestationDigest, (await layout.GetManifestAsync("", SimpleSigning.AttestationTag(record.ImageDigest), CancellationToken.None)).Digest);
        Assert.True(File.Exists(SigstoreBundles.FileFor(first.BundleDirectory)));
        using var verifier = SigningKey.LoadPublicKey(publicKey);
        SigstoreBundles.VerifyBundleFolder(first.BundleDirectory, verifier);

        // And the audit trail has the release, once
        Assert.Single(await stores.Store.ListAuditAsync("release/hospital-a/1.0.0", CancellationToken.None));
    }

    [Fact]
    public async Task Release_OfTheSameCommitClonedElsewhere_GivesTheSameImageDigest()
    {
        // Given the customer repository and a clone of it in another folder (as two CI runners check it out)
        var (stores, customer, baseImage) = await PublishedCustomerAsync();
        await using var owned = stores;
        var clone = stores.Temp.Combine("elsewhere", "checkout", "hospital-a");
        Directory.CreateDirectory(Path.GetDirectoryName(clone)!);
        await CustomerRepository.GitAsync(Path.GetDirectoryName(clone)!, "clone", "-q", customer, clone);
        await CustomerRepository.GitAsync(clone, "remote", "set-url", "origin", "https://ci:hunter2@git.example.org/customers/hospital-a.git");

        // When both are released as the same version
        var first = await Builder(stores).ReleaseAsync(new ReleaseRequest(customer) { Base = baseImage, OciLayout = stores.Temp.Combine("out-1"), WorkDirectory = stores.Temp.Combine("work-1") }, CancellationToken.None);
        var second = await Builder(stores).ReleaseAsync(new ReleaseRequest(clone) { Base = baseImage, OciLayout = stores.Temp.Combine("out-2") }, CancellationToken.None);

        // Then the lock names the analysis file relative to the repository, and the image is the same, byte for byte
        Assert.Equal(first.Image.ImageDigest, second.Image.ImageDigest);
        Assert.True(second.AlreadyRecorded);
        Assert.Equal("analysis.yaml", LockFile.Read(Path.Combine(first.BundleDirectory, LockFile.FileName)).AnalysisFile);
    }

    [Fact]
    public async Task Release_Pushed_GoesToTheCustomersRegistry_OnTheBaseOfItsVersionThere_WithItsSignatures()
    {
        // Given a registry holding lamina-serve:0.1.0, and a customer whose image repository is in that registry
        await using var registry = await RegistryServer.StartAsync();
        await using var stores = await ShipStores.CreateAsync();
        var (run, card) = await stores.TrainedAsync();
        await stores.PublishAsync(run, card);
        var layoutBase = await TestBaseImage.WriteAsync(stores.Temp.Combine("base"));
        var registryBase = ImageReference.Parse($"{registry.Address}/lamina-serve:{TestBaseImage.Tag}");
        await ImageCopier.CopyAsync(ImageStores.Open(layoutBase), layoutBase, ImageStores.Open(registryBase), registryBase, null, CancellationToken.None);
        var customer = await CustomerRepository.CreateAsync(stores.Temp.Combine("customers", "hospital-a"), "hospital-a", run,
            image: $"{registry.Address}/customers/hospital-a");
        using var key = SigningKey.Generate();
        var (privateKey, _) = key.WritePair(stores.Temp.Combine("keys"), "release", password: null);

        // When it is released with --push
        var released = await Builder(stores).ReleaseAsync(new ReleaseRequest(customer) { Push = true, KeyPath = privateKey }, CancellationToken.None);

        // Then the registry holds IMAGE:VERSION, its signature and attestation, as recorded, on the registry's base
        var client = ImageStores.Open(ImageReference.Parse($"{registry.Address}/customers/hospital-a:1.0.0"));
        Assert.Equal(released.Record.ImageDigest, (await client.GetManifestAsync("customers/hospital-a", "1.0.0", CancellationToken.None)).Digest);
        Assert.Equal(released.Record.SignatureDigest, (await client.GetManifestAsync("customers/hospital-a", SimpleSigning.SignatureTag(released.Record.ImageDigest), CancellationToken.None)).Digest);
        Assert.Equal(released.Record.AttestationDigest, (await client.GetManifestAsync("customers/hospital-a", SimpleSigning.AttestationTag(released.Record.ImageDigest), CancellationToken.None)).Digest);
        Assert.Equal($"{registry.Address}/customers/hospital-a:1.0.0", released.Record.Image);
        Assert.StartsWith($"{registry.Address}/lamina-serve:{TestBaseImage.Tag}", released.Record.BaseImage);
        Assert.Equal((await ImageCopier.ResolveAsync(ImageStores.Open(layoutBase), layoutBase, CancellationToken.None)).Manifest.Digest, released.Record.BaseDigest);
    }

    [Fact]
    public async Task Release_WithAnUnpublishedModel_IsRefusedNamingTheModelAndRun_AndNothingIsRecordedOrStored()
    {
        // Given a customer whose model was trained but never published
        var (stores, customer, baseImage) = await PublishedCustomerAsync(publish: false);
        await using var owned = stores;
        var output = stores.Temp.Combine("out");

        // When it is released
        var error = await Assert.ThrowsAsync<ConfigValidationException>(() => Builder(stores).ReleaseAsync(new ReleaseRequest(customer)
        {
            Base = baseImage, OciLayout = output,
        }, CancellationToken.None));

        // Then the refusal names the model and its run, at the analysis file's line
        var run = (await stores.Store.ListModelsAsync(CancellationToken.None)).Single().RunId;
        Assert.Contains($"model 'carcinoma_model' of run {run} is not published", error.Message);
        Assert.Contains(Path.Combine(customer, "analysis.yaml"), error.Message);

        // And no release is recorded, nothing is in the audit trail about it, and no image was stored
        Assert.Empty(await stores.Store.ListReleasesAsync(null, CancellationToken.None));
        Assert.Empty(await stores.Store.ListAuditAsync("release/", CancellationToken.None));
        Assert.False(Directory.Exists(output));
    }

    [Fact]
    public async Task Release_OfADirtyWorkTree_IsRefusedNamingTheChangedFiles_UnlessAllowed()
    {
        // Given a customer repository with an uncommitted change
        var (stores, customer, baseImage) = await PublishedCustomerAsync();
        await using var owned = stores;
        await File.AppendAllTextAsync(Path.Combine(customer, "analysis.yaml"), "\n# edited\n");

        // When it is released, then refused naming the file
        var error = await Assert.ThrowsAsync<ShipException>(() => Builder(stores).ReleaseAsync(new ReleaseRequest(customer)
        {
            Base = baseImage, OciLayout = stores.Temp.Combine("out"), Version = "1.0.1",
        }, CancellationToken.None));
        Assert.Contains("uncommitted changes (analysis.yaml)", error.Message);
        Assert.Contains("--allow-dirty", error.Message);
        Assert.Empty(await stores.Store.ListReleasesAsync(null, CancellationToken.None));

        // And with --allow-dirty it is released
        var released = await Builder(stores).ReleaseAsync(new ReleaseRequest(customer)
        {
            Base = baseImage, OciLayout = stores.Temp.Combine("out"), Version = "1.0.1", AllowDirty = true,
        }, CancellationToken.None);
        Assert.Equal("1.0.1", released.Record.Version);
    }

    [Fact]
    public async Task Release_OfAnotherImageUnderAReleasedVersion_IsRefused_AndTheFirstRecordStays()
    {
        // Given a released customer
        var (stores, customer, baseImage) = await PublishedCustomerAsync();
        await using var owned = stores;
        var first = await Builder(stores).ReleaseAsync(new ReleaseRequest(customer) { Base = baseImage, OciLayout = stores.Temp.Combine("out") }, CancellationToken.None);

        // When the analysis changes and the same version is released again
        await File.AppendAllTextAsync(Path.Combine(customer, "analysis.yaml"), "\n# a comment changes the bundle\n");
        await CustomerRepository.CommitAsync(customer, "edit");
        var error = await Assert.ThrowsAsync<ReleaseConflictException>(() => Builder(stores).ReleaseAsync(new ReleaseRequest(customer)
        {
            Base = baseImage, OciLayout = stores.Temp.Combine("out-2"), Version = "1.0.0",
        }, CancellationToken.None));

        // Then it is refused, naming the version and the image digest it was released as
        Assert.Contains("hospital-a 1.0.0", error.Message);
        Assert.Contains(first.Record.ImageDigest, error.Message);
        Assert.True(Assert.Single(await stores.Store.ListReleasesAsync(null, CancellationToken.None)).SameAs(first.Record));
    }

    [Fact]
    public async Task Release_OfAFolderThatIsNoGitWorkTree_IsRefused()
    {
        await using var stores = await ShipStores.CreateAsync();
        var folder = stores.Temp.Combine("not-git");
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, CustomerFile.FileName), "customer: x\nimage: customers/x\nbase: \"0.1\"\nanalysis: analysis.yaml\n");
        File.WriteAllText(Path.Combine(folder, "analysis.yaml"), "version: 1\n");

        var error = await Assert.ThrowsAsync<ShipException>(() => Builder(stores).ReleaseAsync(new ReleaseRequest(folder) { OciLayout = stores.Temp.Combine("out") }, CancellationToken.None));

        Assert.Contains("is not a git work tree", error.Message);
    }

    private static List<(string Name, string Sha256)> Files(string folder) =>
        [.. Directory.GetFiles(folder, "*", SearchOption.AllDirectories)
            .Select(p => (Path.GetRelativePath(folder, p), Sha256Digest.OfFile(p).Digest.Hex))
            .OrderBy(f => f.Item1, StringComparer.Ordinal)];
}
