using System.Security.Cryptography;
using System.Text;
using Lamina.Core;
using Lamina.Core.Inference;
using Lamina.Tracking;

namespace Lamina.Ship.Tests.Contracts;

/// <summary>
/// What every production store backend must do, through <see cref="IProductionStore"/> alone. A backend's test class
/// derives from this and supplies the store, and a way to tamper with a published file behind the store's back.
/// </summary>
public abstract class ProductionStoreContract
{
    private static readonly DateTimeOffset PublishedAt = new(2025, 6, 2, 8, 5, 0, TimeSpan.Zero);

    /// <summary>How a published file is tampered with.</summary>
    public enum Tampering
    {
        Altered,
        Missing,
        Extra,
    }

    /// <summary>The store under test, empty at a test's start; every call within one test opens the same store again.</summary>
    protected abstract IProductionStore OpenStore();

    /// <summary>Changes the bytes of a published file, removes it, or adds a file of that name, behind the store's back.</summary>
    protected abstract Task TamperAsync(Guid run, string model, string file, Tampering tampering);

    private sealed record Package(PublishedManifest Manifest, IReadOnlyDictionary<string, byte[]> Files)
    {
        public PublishedFileSource Source => (file, _) => Task.FromResult<Stream>(new MemoryStream(Files[file.Name], writable: false));
    }

    private static Package MakePackage(Guid run, string model = "tumour", string? reason = "validated on cohort B")
    {
        var head = Encoding.UTF8.GetBytes($"weights of {model} in {run}");
        var card = new ModelCard
        {
            Name = model,
            Kind = "trained",
            Input = new InputSpec(224, 0.5, null, 0, 3),
            Classes = ["normal", "tumour"],
            Network = ModelPackages.Describe("head.onnx", head),
            TrainingRun = run,
        }.ToJson();
        (string Name, byte[] Bytes)[] files = [(ModelPackage.CardFile, card), ("head.onnx", head)];
        var manifest = new PublishedManifest
        {
            Run = run,
            Model = model,
            PublishedAt = PublishedAt,
            PublishedBy = "ada@gpu-01",
            Reason = reason,
            Files = [.. files.Select(f => new PublishedFile(f.Name, Convert.ToHexStringLower(SHA256.HashData(f.Bytes)), f.Bytes.LongLength))],
        };
        return new Package(manifest, files.ToDictionary(f => f.Name, f => f.Bytes));
    }

    private static async Task<byte[]> ReadAsync(IProductionStore store, Guid run, string model, string file)
    {
        await using var stream = await store.OpenFileAsync(run, model, file, CancellationToken.None);
        using var copy = new MemoryStream();
        await stream.CopyToAsync(copy);
        return copy.ToArray();
    }

    private static void AssertSameManifest(PublishedManifest expected, PublishedManifest actual)
    {
        Assert.Equal((expected.Format, expected.Run, expected.Model, expected.PublishedAt, expected.PublishedBy, expected.Reason),
            (actual.Format, actual.Run, actual.Model, actual.PublishedAt, actual.PublishedBy, actual.Reason));
        Assert.Equal(expected.Files, actual.Files);
    }

    private async Task AssertNothingPublishedAsync(Guid run, string model)
    {
        var store = OpenStore();
        Assert.False(await store.ContainsAsync(run, model, CancellationToken.None));
        Assert.Empty(await store.ListAsync(CancellationToken.None));
        await Assert.ThrowsAsync<PublishedFileNotFoundException>(() => store.OpenFileAsync(run, model, ModelPackage.CardFile, CancellationToken.None));
    }

    [Fact]
    public async Task Publish_ThenOpen_GivesTheManifestTheCardAndEveryFileAsGiven_AndItVerifies()
    {
        var run = Guid.NewGuid();
        var package = MakePackage(run);

        var published = await OpenStore().PublishAsync(package.Manifest, package.Source, CancellationToken.None);

        var store = OpenStore();
        var opened = await store.OpenAsync(run, "tumour", CancellationToken.None);
        AssertSameManifest(package.Manifest, published.Manifest);
        AssertSameManifest(package.Manifest, opened.Manifest);
        Assert.Equal(published.ManifestSha256, opened.ManifestSha256);
        Assert.Matches("^[0-9a-f]{64}$", opened.ManifestSha256);
        Assert.Equal(("tumour", run), (opened.Card.Name, opened.Card.TrainingRun));
        Assert.Equal(package.Manifest.CardSha256, opened.Manifest.CardSha256);
        foreach (var (name, bytes) in package.Files)
        {
            Assert.Equal(bytes, await ReadAsync(store, run, "tumour", name));
        }
        Assert.True(await store.ContainsAsync(run, "tumour", CancellationToken.None));
        var verification = await store.VerifyAsync(run, "tumour", CancellationToken.None);
        Assert.True(verification.Ok);
        Assert.Empty(verification.Problems);
    }

