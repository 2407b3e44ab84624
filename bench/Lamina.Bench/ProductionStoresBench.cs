using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using Lamina.Core.Inference;
using Lamina.Core.Provenance;
using Lamina.Ship;
using Lamina.Tracking;

namespace Lamina.Bench;

/// <summary>
/// Production store benchmark: publishing a model package and fetching it as a bundle does (every file opened and read
/// whole, hashed), to and from an S3 store against a folder store, same package, interleaved rounds, best of each.
/// Usage: Lamina.Bench stores-s3 &lt;s3://bucket/prefix&gt; &lt;folder&gt; [--size-mb 100] [--rounds 3]
/// (LAMINA_S3_ENDPOINT and the AWS variables name the server and credentials).
/// </summary>
internal static class ProductionStoresBench
{
    public static async Task<int> RunAsync(string[] args)
    {
        if (args.Length < 3)
        {
            Console.Error.WriteLine("usage: Lamina.Bench stores-s3 <s3://bucket/prefix> <folder> [--size-mb 100] [--rounds 3]");
            return 2;
        }
        string? Option(string name) => Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length ? args[i + 1] : null;
        var sizeMb = int.Parse(Option("--size-mb") ?? "100", CultureInfo.InvariantCulture);
        var rounds = int.Parse(Option("--rounds") ?? "3", CultureInfo.InvariantCulture);
        using var s3 = new S3ProductionStore(S3Location.Parse(args[1]));
        var folder = new FolderProductionStore(args[2]);

        // A package like a trained model's: a large backbone, a small head, the card.
        var backbone = RandomNumberGenerator.GetBytes((sizeMb << 20) - (1 << 20));
        var head = RandomNumberGenerator.GetBytes(1 << 20);
        var best = new Dictionary<string, double>();
        void Keep(string name, double seconds) => best[name] = Math.Min(best.GetValueOrDefault(name, double.MaxValue), seconds);
        for (var round = 0; round < rounds; round++)
        {
            foreach (var (name, store) in new (string, IProductionStore)[] { ("folder", folder), ("s3", s3) })
            {
                var (manifest, files) = Package(Guid.NewGuid(), backbone, head);
                var watch = Stopwatch.StartNew();
                await store.PublishAsync(manifest, (file, _) => Task.FromResult<Stream>(new MemoryStream(files[file.Name], writable: false)), CancellationToken.None);
                Keep($"{name}-publish", watch.Elapsed.TotalSeconds);

                watch.Restart();
                foreach (var file in manifest.Files)
                {
                    await using var stream = await store.OpenFileAsync(manifest.Run, manifest.Model, file.Name, CancellationToken.None);
                    var (digest, size) = await Sha256Digest.CopyAsync(stream, Stream.Null, CancellationToken.None);
                    if (digest.Hex != file.Sha256 || size != file.Size) throw new InvalidOperationException($"{name}: {file.Name} read back differs");
                }
                Keep($"{name}-fetch", watch.Elapsed.TotalSeconds);
            }
        }
        foreach (var (name, seconds) in best)
        {
            Console.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object> { ["name"] = name, ["seconds"] = seconds, ["mb_per_s"] = sizeMb / seconds }));
        }
        return 0;
    }

    private static (PublishedManifest Manifest, Dictionary<string, byte[]> Files) Package(Guid run, byte[] backbone, byte[] head)
    {
        var card = new ModelCard
        {
            Name = "bench",
            Kind = "trained",
            Input = new InputSpec(224, 0.5, null, 0, 3),
            Classes = ["normal", "tumour"],
            Network = ModelPackages.Describe("head.onnx", head),
            TrainingRun = run,
        }.ToJson();
        var files = new Dictionary<string, byte[]> { [ModelPackage.CardFile] = card, ["backbone.onnx"] = backbone, ["head.onnx"] = head };
        var manifest = new PublishedManifest
        {
            Run = run,
            Model = "bench",
            PublishedAt = DateTimeOffset.UnixEpoch,
            PublishedBy = "bench",
            Files = [.. files.Select(f => new PublishedFile(f.Key, Sha256Digest.Of(f.Value).Hex, f.Value.LongLength))],
        };
        return (manifest, files);
    }
}
