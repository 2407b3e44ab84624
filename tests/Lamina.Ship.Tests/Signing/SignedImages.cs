using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Lamina.Ship.Images;
using Lamina.Ship.Signing;

namespace Lamina.Ship.Tests.Signing;

/// <summary>A small image built by hand in an OCI layout (a config with the bundle label, three layers), a key, and its signatures.</summary>
internal sealed class SignedImages : IDisposable
{
    public const string Tag = "1.0.0";
    public const string DockerReference = "registry.example/customers/hospital-a";

    private SignedImages(TemporaryDirectory temp, OciLayoutStore store, RawManifest manifest, IReadOnlyList<OciDescriptor> layers, SigningKey key, string bundleSha256)
    {
        Temp = temp;
        Store = store;
        Manifest = manifest;
        Layers = layers;
        Key = key;
        BundleSha256 = bundleSha256;
    }

    public TemporaryDirectory Temp { get; }

    public OciLayoutStore Store { get; }

    public RawManifest Manifest { get; }

    public IReadOnlyList<OciDescriptor> Layers { get; }

    public SigningKey Key { get; }

    /// <summary>The bundle digest (hex) the image's label and the provenance record.</summary>
    public string BundleSha256 { get; }

    public ImageReference Reference => ImageReference.Parse($"oci:{Store.Directory}:{Tag}");

    /// <summary>The key's public part alone, as a verifier holds it.</summary>
    public ECDsa PublicKey()
    {
        var key = ECDsa.Create();
        key.ImportFromPem(Key.PublicKeyPem);
        return key;
    }

    /// <summary>An unsigned image: config, three layers, manifest tagged <see cref="Tag"/>; <paramref name="labelBundle"/> overrides the bundle label.</summary>
    public static async Task<SignedImages> UnsignedAsync(string? labelBundle = null)
    {
        var temp = new TemporaryDirectory();
        var store = new OciLayoutStore(temp.Combine("layout"));
        var bundleSha256 = Convert.ToHexStringLower(SHA256.HashData("the bundle's provenance.json"u8));
        var layers = new List<OciDescriptor>();
        for (var i = 1; i <= 3; i++)
        {
            var bytes = Encoding.UTF8.GetBytes($"layer {i}: {new string((char)('a' + i), 1000 * i)}");
            layers.Add(await PushAsync(store, OciMediaTypes.LayerTarGzip, bytes));
        }
        var config = await PushAsync(store, OciMediaTypes.ImageConfig, JsonSerializer.SerializeToUtf8Bytes(new JsonObject
        {
            ["architecture"] = "amd64",
            ["os"] = "linux",
            ["config"] = new JsonObject { ["Labels"] = new JsonObject { [ImageProvenance.BundleDigestLabel] = $"sha256:{labelBundle ?? bundleSha256}" } },
            ["rootfs"] = new JsonObject { ["type"] = "layers", ["diff_ids"] = new JsonArray([.. layers.Select(l => (JsonNode?)l.Digest)]) },
        }));
        var manifest = new RawManifest(OciMediaTypes.ImageManifest, JsonSerializer.SerializeToUtf8Bytes(new
        {
            schemaVersion = 2,
            mediaType = OciMediaTypes.ImageManifest,
            config,
            layers,
        }));
        await store.PutManifestAsync("", manifest, Tag, CancellationToken.None);
        return new SignedImages(temp, store, manifest, layers, SigningKey.Generate(), bundleSha256);
    }

    /// <summary>A signed image: <see cref="UnsignedAsync"/>, then signed with <see cref="Key"/>.</summary>
    public static async Task<SignedImages> SignedAsync(string? labelBundle = null)
    {
        var images = await UnsignedAsync(labelBundle);
        await images.SignAsync(images.Key, images.Statement());
        return images;
    }

    public Task<ImageSignatures> SignAsync(SigningKey key, JsonObject statement) =>
        new ImageSigner(key).SignAsync(Store, "", DockerReference, Manifest, statement, CancellationToken.None);

    /// <summary>The image's provenance; <paramref name="subject"/> overrides its subject digest.</summary>
    public JsonObject Statement(string? subject = null) => ImageProvenance.Build(new ImageProvenanceInput(
        DockerReference, subject ?? Manifest.Digest, "hospital-a", "https://git.example/customers/hospital-a.git", new string('c', 40), Tag,
        "registry.example/lamina-serve:1.4.0", OciDigest.Of("base"u8), BundleSha256, BundleStatement(), null));

    /// <summary>A bundle provenance statement with a model, its commit and a data set.</summary>
    public static JsonObject BundleStatement() => new()
    {
        ["_type"] = "https://in-toto.io/Statement/v1",
        ["subject"] = new JsonArray(new JsonObject { ["name"] = "analysis.yaml", ["digest"] = new JsonObject { ["sha256"] = new string('a', 64) } }),
        ["predicateType"] = "https://slsa.dev/provenance/v1",
        ["predicate"] = new JsonObject
        {
            ["buildDefinition"] = new JsonObject
            {
                ["buildType"] = BundleProvenance.BuildType,
                ["resolvedDependencies"] = new JsonArray(
                    new JsonObject { ["name"] = "models/tumour/model.json", ["uri"] = "lamina:production/models/x", ["digest"] = new JsonObject { ["sha256"] = new string('1', 64) } },
                    new JsonObject { ["uri"] = "git+commit:abc", ["digest"] = new JsonObject { ["gitCommit"] = new string('2', 40) } },
                    new JsonObject { ["uri"] = $"lamina:dataset/{new string('3', 64)}", ["digest"] = new JsonObject { ["sha256"] = new string('3', 64) } }),
            },
        },
    };

    public async Task<ImageVerification> VerifyAsync(ECDsa key, ImageReference? reference = null) =>
        await new ImageVerifier(ImageStores.Open).VerifyAsync(reference ?? Reference, key, CancellationToken.None);

    public static async Task<OciDescriptor> PushAsync(OciLayoutStore store, string mediaType, byte[] bytes)
    {
        var descriptor = new OciDescriptor(mediaType, OciDigest.Of(bytes), bytes.LongLength);
        await store.PushBlobAsync("", descriptor, _ => Task.FromResult<Stream>(new MemoryStream(bytes)), CancellationToken.None);
        return descriptor;
    }

    /// <summary>The layers of the manifest tagged <paramref name="tag"/>, as written.</summary>
    public async Task<JsonArray> LayersOfAsync(string tag) =>
        (JsonArray)JsonNode.Parse((await Store.GetManifestAsync("", tag, CancellationToken.None)).Bytes)!["layers"]!;

    public void Dispose()
    {
        Key.Dispose();
        Temp.Dispose();
    }
}
