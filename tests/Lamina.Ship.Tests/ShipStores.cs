using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Lamina.Core.Inference;
using Lamina.Tracking;
using Microsoft.Data.Sqlite;

namespace Lamina.Ship.Tests;

/// <summary>A real SQLite tracking store, file blob store and production store folder, with helpers to make trained and published models.</summary>
internal sealed class ShipStores : IAsyncDisposable
{
    public const string NormalizationSource = """
        using Lamina.Core.Inference;
        using Lamina.Core.Plugins;

        public sealed class Normalization(double factor) : IPreprocessing
        {
            public ImageTensor Apply(ImageTensor image) => image.Map(v => (float)(v / factor));
        }
        """;

    private ShipStores(TemporaryDirectory temp, SqliteTrackingStore store)
    {
        Temp = temp;
        Store = store;
        Blobs = new FileBlobStore(temp.Combine("home", "blobs"));
        Production = new FolderProductionStore(temp.Combine("production"));
    }

    public TemporaryDirectory Temp { get; }

    public SqliteTrackingStore Store { get; }

    public FileBlobStore Blobs { get; }

    public FolderProductionStore Production { get; }

    public static async Task<ShipStores> CreateAsync()
    {
        var temp = new TemporaryDirectory();
        Directory.CreateDirectory(temp.Combine("home", "blobs"));
        var store = await SqliteTrackingStore.OpenAsync(temp.Combine("home", "tracking.db"), TimeProvider.System, CancellationToken.None);
        return new ShipStores(temp, store);
    }

    /// <summary>A completed training run with one model (fake ONNX bytes: nothing here runs them) and the Normalization plug-in source.</summary>
    /// <param name="backboneData">External-data files of the backbone, stored from files on disk as a large one is.</param>
    /// <param name="parent">The model this one was fine-tuned from: named in its card, and its run's lineage edge.</param>
    public async Task<(Guid Run, ModelCard Card)> TrainedAsync(string model = "carcinoma_model", Guid? id = null, string? datasetId = null,
        IReadOnlyList<string>? backboneData = null, ModelParent? parent = null)
    {
        var (sourceDigest, _) = await Blobs.PutAsync(new MemoryStream(Encoding.UTF8.GetBytes(NormalizationSource)), CancellationToken.None);
        var (diffDigest, diffSize) = await Blobs.PutAsync(new MemoryStream("diff --git a/x b/x\n"u8.ToArray()), CancellationToken.None);
        var git = new GitInfo("/repo", "git@example.org:lab/exp.git", "main", "0123456789abcdef0123456789abcdef01234567", true, diffDigest, diffSize);
        var environment = new EnvironmentInfo("Linux", "x64", "cpu", 2, 1L << 30, null, ".NET 10", "0.1.0", new Dictionary<string, string>());
        var record = await Store.CreateRunAsync(new NewRun("NormalizationTest", "simple_train", "training", [], null, "ada", "host", "lamina.yaml", "{}",
            git, environment, [new SourceFileDigest("Normalization.cs", sourceDigest)]), CancellationToken.None);
        var run = record.Id;
        if (id is { } wanted)
        {
            await using var connection = new SqliteConnection($"Data Source={Store.DatabasePath};Pooling=false");
            await connection.OpenAsync();
            await using var command = connection.CreateCommand();
            command.CommandText = "PRAGMA foreign_keys = OFF; UPDATE runs SET id = $new WHERE id = $old; UPDATE run_git SET run_id = $new WHERE run_id = $old; UPDATE run_plugin_sources SET run_id = $new WHERE run_id = $old;";
            command.Parameters.AddWithValue("$new", wanted.ToString());
            command.Parameters.AddWithValue("$old", run.ToString());
            await command.ExecuteNonQueryAsync();
            run = wanted;
        }
        if (datasetId is not null)
        {
            await Store.RegisterDatasetAsync(new DatasetRecord(datasetId, "tiles", DateTimeOffset.UnixEpoch, run, 1, 10, "{}"), CancellationToken.None);
            await Store.RecordRunInputsAsync(run, [new RunDataset(datasetId, "input")], [], CancellationToken.None);
        }
        var backbone = Encoding.UTF8.GetBytes($"backbone of {model}");
        var head = Encoding.UTF8.GetBytes($"head of {model} in {run}");
        var card = new ModelCard
        {
            Name = model,
            Kind = "trained",
            Input = new InputSpec(224, 0.5, null, 0, 3),
            Preprocessing = [new CardPlugin("Normalization", new JsonObject { ["factor"] = 255.0 })],
            Postprocessing = [new CardPlugin("Threshold", new JsonObject { ["threshold"] = 0.5, ["label"] = "tumour" })],
            Classes = ["Other", "Carcinoma"],
            Backbone = new BackboneReference("resnet18", 512, ModelPackages.Describe("backbone.onnx", backbone),
                DataFiles: backboneData?.Select(path => ModelPackages.Describe(Path.GetFileName(path), File.ReadAllBytes(path))).ToList()),
            Network = ModelPackages.Describe("head.onnx", head),
            TrainingRun = run,
            Parent = parent,
        };
        if (parent is not null)
        {
            // A fine-tuned model (init_from): its run's lineage edge to the parent, as the training task records it.
            await Store.RecordRunModelAsync(run, new RunModel(parent.Run, parent.Model, parent.CardSha256, "parent"), CancellationToken.None);
        }
        await ModelPackages.StoreAsync(Store, Blobs, run, card,
            new Dictionary<string, byte[]> { ["backbone.onnx"] = backbone, ["head.onnx"] = head }, CancellationToken.None,
            backboneData?.ToDictionary(path => Path.GetFileName(path), path => path));
        await Store.FinishRunAsync(run, RunStatus.Completed, null, CancellationToken.None);
        return (run, card);
    }

    /// <summary>Publishes the model as <c>lamina publish</c> does: copied into the production store and marked in the tracking store.</summary>
    public async Task PublishAsync(Guid run, ModelCard card) =>
        await new ModelPublisher(Store, Blobs, Production, TimeProvider.System)
            .PublishAsync(new PublishRequest(run.ToString(), card.Name, "test", "test"), CancellationToken.None);

    public string WriteAnalysis(string text, string name = "analysis.yaml")
    {
        var path = Temp.Combine("customer", name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
        return path;
    }

    /// <summary>Writes the short analysis file of one feature, Carcinoma, on the carcinoma model of <paramref name="run"/>.</summary>
    public string WriteCarcinomaAnalysis(Guid run) => WriteAnalysis(CarcinomaAnalysis((run, "breast", "carcinoma_model")));

    /// <summary>A short analysis file: per analysis, one feature, Carcinoma, on the carcinoma model of its run under the given model name.</summary>
    public static string CarcinomaAnalysis(params (Guid Run, string Analysis, string Model)[] analyses) =>
        "version: 1\nanalyses:\n" + string.Concat(analyses.Select(a => $"""
              - name: {a.Analysis}
                models:
                  {a.Model}:
                    sourcing: auto
                    reference: {a.Run}
                features:
                  - cls: Carcinoma
                    models:
                      classification_model: {a.Model}

            """));

    public AnalysisResolver Resolver() => new(Store, Blobs, Production);

    public BundleBuilder Builder(IBundleAudit? audit = null) => new(Production, Blobs, Store, audit ?? NoAudit.Instance, TimeProvider.System);

    public LineageTracer Tracer() => new(Store, Blobs, Production);

    public async ValueTask DisposeAsync()
    {
        await Store.DisposeAsync();
        SqliteConnection.ClearAllPools();
        Temp.Dispose();
    }
}
