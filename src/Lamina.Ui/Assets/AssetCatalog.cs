using System.Reflection;
using Lamina.Core.Provenance;

namespace Lamina.Ui.Assets;

/// <summary>One browser asset: its bytes, content type, and the URL that names its content (so it may be cached for ever).</summary>
internal sealed record Asset(string Name, string Url, string ContentType, byte[] Content, string Sha256);

/// <summary>
/// The scripts, style sheets and licences embedded in this assembly, each served at <c>/assets/NAME.HASH.EXT</c> where
/// HASH is the start of its SHA-256: a new build with changed content gets a new URL, so a year-long cache never serves
/// stale code.
/// </summary>
internal sealed class AssetCatalog
{
    private const string Prefix = "Lamina.Ui.Assets.";
    private readonly Dictionary<string, Asset> _byName = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Asset> _byFile = new(StringComparer.Ordinal);

    private AssetCatalog()
    {
    }

    public IEnumerable<Asset> All => _byName.Values;

    /// <summary>Reads every embedded asset of this assembly.</summary>
    public static AssetCatalog Load()
    {
        var catalog = new AssetCatalog();
        var assembly = typeof(AssetCatalog).Assembly;
        foreach (var resource in assembly.GetManifestResourceNames().Where(n => n.StartsWith(Prefix, StringComparison.Ordinal)))
        {
            var name = resource[Prefix.Length..];
            var content = Read(assembly, resource);
            var sha = Sha256Digest.Of(content).Hex;
            var extension = Path.GetExtension(name);
            var file = $"{Path.GetFileNameWithoutExtension(name)}.{sha[..12]}{extension}";
            var asset = new Asset(name, "/assets/" + file, ContentTypeOf(extension), content, sha);
            catalog._byName[name] = asset;
            catalog._byFile[file] = asset;
        }
        return catalog;
    }

    /// <summary>The URL of an embedded asset by its file name (<c>app.js</c>).</summary>
    /// <exception cref="InvalidOperationException">No such asset is embedded (a build mistake, named).</exception>
    public string Url(string name) =>
        _byName.TryGetValue(name, out var asset) ? asset.Url : throw new InvalidOperationException($"no embedded asset '{name}' in Lamina.Ui");

    /// <summary>The asset a hashed file name (<c>app.0123456789ab.js</c>) names, or null.</summary>
    public Asset? Find(string file) => _byFile.GetValueOrDefault(file);

    private static byte[] Read(Assembly assembly, string resource)
    {
        using var stream = assembly.GetManifestResourceStream(resource)!;
        using var buffer = new MemoryStream();
        stream.CopyTo(buffer);
        return buffer.ToArray();
    }

    private static string ContentTypeOf(string extension) => extension switch
    {
        ".js" => "text/javascript; charset=utf-8",
        ".css" => "text/css; charset=utf-8",
        _ => "text/plain; charset=utf-8",
    };
}
