namespace Lamina.Ship.Images;

/// <summary>Opens the store an image reference points at: its OCI layout folder, or its registry.</summary>
public static class ImageStores
{
    /// <exception cref="ImageException">A bare name (no registry, no layout): nowhere to read or write it.</exception>
    public static IImageStore Open(ImageReference reference)
    {
        ArgumentNullException.ThrowIfNull(reference);
        if (reference.Layout is { } layout) return new OciLayoutStore(layout);
        if (reference.Registry is { } registry)
        {
            // Filled by the registry client (distribution API, token and basic auth, insecure hosts).
            throw new ImageException($"{reference}: registry {registry} cannot be reached by this build yet");
        }
        throw new ImageException($"{reference}: names no registry (HOST[:PORT]/REPO:TAG) and no layout (oci:DIR[:TAG])");
    }
}
