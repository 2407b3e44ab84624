// Publishes a model package from a folder (its files and manifest.json) to an S3 production store, for the test that
// kills a publish at random moments. Usage: Lamina.Ship.S3Publisher <s3://bucket/prefix> <package folder>
// The endpoint and credentials come from the environment (LAMINA_S3_ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY).
using System.Text.Json;
using Lamina.Core;
using Lamina.Ship;
using Lamina.Tracking;

if (args.Length != 2)
{
    Console.Error.WriteLine("usage: Lamina.Ship.S3Publisher <s3://bucket/prefix> <package folder>");
    return 2;
}

var (uri, package) = (args[0], args[1]);
var manifest = JsonSerializer.Deserialize<PublishedManifest>(await File.ReadAllBytesAsync(Path.Combine(package, ProductionStore.ManifestFile)), LaminaJson.IndentedOmittingNulls)!;
using var store = new S3ProductionStore(S3Location.Parse(uri));
Console.WriteLine("publishing");
var published = await store.PublishAsync(manifest, (file, _) => Task.FromResult<Stream>(File.OpenRead(Path.Combine(package, file.Name))), CancellationToken.None);
Console.WriteLine($"published {published.ManifestSha256}");
return 0;
