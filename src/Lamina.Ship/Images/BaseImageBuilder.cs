using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Lamina.Core;

namespace Lamina.Ship.Images;

/// <summary>What a base image is built from: the root filesystem tar (and the recipe it was made by) and a self-contained publish of lamina-serve.</summary>
public sealed record BaseImageInputs
{
    /// <summary>A folder written by <c>dotnet publish src/Lamina.Serve -c Release -r linux-x64 --self-contained -o DIR</c>.</summary>
    public required string ServeDirectory { get; init; }

    /// <summary>The root filesystem tar (mmdebstrap's, or any tar of a root filesystem).</summary>
    public required string RootfsTar { get; init; }

    /// <summary>The suite, mirror and packages the tar was made from (labels), and the epoch every time is clamped to.</summary>
    public required BaseRootfsRecipe Recipe { get; init; }

    /// <summary>Where the layer files are written (a cache: the same inputs give the same files).</summary>
    public required string WorkDirectory { get; init; }
}

/// <summary>A base image built: its manifest (whose digest is the image's), config and layers, ready to be pushed to any store.</summary>
public sealed record BaseImage(RawManifest Manifest, byte[] Config, IReadOnlyList<LayerFile> Layers, string ServeVersion, string? ServeRevision)
{
    public string Digest => Manifest.Digest;

    public OciDescriptor ConfigDescriptor => new(OciMediaTypes.ImageConfig, OciDigest.Of(Config), Config.LongLength);

    /// <summary>Pushes the layers, config and manifest (blobs the store holds are skipped) and tags the manifest.</summary>
    /// <returns>The bytes sent (layers and config the store did not hold).</returns>
    public async Task<long> PushAsync(IImageStore store, string repository, string? tag, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(store);
        long sent = 0;
        foreach (var layer in Layers)
        {
            if (await store.PushBlobAsync(repository, layer.Descriptor, _ => Task.FromResult<Stream>(File.OpenRead(layer.Path)), cancellationToken)) sent += layer.Size;
        }
        if (await store.PushBlobAsync(repository, ConfigDescriptor, _ => Task.FromResult<Stream>(new MemoryStream(Config, writable: false)), cancellationToken))
        {
            sent += Config.LongLength;
        }
        await store.PutManifestAsync(repository, Manifest, tag, cancellationToken);
        return sent;
    }

    /// <summary>Records the build in the audit trail (<c>image.base.built</c>): the reference, the digest and what it was made of.</summary>
    public Task AuditAsync(IBundleAudit audit, string reference, BaseRootfsRecipe recipe, IEnumerable<string> writtenTo, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(audit);
        ArgumentNullException.ThrowIfNull(recipe);
        var value = JsonSerializer.Serialize(new
        {
            digest = Digest, serve_version = ServeVersion, serve_revision = ServeRevision, suite = recipe.Suite, mirror = recipe.Mirror,
            packages = recipe.Packages, source_date_epoch = recipe.Epoch.ToUnixTimeSeconds(),
            layers = Layers.Select(l => new { digest = l.Digest, diff_id = l.DiffId, size = l.Size }), written_to = writtenTo,
        });
        return audit.AppendAsync("image.base.built", reference, null, value, $"lamina image base: lamina-serve {ServeVersion} on debian:{recipe.Suite}", cancellationToken);
    }
}

/// <summary>
/// Builds Lamina's base image: layer 1 the root filesystem re-packed reproducibly, layer 2 lamina-serve under
/// <c>/opt/lamina-serve/</c>; its entry point is the service and its labels say which version it carries, so
/// <c>lamina image build</c> can check a base against a bundle. The same inputs and epoch give the same digest.
/// </summary>
public static class BaseImageBuilder
{
    public const string ServeFolder = "/opt/lamina-serve";
    public const string ServePath = ServeFolder + "/lamina-serve";
    public const string ServeVersionLabel = "dev.lamina.serve.version";
    public const string ServePathLabel = "dev.lamina.serve.path";
    public const string MirrorLabel = "dev.lamina.base.mirror";
    public const string PackagesLabel = "dev.lamina.base.packages";
    public const string HttpPort = "8080";

