namespace Lamina.Ship.Images;

/// <summary>The media types of OCI images and of the Docker v2 schema that registries still serve for older bases.</summary>
public static class OciMediaTypes
{
    public const string ImageManifest = "application/vnd.oci.image.manifest.v1+json";
    public const string ImageIndex = "application/vnd.oci.image.index.v1+json";
    public const string ImageConfig = "application/vnd.oci.image.config.v1+json";
    public const string LayerTarGzip = "application/vnd.oci.image.layer.v1.tar+gzip";
    public const string LayerTar = "application/vnd.oci.image.layer.v1.tar";
    public const string EmptyJson = "application/vnd.oci.empty.v1+json";

    public const string DockerManifest = "application/vnd.docker.distribution.manifest.v2+json";
    public const string DockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json";
    public const string DockerConfig = "application/vnd.docker.container.image.v1+json";
    public const string DockerLayerTarGzip = "application/vnd.docker.image.rootfs.diff.tar.gzip";

    /// <summary>cosign's simple-signing payload (a signature of an image digest).</summary>
    public const string CosignSimpleSigning = "application/vnd.dev.cosign.simplesigning.v1+json";

    /// <summary>A DSSE envelope (cosign's attestations: in-toto statements).</summary>
    public const string DsseEnvelope = "application/vnd.dsse.envelope.v1+json";

    /// <summary>The media types a manifest request accepts, in order of preference.</summary>
    public static readonly IReadOnlyList<string> Manifests = [ImageManifest, ImageIndex, DockerManifest, DockerManifestList];

    public static bool IsIndex(string mediaType) => mediaType is ImageIndex or DockerManifestList;
}
