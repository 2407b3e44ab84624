using System.Text.Json;
using Lamina.Core;
using Lamina.Core.Inference;
using Lamina.Lab.Tasks;
using Lamina.Tracking;
using Microsoft.ML.OnnxRuntime;

namespace Lamina.Lab.Models;

/// <summary>How to describe an external ONNX classifier when importing it.</summary>
/// <param name="Name">The model's name.</param>
/// <param name="Classes">Class labels, in the order of the network's outputs.</param>
/// <param name="TileSize">Tile side the network takes; read from the graph when it is fixed there.</param>
/// <param name="MicronsPerPixel">Scale of its tiles.</param>
/// <param name="Project">Project the import run is filed under.</param>
public sealed record ImportOptions(string Name, IReadOnlyList<string> Classes, int? TileSize, double? MicronsPerPixel, string Project = "imported");

/// <summary>
/// Turns a whole network trained elsewhere (ONNX: N×3×H×W in, N×classes out) into a model package with a card, kept
/// with an <c>import</c> run, so it can be tested, published and shipped like a trained one.
/// </summary>
public sealed class ModelImporter(ITrackingStore store, IBlobStore blobs, TimeProvider? time = null)
{
    // An import takes seconds and renews nothing; on this host its process's end is seen at once anyway.
    private static readonly TimeSpan ImportLease = TimeSpan.FromMinutes(10);

    public async Task<StoredModel> ImportAsync(string onnxPath, ImportOptions options, CancellationToken cancellationToken)
    {
        var path = Path.GetFullPath(onnxPath);
        if (!File.Exists(path))
        {
            throw LabException.NoSuchFile(path);
        }
        if (options.Classes.Count == 0)
        {
            throw LabException.ImportNeedsClasses();
        }
        var bytes = await File.ReadAllBytesAsync(path, cancellationToken);
        var tileSize = Inspect(path, bytes, options);
        var network = ModelPackages.Describe("network.onnx", bytes);
        var card = new ModelCard
        {
            Name = options.Name,
            Kind = "imported",
            Input = new InputSpec(tileSize, options.MicronsPerPixel, options.MicronsPerPixel is null ? 0 : null, 0, 3),
            Classes = options.Classes,
            Network = network,
        };

        var configuration = JsonSerializer.Serialize(new { source = path, sha256 = network.Sha256, name = options.Name, classes = options.Classes, tile_size = tileSize, mpp = options.MicronsPerPixel }, LaminaJson.Options);
        var run = await store.CreateRunAsync(new NewRun(options.Project, "import", "import", ["import"], $"import of {Path.GetFileName(path)}",
            Environment.UserName, Environment.MachineName, path, configuration, null,
            EnvironmentCapture.Capture(TaskRunner.BuiltInAssemblies), [], RunStatus.Queued), cancellationToken);

        // Started with a lease as every run is, so an import whose process dies midway is marked failed, not left running.
        await store.StartRunAsync(run.Id, RunExecutor.ThisProcess, new RunLease(RunOwners.ThisProcess, (time ?? TimeProvider.System).GetUtcNow() + ImportLease),
            CancellationToken.None);
        try
        {
            var digest = await ModelPackages.StoreAsync(store, blobs, run.Id, card, new Dictionary<string, byte[]> { ["network.onnx"] = bytes }, cancellationToken);
            await store.FinishRunAsync(run.Id, RunStatus.Completed, null, CancellationToken.None);
            var record = (await store.ListModelsAsync(cancellationToken)).Single(m => m.RunId == run.Id && m.CardDigest == digest);
            return new StoredModel(record, card);
        }
        catch (Exception e)
        {
            await store.FinishRunAsync(run.Id, RunStatus.Failed, Tasks.ErrorText.Of(e), CancellationToken.None);
            throw;
        }
    }

    // Opens the network with ONNX Runtime and checks it is an image classifier with as many outputs as classes.
    private static int Inspect(string path, byte[] bytes, ImportOptions options)
    {
        InferenceSession session;
        try
        {
            session = new InferenceSession(bytes);
        }
        catch (OnnxRuntimeException e)
        {
            throw LabException.NotImportable(path, $"is not an ONNX model ONNX Runtime can load: {e.Message}", e);
        }
        using (session)
        {
            if (session.InputMetadata.Count != 1 || session.OutputMetadata.Count < 1)
            {
                throw LabException.NotImportable(path, $"an imported classifier has one input and at least one output; it has {session.InputMetadata.Count} and {session.OutputMetadata.Count}");
            }
            var input = session.InputMetadata.Single().Value.Dimensions;
            if (input.Length != 4 || (input[1] > 0 && input[1] != 3))
            {
                throw LabException.NotImportable(path, $"the input must be N×3×H×W images, not {string.Join("×", input)}");
            }
            var output = session.OutputMetadata.First().Value.Dimensions;
            if (output.Length < 2 || (output[^1] > 0 && output[^1] != options.Classes.Count))
            {
                throw LabException.NotImportable(path, $"the output has {string.Join("×", output)} values, but {options.Classes.Count} classes were given");
            }
            var graphSize = input[2] > 0 ? input[2] : (int?)null;
            return (options.TileSize, graphSize) switch
            {
                ({ } given, { } fixedSize) when given != fixedSize =>
                    throw LabException.NotImportable(path, $"the network takes {fixedSize}-pixel tiles, not {given}"),
                ({ } given, _) => given,
                (null, { } fixedSize) => fixedSize,
                _ => throw LabException.NotImportable(path, "the input size is not fixed in the graph: give --tile-size"),
            };
        }
    }
}