    [Fact]
    public async Task List_GivesEveryPublishedModelByRunThenName_AndContainsOnlyThose()
    {
        var store = OpenStore();
        var (early, late) = (new Guid("10000000-0000-4000-8000-000000000000"), new Guid("20000000-0000-4000-8000-000000000000"));
        foreach (var (run, model) in new[] { (late, "tumour"), (early, "tumour"), (early, "stroma") })
        {
            var package = MakePackage(run, model);
            await store.PublishAsync(package.Manifest, package.Source, CancellationToken.None);
        }

        Assert.Equal([(early, "stroma"), (early, "tumour"), (late, "tumour")], await OpenStore().ListAsync(CancellationToken.None));
        Assert.True(await store.ContainsAsync(early, "stroma", CancellationToken.None));
        Assert.False(await store.ContainsAsync(late, "stroma", CancellationToken.None));
        Assert.False(await store.ContainsAsync(Guid.NewGuid(), "tumour", CancellationToken.None));
    }

    [Fact]
    public async Task Publish_AFileThatDiffersFromTheManifest_PublishesNothing_NamingTheFile()
    {
        var run = Guid.NewGuid();
        var package = MakePackage(run);
        var altered = package with { Files = new Dictionary<string, byte[]>(package.Files) { ["head.onnx"] = "other weights"u8.ToArray() } };

        var error = await Assert.ThrowsAnyAsync<ProductionStoreException>(() => OpenStore().PublishAsync(altered.Manifest, altered.Source, CancellationToken.None));

        Assert.Contains("head.onnx", error.Message);
        await AssertNothingPublishedAsync(run, "tumour");
    }

    [Fact]
    public async Task Publish_WhenReadingAFileFailsMidway_PublishesNothing_AndALaterPublishSucceeds()
    {
        var run = Guid.NewGuid();
        var package = MakePackage(run);
        PublishedFileSource failing = (file, token) => file.Name == "head.onnx" ? throw new IOException("disk gone") : package.Source(file, token);

        await Assert.ThrowsAsync<IOException>(() => OpenStore().PublishAsync(package.Manifest, failing, CancellationToken.None));

        await AssertNothingPublishedAsync(run, "tumour");
        await OpenStore().PublishAsync(package.Manifest, package.Source, CancellationToken.None);
        Assert.True((await OpenStore().VerifyAsync(run, "tumour", CancellationToken.None)).Ok);
    }

    [Fact]
    public async Task Publish_Cancelled_PublishesNothing()
    {
        var run = Guid.NewGuid();
        var package = MakePackage(run);
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => OpenStore().PublishAsync(package.Manifest, package.Source, cancelled.Token));