    /// <summary>The environment of the service in the image: it listens on every interface (a container's loopback is its own).</summary>
    public static readonly IReadOnlyList<string> Environment =
    [
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "DOTNET_RUNNING_IN_CONTAINER=true",
        $"LAMINA_SERVE_HTTP=http://0.0.0.0:{HttpPort}",
    ];

    /// <summary>Builds the layers (into <see cref="BaseImageInputs.WorkDirectory"/>), the config and the manifest.</summary>
    /// <exception cref="ImageException">The publish folder is not a self-contained lamina-serve, or the tar cannot be read; the message names it.</exception>
    public static async Task<BaseImage> BuildAsync(BaseImageInputs inputs, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        var (version, revision) = ReadServeVersion(inputs.ServeDirectory);
        var epoch = inputs.Recipe.Epoch;
        Directory.CreateDirectory(inputs.WorkDirectory);
        var rootfs = await RootfsLayer.FromRootfsTarAsync(inputs.RootfsTar, Path.Combine(inputs.WorkDirectory, "rootfs.tar.gz"), epoch, cancellationToken);
        var serve = await RootfsLayer.FromDirectoryAsync(inputs.ServeDirectory, ServeFolder, IsExecutable,
            Path.Combine(inputs.WorkDirectory, "lamina-serve.tar.gz"), epoch, cancellationToken);

        var created = epoch.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
        var labels = new SortedDictionary<string, string>(StringComparer.Ordinal)
        {
            [ServeVersionLabel] = version,
            [ServePathLabel] = ServePath,
            [MirrorLabel] = inputs.Recipe.Mirror,
            [PackagesLabel] = string.Join(',', inputs.Recipe.Packages.Order(StringComparer.Ordinal)),
            ["org.opencontainers.image.created"] = created,
            ["org.opencontainers.image.version"] = version,
            ["org.opencontainers.image.title"] = "lamina-serve",
            ["org.opencontainers.image.base.name"] = $"debian:{inputs.Recipe.Suite}",
        };
        if (revision is not null) labels["org.opencontainers.image.revision"] = revision;

        var config = Json(writer =>
        {
            writer.WriteString("created", created);
            writer.WriteString("architecture", "amd64");
            writer.WriteString("os", "linux");
            writer.WriteStartObject("config");
            writer.WriteStartArray("Env");
            foreach (var variable in Environment) writer.WriteStringValue(variable);
            writer.WriteEndArray();
            writer.WriteStartArray("Entrypoint");
            writer.WriteStringValue(ServePath);
            writer.WriteEndArray();
            writer.WriteString("WorkingDir", "/");
            writer.WriteStartObject("ExposedPorts");
            writer.WriteStartObject($"{HttpPort}/tcp");
            writer.WriteEndObject();
            writer.WriteEndObject();
            WriteMap(writer, "Labels", labels);
            writer.WriteEndObject();
            writer.WriteStartObject("rootfs");
            writer.WriteString("type", "layers");
            writer.WriteStartArray("diff_ids");
            writer.WriteStringValue(rootfs.DiffId);
            writer.WriteStringValue(serve.DiffId);
            writer.WriteEndArray();
            writer.WriteEndObject();
            writer.WriteStartArray("history");
            WriteHistory(writer, created, $"mmdebstrap --variant=minbase --include={labels[PackagesLabel]} {inputs.Recipe.Suite} {inputs.Recipe.Mirror}");
            WriteHistory(writer, created, $"lamina image base: lamina-serve {version} (self-contained, linux-x64) in {ServeFolder}");
            writer.WriteEndArray();
        });
        var configDescriptor = new OciDescriptor(OciMediaTypes.ImageConfig, OciDigest.Of(config), config.LongLength);
        var manifest = Json(writer =>
        {
            writer.WriteNumber("schemaVersion", 2);
            writer.WriteString("mediaType", OciMediaTypes.ImageManifest);
            writer.WritePropertyName("config");
            JsonSerializer.Serialize(writer, configDescriptor);
            writer.WriteStartArray("layers");
            JsonSerializer.Serialize(writer, rootfs.Descriptor);
            JsonSerializer.Serialize(writer, serve.Descriptor);
            writer.WriteEndArray();
            WriteMap(writer, "annotations", new SortedDictionary<string, string>(StringComparer.Ordinal)
            {
                ["org.opencontainers.image.created"] = created,
                ["org.opencontainers.image.version"] = version,
                ["org.opencontainers.image.title"] = "lamina-serve",
                ["org.opencontainers.image.base.name"] = $"debian:{inputs.Recipe.Suite}",
            });
        });
        return new BaseImage(new RawManifest(OciMediaTypes.ImageManifest, manifest), config, [rootfs, serve], version, revision);
    }

