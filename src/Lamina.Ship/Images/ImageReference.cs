namespace Lamina.Ship.Images;

/// <summary>
/// Where an image is: in a registry (<c>HOST[:PORT]/REPO[:TAG][@sha256:HEX]</c>), in an OCI layout folder
/// (<c>oci:DIR[:TAG]</c>), or only named (<c>NAME:TAG</c>, no registry: an image built into a layout or an archive).
/// </summary>
public sealed record ImageReference
{
    public const string LayoutScheme = "oci:";

    /// <summary>The registry host and port (<c>localhost:5000</c>); null for a layout or a bare name.</summary>
    public string? Registry { get; init; }

    /// <summary>The OCI layout folder (full path) of an <c>oci:</c> reference; null otherwise.</summary>
    public string? Layout { get; init; }

    /// <summary>The repository (<c>customers/hospital-a</c>); for a layout, the name its tag is recorded under (may be empty).</summary>
    public string Repository { get; init; } = "";

    public string? Tag { get; init; }

    /// <summary><c>sha256:HEX</c> when the reference pins a digest.</summary>
    public string? Digest { get; init; }

    public bool IsLayout => Layout is not null;

    public bool IsRegistry => Registry is not null;

    /// <summary>The tag or else the digest: what a manifest request names.</summary>
    public string Reference => Digest ?? Tag ?? "latest";

    /// <summary>This reference pinned to <paramref name="digest"/> (the tag kept for display).</summary>
    public ImageReference WithDigest(string digest) => this with { Digest = digest };

    public ImageReference WithTag(string? tag) => this with { Tag = tag, Digest = null };

    public override string ToString()
    {
        var name = Layout is { } layout ? $"{LayoutScheme}{layout}" : Registry is { } registry ? $"{registry}/{Repository}" : Repository;
        if (Tag is { } tag) name += $":{tag}";
        if (Digest is { } digest) name += $"@{digest}";
        return name;
    }

    /// <summary>Reads a reference; <paramref name="what"/> names it in errors (the option or file key it came from).</summary>
    /// <exception cref="ImageException">Not a reference, naming <paramref name="what"/> and what is wrong.</exception>
    public static ImageReference Parse(string text, string what = "image reference")
    {
        ArgumentNullException.ThrowIfNull(text);
        var value = text.Trim();
        if (value.Length == 0) throw new ImageException($"{what}: empty image reference");
        if (value.StartsWith(LayoutScheme, StringComparison.Ordinal)) return ParseLayout(value[LayoutScheme.Length..], text, what);

        string? digest = null;
        var at = value.IndexOf('@', StringComparison.Ordinal);
        if (at >= 0)
        {
            digest = value[(at + 1)..];
            if (!OciDigest.IsValid(digest)) throw new ImageException($"{what}: '{text}': '{digest}' is not a sha256 digest (sha256: and 64 lowercase hex digits)");
            value = value[..at];
        }
        string? registry = null;
        var slash = value.IndexOf('/', StringComparison.Ordinal);
        if (slash > 0)
        {
            var first = value[..slash];
            if (first.Contains('.', StringComparison.Ordinal) || first.Contains(':', StringComparison.Ordinal) || first == "localhost")
            {
                registry = first;
                value = value[(slash + 1)..];
            }
        }
        string? tag = null;
        var colon = value.LastIndexOf(':');
        if (colon >= 0 && !value.AsSpan(colon).Contains('/'))
        {
            tag = value[(colon + 1)..];
            value = value[..colon];
            if (!IsTag(tag)) throw new ImageException($"{what}: '{text}': '{tag}' is not a tag (letters, digits, '_', '.', '-', at most 128, not starting with '.' or '-')");
        }
        if (!IsRepository(value)) throw new ImageException($"{what}: '{text}': '{value}' is not a repository name (lowercase letters, digits and separators . _ - /)");
        return new ImageReference { Registry = registry, Repository = value, Tag = tag, Digest = digest };
    }

    private static ImageReference ParseLayout(string rest, string text, string what)
    {
        // oci:DIR[:TAG]: the tag is what follows the last ':' when it holds no '/' (a folder may not contain ':').
        string? tag = null;
        var colon = rest.LastIndexOf(':');
        if (colon >= 0 && !rest.AsSpan(colon).Contains('/'))
        {
            tag = rest[(colon + 1)..];
            rest = rest[..colon];
            if (!IsTag(tag)) throw new ImageException($"{what}: '{text}': '{tag}' is not a tag");
        }
        if (rest.Length == 0) throw new ImageException($"{what}: '{text}': name the layout folder: oci:DIR[:TAG]");
        return new ImageReference { Layout = Path.GetFullPath(rest), Tag = tag };
    }

    private static bool IsTag(string tag) =>
        tag.Length is > 0 and <= 128 && tag[0] is not ('.' or '-')
        && !tag.AsSpan().ContainsAnyExcept("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-");

    private static bool IsRepository(string name) =>
        name.Length is > 0 and <= 255
        && (char.IsAsciiLetterLower(name[0]) || char.IsAsciiDigit(name[0]))
        && !name.AsSpan().ContainsAnyExcept("abcdefghijklmnopqrstuvwxyz0123456789._-/")
        && !name.EndsWith('/') && !name.Contains("//", StringComparison.Ordinal);
}
