using Lamina.Ship.Images.Registry;

namespace Lamina.Ship.Images;

/// <summary>Opens the store an image reference points at: its OCI layout folder, or its registry (a <see cref="RegistryClient"/>).</summary>
public static class ImageStores
{
    /// <exception cref="ImageException">A bare name (no registry, no layout): nowhere to read or write it.</exception>
    public static IImageStore Open(ImageReference reference) => Open(reference, null);

    /// <summary>As <see cref="Open(ImageReference)"/>, a registry reached with <paramref name="registryOptions"/> (credentials, insecure hosts, retries).</summary>
    /// <exception cref="ImageException">A bare name, or an auth file that cannot be read.</exception>
    public static IImageStore Open(ImageReference reference, RegistryOptions? registryOptions)
    {
        ArgumentNullException.ThrowIfNull(reference);
        if (reference.Layout is { } layout) return new OciLayoutStore(layout);
        if (reference.Registry is { } registry) return new RegistryClient(registry, registryOptions);
        throw new ImageException($"{reference}: names no registry (HOST[:PORT]/REPO:TAG) and no layout (oci:DIR[:TAG])");
    }
}