    /// <summary>
    /// The Lamina version of a lamina-serve publish (its assembly's informational version without the <c>+commit</c>),
    /// and the commit when there is one.
    /// </summary>
    /// <exception cref="ImageException">Not a self-contained linux publish of lamina-serve, saying what is missing.</exception>
    public static (string Version, string? Revision) ReadServeVersion(string serveDirectory)
    {
        var folder = Path.GetFullPath(serveDirectory);
        if (!Directory.Exists(folder)) throw new ImageNotFoundException($"{serveDirectory}: no lamina-serve publish folder there") { At = serveDirectory };
        var problems = new List<string>();
        if (!File.Exists(Path.Combine(folder, "lamina-serve"))) problems.Add("no lamina-serve executable");
        if (!File.Exists(Path.Combine(folder, "lamina-serve.dll"))) problems.Add("no lamina-serve.dll");
        if (!File.Exists(Path.Combine(folder, "libcoreclr.so"))) problems.Add("no libcoreclr.so (not self-contained)");
        if (problems.Count > 0)
        {
            throw new ImageException($"{folder}: not a self-contained linux-x64 publish of lamina-serve ({string.Join(", ", problems)}); " +
                "make one with: dotnet publish src/Lamina.Serve -c Release -r linux-x64 --self-contained -o DIR")
            { At = folder, Kind = LaminaErrorKind.Validation };
        }
        var informational = FileVersionInfo.GetVersionInfo(Path.Combine(folder, "lamina-serve.dll")).ProductVersion;
        if (string.IsNullOrWhiteSpace(informational))
        {
            throw new ImageException($"{Path.Combine(folder, "lamina-serve.dll")}: carries no informational version") { At = folder, Kind = LaminaErrorKind.Validation };
        }
        var plus = informational.IndexOf('+', StringComparison.Ordinal);
        return plus < 0 ? (informational, null) : (informational[..plus], informational[(plus + 1)..]);
    }

    /// <summary>The files of the publish that are run or loaded as code: the service's executable, createdump and the native libraries.</summary>
    public static bool IsExecutable(string relativePath)
    {
        var name = Path.GetFileName(relativePath);
        return name is "lamina-serve" or "createdump" || name.EndsWith(".so", StringComparison.Ordinal) || name.Contains(".so.", StringComparison.Ordinal);
    }

    private static void WriteHistory(Utf8JsonWriter writer, string created, string createdBy)
    {
        writer.WriteStartObject();
        writer.WriteString("created", created);
        writer.WriteString("created_by", createdBy);
        writer.WriteEndObject();
    }

    private static void WriteMap(Utf8JsonWriter writer, string name, IEnumerable<KeyValuePair<string, string>> values)
    {
        writer.WriteStartObject(name);
        foreach (var (key, value) in values) writer.WriteString(key, value);
        writer.WriteEndObject();
    }

    private static byte[] Json(Action<Utf8JsonWriter> body)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            writer.WriteStartObject();
            body(writer);
            writer.WriteEndObject();
        }
        return buffer.ToArray();
    }
}
