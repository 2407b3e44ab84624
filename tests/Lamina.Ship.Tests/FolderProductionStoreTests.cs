using System.Text;
using Lamina.Core.Inference;
using Lamina.Tracking;

namespace Lamina.Ship.Tests;

/// <summary>The on-disk layout of <see cref="FolderProductionStore"/>; what every production store does is in <c>ProductionStoreContract</c>.</summary>
public sealed class FolderProductionStoreTests : IDisposable
{
    private readonly TemporaryDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    private FolderProductionStore Store => new(_temp.Combine("production"));

    // A model folder as Lamina has always written it: the files, and manifest.json in snake_case.
    private (Guid Run, string Folder, string ManifestText) WriteByHand()
    {
        var run = Guid.NewGuid();
        var folder = Path.Combine(_temp.Combine("production"), run.ToString(), "carcinoma_model");
        Directory.CreateDirectory(folder);
        var head = Encoding.UTF8.GetBytes("weights");
        var card = new ModelCard
        {
            Name = "carcinoma_model",
            Kind = "trained",
            Input = new InputSpec(224, 0.5, null, 0, 3),
            Classes = ["other", "carcinoma"],
            Network = ModelPackages.Describe("head.onnx", head),
        }.ToJson();
        File.WriteAllBytes(Path.Combine(folder, "head.onnx"), head);
        File.WriteAllBytes(Path.Combine(folder, "model.json"), card);
        var (cardSha, cardSize) = Sha256Digest.OfFile(Path.Combine(folder, "model.json"));
        var (headSha, headSize) = Sha256Digest.OfFile(Path.Combine(folder, "head.onnx"));
        var manifest = $$"""
            {
              "format": "lamina.published/1",
              "run": "{{run}}",
              "model": "carcinoma_model",
              "published_at": "2025-06-02T08:05:00+00:00",
              "published_by": "ada@gpu-01",
              "reason": "validated",
              "files": [
                { "name": "model.json", "sha256": "{{cardSha}}", "size": {{cardSize}} },
                { "name": "head.onnx", "sha256": "{{headSha}}", "size": {{headSize}} }
              ]
            }
            """;
        File.WriteAllText(Path.Combine(folder, ProductionStore.ManifestFile), manifest);
        return (run, folder, manifest);
    }

    [Fact]
    public async Task AModelFolderWrittenByEarlierLamina_IsListedOpenedAndVerified()
    {
        var (run, folder, manifestText) = WriteByHand();

        var opened = await Store.OpenAsync(run, "carcinoma_model", CancellationToken.None);

        Assert.Equal([(run, "carcinoma_model")], await Store.ListAsync(CancellationToken.None));
        Assert.Equal(folder, opened.Location);
        Assert.Equal(["model.json", "head.onnx"], opened.Manifest.Files.Select(f => f.Name));
        Assert.Equal(("ada@gpu-01", "validated"), (opened.Manifest.PublishedBy, opened.Manifest.Reason));
        Assert.Equal(Sha256Digest.OfFile(Path.Combine(folder, ProductionStore.ManifestFile)).Digest.Hex, opened.ManifestSha256);
        Assert.Equal(manifestText, File.ReadAllText(Path.Combine(folder, ProductionStore.ManifestFile)));
    }

    [Fact]
    public async Task Publish_WritesRunModelFolder_WithTheFilesAndASnakeCaseManifest_WhoseDigestIsReported()
    {
        var (run, folder, _) = WriteByHand();
        var files = Directory.GetFiles(folder).ToDictionary(f => Path.GetFileName(f), f => File.ReadAllBytes(f));
        var manifest = (await Store.OpenAsync(run, "carcinoma_model", CancellationToken.None)).Manifest with { Run = Guid.NewGuid(), Reason = null };

        var published = await Store.PublishAsync(manifest, (file, _) => Task.FromResult<Stream>(new MemoryStream(files[file.Name])), CancellationToken.None);

        var target = Path.Combine(_temp.Combine("production"), manifest.Run.ToString(), "carcinoma_model");
        Assert.Equal(target, published.Location);
        Assert.Equal(["head.onnx", "manifest.json", "model.json"], Directory.GetFiles(target).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        var text = File.ReadAllText(Path.Combine(target, ProductionStore.ManifestFile));
        Assert.Contains("\"published_by\": \"ada@gpu-01\"", text);
        Assert.DoesNotContain("reason", text);
        Assert.Equal(Sha256Digest.OfFile(Path.Combine(target, ProductionStore.ManifestFile)).Digest.Hex, published.ManifestSha256);
        Assert.Empty(Directory.GetDirectories(Path.GetDirectoryName(target)!, ".*"));
    }

    [Fact]
    public async Task ATemporaryFolderLeftByACrashedPublish_IsIgnoredByReaders_AndRemovedByTheNextPublishOfThatModel()
    {
        // Given a publish that died after writing its temporary folder, before the rename
        var (run, folder, _) = WriteByHand();
        var files = Directory.GetFiles(folder).ToDictionary(f => Path.GetFileName(f), f => File.ReadAllBytes(f));
        var manifest = (await Store.OpenAsync(run, "carcinoma_model", CancellationToken.None)).Manifest with { Run = Guid.NewGuid() };
        var runFolder = Path.Combine(_temp.Combine("production"), manifest.Run.ToString());
        var stale = Path.Combine(runFolder, ".carcinoma_model.tmp-0123456789abcdef0123456789abcdef");
        Directory.CreateDirectory(stale);
        File.WriteAllText(Path.Combine(stale, "head.onnx"), "half written");
        File.Copy(Path.Combine(folder, ProductionStore.ManifestFile), Path.Combine(stale, ProductionStore.ManifestFile));

        // Then readers do not see it
        Assert.False(await Store.ContainsAsync(manifest.Run, "carcinoma_model", CancellationToken.None));
        Assert.Equal([(run, "carcinoma_model")], await Store.ListAsync(CancellationToken.None));

        // When the model is published, then the stale folder is gone and the model is whole
        await Store.PublishAsync(manifest, (file, _) => Task.FromResult<Stream>(new MemoryStream(files[file.Name])), CancellationToken.None);
        Assert.False(Directory.Exists(stale));
        Assert.Equal(["carcinoma_model"], Directory.GetDirectories(runFolder).Select(Path.GetFileName));
        Assert.True((await Store.VerifyAsync(manifest.Run, "carcinoma_model", CancellationToken.None)).Ok);
    }

    [Fact]
    public void Resolve_UsesLaminaProductionWhenSet_ElseTheHomeFolder()
    {
        var home = _temp.Combine("home");
        var before = Environment.GetEnvironmentVariable(ProductionStore.EnvironmentVariable);
        try
        {
            Environment.SetEnvironmentVariable(ProductionStore.EnvironmentVariable, null);
            Assert.Equal(Path.Combine(home, "production"), ProductionStore.Resolve(home).Location);
            Environment.SetEnvironmentVariable(ProductionStore.EnvironmentVariable, _temp.Combine("elsewhere"));
            Assert.Equal(_temp.Combine("elsewhere"), ProductionStore.Resolve(home).Location);
        }
        finally
        {
            Environment.SetEnvironmentVariable(ProductionStore.EnvironmentVariable, before);
        }
    }
}
