using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Lamina.Ship.Images;

/// <summary>
/// Writes image configs and manifests the same way every time: compact JSON, properties in the order given, annotations
/// in ordinal order, no escaping of <c>+</c> in media types. <c>lamina image build</c> and <c>lamina image base</c> both
/// write images through it, so the same content always gets the same digests.
/// </summary>
public static class OciImageWriter
{
    private static readonly JsonSerializerOptions Options = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, WriteIndented = false };

    /// <summary>The bytes of a config or manifest.</summary>
    public static byte[] Serialize(JsonNode node)
    {
        ArgumentNullException.ThrowIfNull(node);
        return JsonSerializer.SerializeToUtf8Bytes(node, Options);
    }

    /// <summary>An RFC 3339 time in UTC, whole seconds (<c>2026-01-02T03:04:05Z</c>), as configs and annotations write it.</summary>
    public static string Time(DateTimeOffset time) => time.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    /// <summary>A config with no layers yet: for an image built from scratch (a base).</summary>
    public static JsonObject NewConfig(DateTimeOffset created, string architecture = "amd64", string os = "linux") => new()
    {
        ["created"] = Time(created),
        ["architecture"] = architecture,
        ["os"] = os,
        ["config"] = new JsonObject(),
        ["rootfs"] = new JsonObject { ["type"] = "layers", ["diff_ids"] = new JsonArray() },
        ["history"] = new JsonArray(),
    };

    /// <summary>Appends a layer to a config: its diff id to <c>rootfs.diff_ids</c> and an entry to <c>history</c>; sets <c>created</c>.</summary>
    public static void AppendLayer(JsonObject config, string diffId, DateTimeOffset created, string createdBy, string? comment = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        if (config["rootfs"] is not JsonObject rootfs)
        {
            rootfs = new JsonObject { ["type"] = "layers" };
            config["rootfs"] = rootfs;
        }
        if (rootfs["diff_ids"] is not JsonArray diffIds)
        {
            diffIds = [];
            rootfs["diff_ids"] = diffIds;
        }
        diffIds.Add(diffId);
        if (config["history"] is not JsonArray history)
        {
            history = [];
            config["history"] = history;
        }
        var entry = new JsonObject { ["created"] = Time(created), ["created_by"] = createdBy };
        if (comment is not null) entry["comment"] = comment;
        history.Add(entry);
        config["created"] = Time(created);
    }

    /// <summary>The container settings (<c>config</c>) of an image config, created when missing.</summary>
    public static JsonObject ContainerConfig(JsonObject config)
    {
        ArgumentNullException.ThrowIfNull(config);
        if (config["config"] is JsonObject settings) return settings;
        settings = [];
        config["config"] = settings;
        return settings;
    }

    /// <summary>The labels of an image config (<c>config.Labels</c>), empty when it has none.</summary>
    public static IReadOnlyDictionary<string, string> Labels(JsonObject config)
    {
        ArgumentNullException.ThrowIfNull(config);
        var labels = new SortedDictionary<string, string>(StringComparer.Ordinal);
        if (config["config"]?["Labels"] is JsonObject found)
        {
            foreach (var (key, value) in found)
            {
                if (value is JsonValue v && v.TryGetValue<string>(out var text)) labels[key] = text;
            }
        }
        return labels;
    }

    /// <summary>Sets labels (<c>config.Labels</c>), keeping the others; the labels end up in ordinal order.</summary>
    public static void SetLabels(JsonObject config, IReadOnlyDictionary<string, string> labels)
    {
        ArgumentNullException.ThrowIfNull(labels);
        var merged = new SortedDictionary<string, JsonNode?>(StringComparer.Ordinal);
        var settings = ContainerConfig(config);
        if (settings["Labels"] is JsonObject existing)
        {
            foreach (var (key, value) in existing) merged[key] = value?.DeepClone();
        }
        foreach (var (key, value) in labels) merged[key] = value;
        settings["Labels"] = new JsonObject(merged);
    }

    /// <summary>An OCI image manifest of a config and layers, with annotations in ordinal order (none when empty).</summary>
    public static RawManifest Manifest(OciDescriptor config, IReadOnlyList<OciDescriptor> layers, IReadOnlyDictionary<string, string>? annotations = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(layers);
        var manifest = new JsonObject
        {
            ["schemaVersion"] = 2,
            ["mediaType"] = OciMediaTypes.ImageManifest,
            ["config"] = Descriptor(config),
            ["layers"] = new JsonArray([.. layers.Select(l => (JsonNode?)Descriptor(l))]),
        };
        if (annotations is { Count: > 0 }) manifest["annotations"] = Sorted(annotations);
        return new RawManifest(OciMediaTypes.ImageManifest, Serialize(manifest));
    }

    /// <summary>
    /// Stores the config and then the manifest of an image whose layers the store already holds, tagging it when
    /// <paramref name="tag"/> is given. Returns the manifest and the config's descriptor.
    /// </summary>
    /// <exception cref="ImageException">A layer the store does not hold (named): a manifest never points at missing blobs.</exception>
    public static async Task<(RawManifest Manifest, OciDescriptor Config, bool ConfigSent)> WriteAsync(IImageStore store, string repository, JsonObject config,
        IReadOnlyList<OciDescriptor> layers, IReadOnlyDictionary<string, string>? annotations, string? tag, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(layers);
        foreach (var layer in layers)
        {
            if (!await store.HasBlobAsync(repository, layer.Digest, cancellationToken))
            {
                throw new ImageException($"{store.Location}: layer {layer.Digest} is not there: push the layers before the manifest") { At = layer.Digest };
            }
        }
        var bytes = Serialize(config);
        var descriptor = new OciDescriptor(OciMediaTypes.ImageConfig, OciDigest.Of(bytes), bytes.LongLength);
        var sent = await store.PushBlobAsync(repository, descriptor, _ => Task.FromResult<Stream>(new MemoryStream(bytes, writable: false)), cancellationToken);
        var manifest = Manifest(descriptor, layers, annotations);
        await store.PutManifestAsync(repository, manifest, tag, cancellationToken);
        return (manifest, descriptor, sent);
    }

    private static JsonObject Descriptor(OciDescriptor descriptor)
    {
        var node = new JsonObject { ["mediaType"] = descriptor.MediaType, ["digest"] = descriptor.Digest, ["size"] = descriptor.Size };
        if (descriptor.Annotations is { Count: > 0 } annotations) node["annotations"] = Sorted(annotations);
        return node;
    }

    private static JsonObject Sorted(IReadOnlyDictionary<string, string> values) =>
        new(values.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => KeyValuePair.Create(p.Key, (JsonNode?)p.Value)));
}
