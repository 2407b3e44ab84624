using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Lamina.Core.Inference;
using Lamina.Ship;
using Lamina.Tracking;

namespace Lamina.Cli.Tests;

public sealed class ShipCommandTests
{
    [Fact]
    public async Task ResolveBundleVerify_OnAPublishedModel_BuildsABundleThatVerifies_AndVerifyCatchesAnAlteredFile()
    {
        // Given a store with a trained run whose model is in the production store (fake ONNX bytes: nothing runs them), published with `lamina publish`
        using var temp = new TemporaryDirectory();
        var home = new LaminaHome(temp.Combine("home")).EnsureCreated();
        var run = await StoreTrainedModelAsync(home);
        var work = temp.Combine("customer");
        Directory.CreateDirectory(work);
        File.WriteAllText(Path.Combine(work, "analysis.yaml"), $"""
            version: 1
            analyses:
              - name: breast
                models:
                  carcinoma_model:
                    sourcing: auto
                    reference: {run.ToString()[..8]}
                features:
                  - cls: Carcinoma
                    models:
                      classification_model: carcinoma_model
            """, Encoding.UTF8);
        var lamina = new LaminaProcess(home.Root);
        var publish = await lamina.RunAsync(work, "publish", run.ToString()[..8], "--reason", "release 1");
        Assert.True(publish.ExitCode == 0, publish.ToString());

        // When it is resolved, bundled and verified
        var resolve = await lamina.RunAsync(work, "resolve", "analysis.yaml", "-o", "release/resolved.yaml");
        var bundle = await lamina.RunAsync(work, "bundle", "release/resolved.yaml", "-o", "bundle");
        var verify = await lamina.RunAsync(work, "verify", "bundle");

        // Then each succeeds, and the bundle holds the verbose file and the model
        Assert.True(resolve.ExitCode == 0, resolve.ToString());
        Assert.True(bundle.ExitCode == 0, bundle.ToString());
        Assert.True(verify.ExitCode == 0, verify.ToString());
        Assert.Contains("reference: models/carcinoma_model/", File.ReadAllText(Path.Combine(work, "bundle", "analysis.yaml")));
        Assert.Contains("1 models", verify.Stdout);
        // the models' fetch from the production store was shown as it went, on standard error (not a terminal here)
        Assert.Contains("(100%)", bundle.Stderr);
        Assert.Contains("fetched ", bundle.Stderr);

        // And the audit trail holds the publication and the bundle, its chain intact
        var audit = await lamina.RunAsync(work, "audit", "log", "--json");
        Assert.Contains("model.published", audit.Stdout);
        Assert.Contains("bundle.built", audit.Stdout);
        Assert.Equal(0, (await lamina.RunAsync(work, "audit", "verify")).ExitCode);

        // And the bundle names the trail's head it was built on, which still holds
        var provenance = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(work, "bundle", "provenance.json")))!;
        var anchor = provenance["predicate"]!["runDetails"]!["byproducts"]![0]!["annotations"]!["anchor"]!.GetValue<string>();
        Assert.Matches("^3:[0-9a-f]{64}$", anchor); // run created, finished, model published
        Assert.Contains(anchor, bundle.Stdout.Replace("\n", "", StringComparison.Ordinal));
        Assert.Equal(0, (await lamina.RunAsync(work, "audit", "verify", "--expect", anchor)).ExitCode);

        // And an altered model file makes verify fail naming it
        var altered = Path.Combine(work, "bundle", "models", "carcinoma_model", "head.onnx");
        File.AppendAllText(altered, "!");
        var again = await lamina.RunAsync(work, "verify", "bundle");
        Assert.Equal(ExitCodes.Integrity, again.ExitCode);
        Assert.Contains($"{altered}: sha256", again.Stderr);
    }

    /// <summary>Stores a completed training run whose model is a card and fake head bytes (nothing runs them).</summary>
    internal static async Task<Guid> StoreTrainedModelAsync(LaminaHome home)
    {
        await using var store = await SqliteTrackingStore.OpenAsync(home.DatabasePath, TimeProvider.System, CancellationToken.None);
        var blobs = new FileBlobStore(home.BlobsPath);
        var environment = new EnvironmentInfo("Linux", "x64", "cpu", 2, 1L << 30, null, ".NET 10", "0.1.0", new Dictionary<string, string>());
        var run = (await store.CreateRunAsync(new NewRun("Demo", "train", "training", [], null, "ada", "host", "lamina.yaml", "{}", null, environment, []),
            CancellationToken.None)).Id;
        var head = "head weights"u8.ToArray();
        var card = new ModelCard
        {
            Name = "carcinoma_model",
            Kind = "trained",
            Input = new InputSpec(224, 0.5, null, 0, 3),
            Preprocessing = [new CardPlugin("Normalization", new JsonObject { ["factor"] = 255.0 })],
            Classes = ["Other", "Carcinoma"],
            Network = ModelPackages.Describe("head.onnx", head),
        };
        await ModelPackages.StoreAsync(store, blobs, run, card, new Dictionary<string, byte[]> { ["head.onnx"] = head }, CancellationToken.None);
        await store.FinishRunAsync(run, RunStatus.Completed, null, CancellationToken.None);
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        return run;
    }
}
