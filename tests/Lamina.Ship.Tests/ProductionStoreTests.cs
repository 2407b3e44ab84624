using System.Text.Json;
using Lamina.Core;

namespace Lamina.Ship.Tests;

public sealed class ProductionStoreTests
{
    private static (ProductionStore Store, Guid Run, string Folder) Published(TemporaryDirectory temp)
    {
        var store = new ProductionStore(temp.Combine("production"));
        var run = Guid.NewGuid();
        var folder = store.FolderOf(run, "carcinoma_model");
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "head.onnx"), "weights");
        File.WriteAllText(Path.Combine(folder, "model.json"), "{}");
        var files = new[] { "model.json", "head.onnx" }.Select(n =>
        {
            var (sha, size) = ProductionStore.Digest(Path.Combine(folder, n));
            return new PublishedFile(n, sha, size);
        }).ToList();
        var manifest = new PublishedManifest { Run = run, Model = "carcinoma_model", PublishedAt = DateTimeOffset.UnixEpoch, PublishedBy = "test", Files = files };
        File.WriteAllText(Path.Combine(folder, ProductionStore.ManifestFile), JsonSerializer.Serialize(manifest, ProductionStore.JsonOptions));
        return (store, run, folder);
    }

    [Fact]
    public void Verify_AnUntouchedModel_Passes_AndListsIt()
    {
        using var temp = new TemporaryDirectory();
        var (store, run, folder) = Published(temp);

        ProductionStore.Verify(folder, ProductionStore.ReadManifest(Path.Combine(folder, ProductionStore.ManifestFile)));

        Assert.Equal([(run, "carcinoma_model")], store.List());
        Assert.True(store.Contains(run, "carcinoma_model"));
    }

    [Theory]
    [InlineData("altered")]
    [InlineData("missing")]
    [InlineData("extra")]
    public void Verify_ATamperedModel_FailsNamingTheFile(string tampering)
    {
        using var temp = new TemporaryDirectory();
        var (_, _, folder) = Published(temp);
        var head = Path.Combine(folder, "head.onnx");
        var named = tampering switch
        {
            "altered" => Do(() => File.WriteAllText(head, "weightz"), head),
            "missing" => Do(() => File.Delete(head), head),
            _ => Do(() => File.WriteAllText(Path.Combine(folder, "notes.txt"), "x"), Path.Combine(folder, "notes.txt")),
        };

        var error = Assert.Throws<LaminaException>(() => ProductionStore.Verify(folder, ProductionStore.ReadManifest(Path.Combine(folder, ProductionStore.ManifestFile))));

        Assert.StartsWith(named, error.Message);
    }

    private static string Do(Action action, string path)
    {
        action();
        return path;
    }
}