        await AssertNothingPublishedAsync(run, "tumour");
    }

    [Fact]
    public async Task Publish_Twice_IsRefused_AndTheFirstCopyStaysAsItWas()
    {
        var run = Guid.NewGuid();
        var first = MakePackage(run);
        var store = OpenStore();
        var published = await store.PublishAsync(first.Manifest, first.Source, CancellationToken.None);
        var second = MakePackage(run, reason: "again");

        var error = await Assert.ThrowsAnyAsync<ProductionStoreException>(() => OpenStore().PublishAsync(second.Manifest, second.Source, CancellationToken.None));

        Assert.Contains("already", error.Message);
        var opened = await store.OpenAsync(run, "tumour", CancellationToken.None);
        Assert.Equal(("validated on cohort B", published.ManifestSha256), (opened.Manifest.Reason, opened.ManifestSha256));
        Assert.Equal([(run, "tumour")], await store.ListAsync(CancellationToken.None));
    }

    [Theory]
    [InlineData(Tampering.Altered, "head.onnx")]
    [InlineData(Tampering.Missing, "head.onnx")]
    [InlineData(Tampering.Altered, ModelPackage.CardFile)]
    [InlineData(Tampering.Extra, "notes.txt")]
    public async Task VerifyAndOpen_ATamperedModel_NameTheFile(Tampering tampering, string file)
    {
        var run = Guid.NewGuid();
        var package = MakePackage(run);
        var store = OpenStore();
        await store.PublishAsync(package.Manifest, package.Source, CancellationToken.None);
        await TamperAsync(run, "tumour", file, tampering);

        var verification = await store.VerifyAsync(run, "tumour", CancellationToken.None);
        var error = await Assert.ThrowsAnyAsync<ProductionStoreException>(() => store.OpenAsync(run, "tumour", CancellationToken.None));

        Assert.False(verification.Ok);
        var problem = Assert.Single(verification.Problems);
        var state = tampering switch { Tampering.Altered => DigestState.Altered, Tampering.Missing => DigestState.Missing, _ => DigestState.Extra };
        Assert.Equal((file, state), (problem.File, problem.State));
        Assert.Contains(file, problem.Message);
        Assert.Contains(file, error.Message);
    }

    [Fact]
    public async Task Verify_SeveralTamperedFiles_NamesEveryOne()
    {
        var run = Guid.NewGuid();
        var package = MakePackage(run);
        var store = OpenStore();
        await store.PublishAsync(package.Manifest, package.Source, CancellationToken.None);
        await TamperAsync(run, "tumour", "head.onnx", Tampering.Missing);
        await TamperAsync(run, "tumour", "notes.txt", Tampering.Extra);

        var verification = await store.VerifyAsync(run, "tumour", CancellationToken.None);

        Assert.Equal([("head.onnx", DigestState.Missing), ("notes.txt", DigestState.Extra)], verification.Problems.Select(p => (p.File, p.State)));
    }

    [Fact]
    public async Task OpenOrVerify_AModelNotPublished_SaysSoNamingIt()
    {
        var store = OpenStore();
        var run = Guid.NewGuid();

        var open = await Assert.ThrowsAnyAsync<ProductionStoreException>(() => store.OpenAsync(run, "tumour", CancellationToken.None));
        var verify = await Assert.ThrowsAnyAsync<ProductionStoreException>(() => store.VerifyAsync(run, "tumour", CancellationToken.None));

        Assert.Equal(open.Message, verify.Message);
        Assert.Contains($"model 'tumour' of run {run} is not in the production store", open.Message);
        await Assert.ThrowsAsync<PublishedFileNotFoundException>(() => store.OpenFileAsync(run, "tumour", "head.onnx", CancellationToken.None));
    }

    [Fact]
    public async Task OpenFile_AFileThatIsNotInTheModel_IsNotFound_NamingWhereItWasLookedFor()
    {
        var run = Guid.NewGuid();
        var package = MakePackage(run);
        var store = OpenStore();
        await store.PublishAsync(package.Manifest, package.Source, CancellationToken.None);

        var error = await Assert.ThrowsAsync<PublishedFileNotFoundException>(() => store.OpenFileAsync(run, "tumour", "tail.onnx", CancellationToken.None));

        Assert.Equal(store.Describe(run, "tumour", "tail.onnx"), error.Location);
        Assert.Contains("tail.onnx", error.Location);
        Assert.Contains(run.ToString(), store.Describe(run, "tumour"));
    }

    [Theory]
    [InlineData("../escape.onnx")]
    [InlineData("sub/head.onnx")]
    [InlineData(ProductionStore.ManifestFile)]
    [InlineData(ModelPackage.CardFile)]
    public async Task Publish_AManifestNamingAFileThatCannotBePublished_IsRefused(string name)
    {
        var run = Guid.NewGuid();
        var package = MakePackage(run);
        var manifest = package.Manifest with { Files = [.. package.Manifest.Files, new PublishedFile(name, new string('0', 64), 1)] };

        var error = await Assert.ThrowsAnyAsync<ProductionStoreException>(() => OpenStore().PublishAsync(manifest, package.Source, CancellationToken.None));

        Assert.Contains(name, error.Message);
        await AssertNothingPublishedAsync(run, "tumour");
    }

    [Fact]
    public async Task Publish_AManifestWithoutACard_IsRefused()
    {
        var run = Guid.NewGuid();
        var package = MakePackage(run);
        var manifest = package.Manifest with { Files = [.. package.Manifest.Files.Where(f => f.Name != ModelPackage.CardFile)] };

        var error = await Assert.ThrowsAnyAsync<ProductionStoreException>(() => OpenStore().PublishAsync(manifest, package.Source, CancellationToken.None));

        Assert.Contains(ModelPackage.CardFile, error.Message);
        await AssertNothingPublishedAsync(run, "tumour");
    }
}
