using System.Text.Json.Nodes;
using Lamina.Ship.Images;
using Lamina.Tracking;

namespace Lamina.Ship.Tests.Images;

public sealed class ImageBuilderTests
{
    private sealed class RecordingAudit : IBundleAudit
    {
        public List<(string Action, string Subject, string? NewValue)> Entries { get; } = [];

        public Task AppendAsync(string action, string subject, string? oldValue, string? newValue, string? reason, CancellationToken cancellationToken)
        {
            Entries.Add((action, subject, newValue));
            return Task.CompletedTask;
        }

        public Task<AuditAnchor?> HeadAsync(CancellationToken cancellationToken) => Task.FromResult<AuditAnchor?>(null);
    }

    /// <summary>A real bundle (trained, published, resolved and bundled in SQLite and folder stores) and a test base in a layout.</summary>
    private sealed class Fixture : IAsyncDisposable
    {
        private Fixture(ShipStores stores, string bundle, ImageReference baseImage)
        {
            Stores = stores;
            Bundle = bundle;
            Base = baseImage;
        }

        public ShipStores Stores { get; }

        public string Bundle { get; }

        public ImageReference Base { get; }

        public RecordingAudit Audit { get; } = new();

        public List<string> Progress { get; } = [];

        public string Combine(params string[] parts) => Stores.Temp.Combine(parts);

        public static async Task<Fixture> CreateAsync()
        {
            var stores = await ShipStores.CreateAsync();
            var (run, card) = await stores.TrainedAsync();
            await stores.PublishAsync(run, card);
            var analysis = stores.WriteCarcinomaAnalysis(run);
            var resolved = await stores.Resolver().ResolveAsync(analysis, stores.Temp.Combine("release", "resolved.yaml"), CancellationToken.None);
            var bundle = await stores.Builder().BuildAsync(resolved.ResolvedFile, stores.Temp.Combine("bundle"), CancellationToken.None);
            var baseImage = await TestBaseImage.WriteAsync(stores.Temp.Combine("base"));
            return new Fixture(stores, bundle.Directory, baseImage);
        }

        public ImageBuilder Builder() => new(ImageStores.Open, Audit, TimeProvider.System) { Progress = new SynchronousProgress(Progress) };

        public ImageBuildRequest Request(string layout, string tag = "1.0.0", ImageReference? baseImage = null) =>
            new(Bundle, baseImage ?? Base, ImageReference.Parse($"oci:{Combine(layout)}:{tag}"))
            {
                Customer = "hospital-a",
                Source = "https://git.example.org/customers/hospital-a",
                Revision = "0123456789abcdef0123456789abcdef01234567",
            };

        public ValueTask DisposeAsync() => Stores.DisposeAsync();
    }

    private sealed class SynchronousProgress(List<string> lines) : IProgress<string>
    {
        public void Report(string value) => lines.Add(value);
    }

    private static Dictionary<string, byte[]> Files(string folder) =>
        Directory.GetFiles(folder, "*", SearchOption.AllDirectories).ToDictionary(f => Path.GetRelativePath(folder, f), File.ReadAllBytes);

