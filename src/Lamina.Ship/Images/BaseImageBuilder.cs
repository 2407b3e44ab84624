using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
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
public sealed record BaseImage(RawManifest Manifest, byte[] Config, IReadOnlyList<BuiltLayer> Layers, string ServeVersion, string? ServeRevision)
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
            if (await store.PushBlobAsync(repository, layer.Descriptor, layer.OpenAsync, cancellationToken)) sent += layer.Descriptor.Size;
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
            layers = Layers.Select(l => new { digest = l.Descriptor.Digest, diff_id = l.DiffId, size = l.Descriptor.Size }), written_to = writtenTo,
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
    public const string ServePath = ImageBuilder.ServePath;
    public const string ServeVersionLabel = ImageBuilder.ServeVersionLabel;
    public const string ServePathLabel = ImageBuilder.ServePathLabel;
    public const string MirrorLabel = "dev.lamina.base.mirror";
    public const string PackagesLabel = "dev.lamina.base.packages";
    public const string RootfsLabel = "dev.lamina.base.rootfs";
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
        var epoch = LayerBuilder.Clamp(inputs.Recipe.Epoch);
        Directory.CreateDirectory(inputs.WorkDirectory);
        var rootfs = await RootfsLayer.FromRootfsTarAsync(inputs.RootfsTar, Path.Combine(inputs.WorkDirectory, "rootfs.tar.gz"), epoch, cancellationToken);
        var serve = await LayerBuilder.BuildAsync(inputs.ServeDirectory, ServeFolder, epoch, Path.Combine(inputs.WorkDirectory, "lamina-serve.tar.gz"),
            cancellationToken);

        var labels = new SortedDictionary<string, string>(StringComparer.Ordinal)
        {
            [ServeVersionLabel] = version,
            [ServePathLabel] = ServePath,
            [RootfsLabel] = rootfs.DiffId,
            ["org.opencontainers.image.created"] = OciImageWriter.Time(epoch),
            ["org.opencontainers.image.version"] = version,
            ["org.opencontainers.image.title"] = "lamina-serve",
            ["org.opencontainers.image.base.name"] = $"debian:{inputs.Recipe.Suite}",
        };
        if (inputs.Recipe.Mirror.Length > 0) labels[MirrorLabel] = inputs.Recipe.Mirror;
        if (inputs.Recipe.Packages.Count > 0) labels[PackagesLabel] = string.Join(',', inputs.Recipe.Packages.Order(StringComparer.Ordinal));
        if (revision is not null) labels["org.opencontainers.image.revision"] = revision;

        var config = OciImageWriter.NewConfig(epoch);
        OciImageWriter.AppendLayer(config, rootfs.DiffId, epoch, inputs.Recipe.Mirror.Length > 0
            ? $"mmdebstrap --variant=minbase --include={string.Join(',', inputs.Recipe.Packages)} {inputs.Recipe.Suite} {inputs.Recipe.Mirror}"
            : $"root filesystem tar {Path.GetFileName(inputs.RootfsTar)}");
        OciImageWriter.AppendLayer(config, serve.DiffId, epoch, $"lamina image base: lamina-serve {version} (self-contained, linux-x64) in {ServeFolder}");
        var settings = OciImageWriter.ContainerConfig(config);
        settings["Env"] = new JsonArray([.. Environment.Select(e => (JsonNode?)e)]);
        settings["Entrypoint"] = new JsonArray(ServePath);
        settings["WorkingDir"] = "/";
        settings["ExposedPorts"] = new JsonObject { [$"{HttpPort}/tcp"] = new JsonObject() };
        OciImageWriter.SetLabels(config, labels);
        var configBytes = OciImageWriter.Serialize(config);
        var configDescriptor = new OciDescriptor(OciMediaTypes.ImageConfig, OciDigest.Of(configBytes), configBytes.LongLength);
        var manifest = OciImageWriter.Manifest(configDescriptor, [rootfs.Descriptor, serve.Descriptor], new Dictionary<string, string>
        {
            ["org.opencontainers.image.created"] = OciImageWriter.Time(epoch),
            ["org.opencontainers.image.version"] = version,
            ["org.opencontainers.image.title"] = "lamina-serve",
            ["org.opencontainers.image.base.name"] = $"debian:{inputs.Recipe.Suite}",
        });
        return new BaseImage(manifest, configBytes, [rootfs, serve], version, revision);
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
        var executable = Path.Combine(folder, "lamina-serve");
        if (!File.Exists(executable)) problems.Add("no lamina-serve executable");
        else if (!OperatingSystem.IsWindows() && (File.GetUnixFileMode(executable) & UnixFileMode.UserExecute) == 0) problems.Add("lamina-serve is not executable (its mode goes into the layer)");
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
}