    [Fact]
    public async Task Build_Twice_GivesTheSameManifestDigest_AndTheSameLayoutBytes()
    {
        // Given a bundle and a base
        await using var fixture = await Fixture.CreateAsync();

        // When the image is built twice into two layouts
        var first = await fixture.Builder().BuildAsync(fixture.Request("out1"), CancellationToken.None);
        var second = await fixture.Builder().BuildAsync(fixture.Request("out2"), CancellationToken.None);

        // Then both have the same digest, and the layouts are the same files, byte for byte
        Assert.Equal(first.Manifest.Digest, second.Manifest.Digest);
        Assert.Equal(first.Image.Digest, first.Manifest.Digest);
        var one = Files(fixture.Combine("out1"));
        var two = Files(fixture.Combine("out2"));
        Assert.Equal(one.Keys.Order(), two.Keys.Order());
        Assert.All(one, f => Assert.Equal(f.Value, two[f.Key]));

        // And the manifest is the base's layer, then the bundle's, with the config named by digest
        var manifest = JsonNode.Parse(first.Manifest.Bytes)!;
        var baseManifest = JsonNode.Parse((await new OciLayoutStore(fixture.Combine("base")).GetManifestAsync("", TestBaseImage.Tag, CancellationToken.None)).Bytes)!;
        var layers = manifest["layers"]!.AsArray().Select(l => l!["digest"]!.GetValue<string>()).ToList();
        Assert.Equal([baseManifest["layers"]![0]!["digest"]!.GetValue<string>(), first.BundleLayer.Digest], layers);
        Assert.Equal(first.ConfigDigest, manifest["config"]!["digest"]!.GetValue<string>());
        Assert.Equal(first.BaseDigest, manifest["annotations"]!["org.opencontainers.image.base.digest"]!.GetValue<string>());
        Assert.Equal(OciDigest.FromHex(Sha256Digest.OfFile(Path.Combine(fixture.Bundle, "provenance.json")).Digest.Hex), first.BundleDigest);

        // And the audit trail has the image by digest, its base, bundle and layers
        Assert.Equal(2, fixture.Audit.Entries.Count);
        var (action, subject, newValue) = fixture.Audit.Entries[0];
        Assert.Equal("image.built", action);
        Assert.Equal(first.Image.ToString(), subject);
        Assert.EndsWith("@" + first.Manifest.Digest, subject, StringComparison.Ordinal);
        var record = JsonNode.Parse(newValue!)!;
        Assert.Equal(first.BaseDigest, record["base_digest"]!.GetValue<string>());
        Assert.Equal(first.BundleDigest, record["bundle_digest"]!.GetValue<string>());
        Assert.Equal(layers, record["layers"]!.AsArray().Select(l => l!.GetValue<string>()).ToList());

        // And progress named each blob pushed
        Assert.Contains(fixture.Progress, l => l.StartsWith($"pushed layer {first.BundleLayer.Digest[..19]}", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Build_SkopeoInspect_ShowsTheLabelsAndLayers()
    {
        // Given an image built into a layout
        await using var fixture = await Fixture.CreateAsync();
        var result = await fixture.Builder().BuildAsync(fixture.Request("out"), CancellationToken.None);

        // When skopeo inspects it
        var inspect = JsonNode.Parse(await Tool.RunAsync("skopeo", "inspect", $"oci:{fixture.Combine("out")}:1.0.0"))!;
        var config = JsonNode.Parse(await Tool.RunAsync("skopeo", "inspect", "--raw", "--config", $"oci:{fixture.Combine("out")}:1.0.0"))!;

        // Then it sees the digest, the two layers and the labels
        Assert.Equal(result.Manifest.Digest, inspect["Digest"]!.GetValue<string>());
        Assert.Equal([.. JsonNode.Parse(result.Manifest.Bytes)!["layers"]!.AsArray().Select(l => l!["digest"]!.GetValue<string>())],
            inspect["Layers"]!.AsArray().Select(l => l!.GetValue<string>()).ToList());
        var labels = inspect["Labels"]!;
        Assert.Equal(result.BundleDigest, labels["dev.lamina.bundle.digest"]!.GetValue<string>());
        Assert.Equal("breast", labels["dev.lamina.analysis"]!.GetValue<string>());
        Assert.Equal("hospital-a", labels["dev.lamina.customer"]!.GetValue<string>());
        Assert.Equal("https://git.example.org/customers/hospital-a", labels["org.opencontainers.image.source"]!.GetValue<string>());
        Assert.Equal("0123456789abcdef0123456789abcdef01234567", labels["org.opencontainers.image.revision"]!.GetValue<string>());
        Assert.Equal("1.0.0", labels["org.opencontainers.image.version"]!.GetValue<string>());
        Assert.Equal(result.BaseDigest, labels["org.opencontainers.image.base.digest"]!.GetValue<string>());
        Assert.Equal("oci:base:0.1.0", labels["org.opencontainers.image.base.name"]!.GetValue<string>());
        Assert.Equal("0.1.0", labels["dev.lamina.serve.version"]!.GetValue<string>());
        Assert.Equal("kept", labels["org.example.unknown"]!.GetValue<string>());

        // And the creation time is the bundle's, never the build's
        var provenance = JsonNode.Parse(File.ReadAllText(Path.Combine(fixture.Bundle, "provenance.json")))!;
        var finished = DateTimeOffset.Parse(provenance["predicate"]!["runDetails"]!["metadata"]!["finishedOn"]!.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(OciImageWriter.Time(finished), labels["org.opencontainers.image.created"]!.GetValue<string>());
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(finished.ToUnixTimeSeconds()), inspect["Created"]!.GetValue<DateTimeOffset>());

        // And the config keeps the base's unknown fields, has the entry point and no command, and one history entry per layer
        Assert.Equal("kept too", config["x-unknown-field"]!.GetValue<string>());
        Assert.Equal(["/opt/lamina-serve/lamina-serve", "--bundle", "/opt/lamina/bundle"], config["config"]!["Entrypoint"]!.AsArray().Select(a => a!.GetValue<string>()));
        Assert.Null(config["config"]!["Cmd"]);
        Assert.Equal(2, config["history"]!.AsArray().Count);
        Assert.Equal(result.BundleLayer.Digest, inspect["Layers"]![1]!.GetValue<string>());
        Assert.Equal(2, config["rootfs"]!["diff_ids"]!.AsArray().Count);
    }

    [Fact]
    public async Task Build_UmociUnpack_HasTheBundleFilesAndTheEntryPoint()
    {
        // Given an image built into a layout
        await using var fixture = await Fixture.CreateAsync();
        await fixture.Builder().BuildAsync(fixture.Request("out"), CancellationToken.None);

        // When umoci unpacks it
        var unpacked = fixture.Combine("unpacked");
        string[] rootless = Environment.IsPrivilegedProcess ? [] : ["--rootless"];
        await Tool.RunAsync("umoci", ["unpack", .. rootless, "--image", $"{fixture.Combine("out")}:1.0.0", unpacked]);

        // Then every file of the bundle is at /opt/lamina/bundle with its content, beside the base's files
        var rootfs = Path.Combine(unpacked, "rootfs");
        foreach (var file in Directory.GetFiles(fixture.Bundle, "*", SearchOption.AllDirectories))
        {
            var inImage = Path.Combine(rootfs, "opt", "lamina", "bundle", Path.GetRelativePath(fixture.Bundle, file));
            Assert.True(File.Exists(inImage), $"{inImage} is missing");
            Assert.Equal(await File.ReadAllBytesAsync(file), await File.ReadAllBytesAsync(inImage));
        }
        Assert.True(File.Exists(Path.Combine(rootfs, "opt", "lamina-serve", "lamina-serve")));
        Assert.Equal("ID=lamina-test\n", await File.ReadAllTextAsync(Path.Combine(rootfs, "etc", "os-release")));
        Assert.Equal("usr/bin", new FileInfo(Path.Combine(rootfs, "bin")).LinkTarget);

        // And the bundle verifies where it was unpacked
        Assert.True(BundleVerifier.Inspect(Path.Combine(rootfs, "opt", "lamina", "bundle")).Ok);

        // And the runtime config starts lamina-serve on the bundle
        var runtime = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(unpacked, "config.json")))!;
        Assert.Equal(["/opt/lamina-serve/lamina-serve", "--bundle", "/opt/lamina/bundle"], runtime["process"]!["args"]!.AsArray().Select(a => a!.GetValue<string>()));
    }

    [Fact]
    public async Task Build_IntoALayoutHoldingTheBase_SendsOnlyTheBundleLayerAndTheConfig()
    {
        // Given a base in the layout the image goes to
        await using var fixture = await Fixture.CreateAsync();
        var baseLayer = (await ImageCopier.ResolveAsync(new OciLayoutStore(fixture.Combine("base")), fixture.Base, CancellationToken.None)).Layers.Single();

        // When the image is built into the base's own layout, and then into a new one
        var request = fixture.Request("base") with { Target = ImageReference.Parse($"oci:{fixture.Combine("base")}:customer") };
        var shared = await fixture.Builder().BuildAsync(request, CancellationToken.None);
        var fresh = await fixture.Builder().BuildAsync(fixture.Request("fresh"), CancellationToken.None);

        // Then the base's layer was reused there and sent to the new layout
        Assert.Equal(baseLayer.Size, shared.BytesReused);
        Assert.Equal(shared.BundleLayer.Size + ConfigSize(fixture.Combine("base"), shared.ConfigDigest), shared.BytesSent);
        Assert.Equal(fresh.BundleLayer.Size + ConfigSize(fixture.Combine("fresh"), fresh.ConfigDigest) + baseLayer.Size, fresh.BytesSent);
        Assert.Equal(shared.BundleLayer, fresh.BundleLayer);
        Assert.Equal(0, fresh.BytesReused);
        Assert.Contains(fixture.Progress, l => l.StartsWith($"reused layer {baseLayer.Digest[..19]}", StringComparison.Ordinal));
        Assert.Equal(["0.1.0", "customer"], new OciLayoutStore(fixture.Combine("base")).Tags());
    }

    private static long ConfigSize(string layout, string digest) => new FileInfo(new OciLayoutStore(layout).BlobPath(digest)).Length;

    [Fact]
    public async Task Build_OnAnIndex_UsesItsLinuxAmd64Image()
    {
        // Given a base layout whose tag names an index of an arm64 and an amd64 image
        await using var fixture = await Fixture.CreateAsync();
        var store = new OciLayoutStore(fixture.Combine("base"));
        var amd64 = await store.GetManifestAsync("", TestBaseImage.Tag, CancellationToken.None);
        var arm64Base = await TestBaseImage.WriteAsync(fixture.Combine("base"), "arm64", new Dictionary<string, string> { ["dev.lamina.serve.version"] = "0.1.0" });
        var arm64 = await store.GetManifestAsync("", "arm64", CancellationToken.None);
        var index = new JsonObject
        {
            ["schemaVersion"] = 2,
            ["mediaType"] = OciMediaTypes.ImageIndex,
            ["manifests"] = new JsonArray(
                Entry(arm64, "arm64"),
                Entry(amd64, "amd64")),
        };
        await store.PutManifestAsync("", new RawManifest(OciMediaTypes.ImageIndex, OciImageWriter.Serialize(index)), "multi", CancellationToken.None);

        // When an image is built on the index
        var result = await fixture.Builder().BuildAsync(fixture.Request("out", baseImage: ImageReference.Parse($"oci:{fixture.Combine("base")}:multi")), CancellationToken.None);

        // Then its base is the amd64 image
        Assert.Equal(amd64.Digest, result.BaseDigest);
        Assert.NotNull(arm64Base);

        static JsonObject Entry(RawManifest manifest, string architecture) => new()
        {
            ["mediaType"] = manifest.MediaType,
            ["digest"] = manifest.Digest,
            ["size"] = manifest.Bytes.Length,
            ["platform"] = new JsonObject { ["architecture"] = architecture, ["os"] = "linux" },
        };
    }

    [Fact]
    public async Task Build_OnABaseWithoutLaminaServe_IsRefused_AndWritesNothing()
    {
        // Given a base without the lamina-serve labels
        await using var fixture = await Fixture.CreateAsync();
        var plain = await TestBaseImage.WriteAsync(fixture.Combine("plain"), labels: new Dictionary<string, string> { ["org.example"] = "x" });

        // When an image is built on it
        var error = await Assert.ThrowsAsync<ImageException>(() => fixture.Builder().BuildAsync(fixture.Request("out", baseImage: plain), CancellationToken.None));

        // Then the build is refused, saying what is missing and how to make a base, and the target is untouched
        Assert.Contains($"base {plain}", error.Message, StringComparison.Ordinal);
        Assert.Contains("has no lamina-serve (no label dev.lamina.serve.version): build it with lamina image base", error.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(fixture.Combine("out")));
        Assert.Empty(fixture.Audit.Entries);
    }

    [Fact]
    public async Task Build_OnABaseOfAnotherLaminaVersion_IsRefused_NamingBothVersions()
    {
        // Given a base carrying lamina-serve 9.3.0
        await using var fixture = await Fixture.CreateAsync();
        var other = await TestBaseImage.WriteAsync(fixture.Combine("other"), labels: new Dictionary<string, string>
        {
            [ImageBuilder.ServeVersionLabel] = "9.3.0",
            [ImageBuilder.ServePathLabel] = ImageBuilder.ServePath,
        });

        // When an image is built on it from a bundle of this Lamina
        var error = await Assert.ThrowsAsync<ImageException>(() => fixture.Builder().BuildAsync(fixture.Request("out", baseImage: other), CancellationToken.None));

        // Then both versions are named
        var bundleVersion = JsonNode.Parse(File.ReadAllText(Path.Combine(fixture.Bundle, "provenance.json")))!["predicate"]!["runDetails"]!["builder"]!["version"]!["lamina"]!.GetValue<string>();
        Assert.Contains("lamina-serve 9.3.0", error.Message, StringComparison.Ordinal);
        Assert.Contains($"Lamina {bundleVersion}", error.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(fixture.Combine("out")));
    }

    [Fact]
    public async Task Build_FromAnAlteredBundle_IsRefused_NamingTheFile()
    {
        // Given a bundle whose plug-in source was edited after bundling
        await using var fixture = await Fixture.CreateAsync();
        var plugin = Path.Combine(fixture.Bundle, "plugins", "Normalization.cs");
        await File.AppendAllTextAsync(plugin, "// edited\n");

        // When an image is built from it
        var error = await Assert.ThrowsAsync<BundleException>(() => fixture.Builder().BuildAsync(fixture.Request("out"), CancellationToken.None));

        // Then the file is named and nothing is written
        Assert.Contains(plugin, error.Message, StringComparison.Ordinal);
        Assert.Contains("altered", error.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(fixture.Combine("out")));
    }

    [Fact]
    public async Task Build_WithAnExplicitCreationTime_UsesIt_AndAnotherTimeGivesAnotherDigest()
    {
        // Given a bundle and a base
        await using var fixture = await Fixture.CreateAsync();
        var created = new DateTimeOffset(2026, 5, 6, 7, 8, 9, TimeSpan.Zero);

        // When it is built at one time twice, and at another once
        var first = await fixture.Builder().BuildAsync(fixture.Request("a") with { Created = created.AddMilliseconds(300) }, CancellationToken.None);
        var same = await fixture.Builder().BuildAsync(fixture.Request("b") with { Created = created }, CancellationToken.None);
        var later = await fixture.Builder().BuildAsync(fixture.Request("c") with { Created = created.AddSeconds(1) }, CancellationToken.None);

        // Then the time is recorded in whole seconds, the same time gives the same image, another time another one
        Assert.Equal(created, first.Created);
        Assert.Equal("2026-05-06T07:08:09Z", JsonNode.Parse(first.Manifest.Bytes)!["annotations"]!["org.opencontainers.image.created"]!.GetValue<string>());
        Assert.Equal(first.Manifest.Digest, same.Manifest.Digest);
        Assert.NotEqual(first.Manifest.Digest, later.Manifest.Digest);
        Assert.NotEqual(first.BundleLayer.Digest, later.BundleLayer.Digest);
    }

    [Fact]
    public async Task Build_OnABaseWhoseLayerWasAltered_FailsNamingTheDigest_AndTagsNothing()
    {
        // Given a base whose layer file was altered in its layout
        await using var fixture = await Fixture.CreateAsync();
        var baseStore = new OciLayoutStore(fixture.Combine("base"));
        var layer = (await ImageCopier.ResolveAsync(baseStore, fixture.Base, CancellationToken.None)).Layers.Single();
        await File.AppendAllTextAsync(baseStore.BlobPath(layer.Digest), "tampered");

        // When an image is built on it into a new layout
        var error = await Assert.ThrowsAnyAsync<ImageException>(() => fixture.Builder().BuildAsync(fixture.Request("out"), CancellationToken.None));

        // Then the altered blob is named, and the new layout names no image and holds no copy of it
        Assert.Contains(layer.Digest, error.Message, StringComparison.Ordinal);
        Assert.Empty(new OciLayoutStore(fixture.Combine("out")).Tags());
        Assert.False(File.Exists(new OciLayoutStore(fixture.Combine("out")).BlobPath(layer.Digest)));
        Assert.Empty(fixture.Audit.Entries);
    }

    [Fact]
    public async Task Archive_Twice_GivesTheSameBytes_AndSkopeoCopiesItIntoALayout()
    {
        // Given a built image
        await using var fixture = await Fixture.CreateAsync();
        var result = await fixture.Builder().BuildAsync(fixture.Request("out"), CancellationToken.None);
        var store = new OciLayoutStore(fixture.Combine("out"));
        var created = DateTimeOffset.Parse(JsonNode.Parse(result.Manifest.Bytes)!["annotations"]!["org.opencontainers.image.created"]!.GetValue<string>(),
            System.Globalization.CultureInfo.InvariantCulture);

        // When it is written as an archive twice
        await OciArchive.WriteAsync(store, "", result.Manifest, "1.0.0", fixture.Combine("one.tar"), created, CancellationToken.None);
        await OciArchive.WriteAsync(store, "", result.Manifest, "1.0.0", fixture.Combine("two.tar"), created, CancellationToken.None);

        // Then both are the same bytes
        Assert.Equal(await File.ReadAllBytesAsync(fixture.Combine("one.tar")), await File.ReadAllBytesAsync(fixture.Combine("two.tar")));

        // And skopeo reads it, and copies it into a layout with the same manifest digest
        var inspect = JsonNode.Parse(await Tool.RunAsync("skopeo", "inspect", $"oci-archive:{fixture.Combine("one.tar")}"))!;
        Assert.Equal(result.Manifest.Digest, inspect["Digest"]!.GetValue<string>());
        await Tool.RunAsync("skopeo", "copy", "--preserve-digests", $"oci-archive:{fixture.Combine("one.tar")}", $"oci:{fixture.Combine("copied")}:1.0.0");
        var copied = await new OciLayoutStore(fixture.Combine("copied")).GetManifestAsync("", "1.0.0", CancellationToken.None);
        Assert.Equal(result.Manifest.Digest, copied.Digest);

        // And Lamina reads it back into a layout
        var extracted = await OciArchive.ExtractAsync(fixture.Combine("one.tar"), fixture.Combine("extracted"), CancellationToken.None);
        var image = await ImageCopier.ResolveAsync(extracted, ImageReference.Parse($"oci:{fixture.Combine("extracted")}:1.0.0"), CancellationToken.None);
        Assert.Equal(result.Manifest.Digest, image.Manifest.Digest);
    }
}
