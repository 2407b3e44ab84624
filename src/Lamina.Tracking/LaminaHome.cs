using Lamina.Core;

namespace Lamina.Tracking;

/// <summary>The folder holding Lamina's embedded stores: <c>$LAMINA_HOME</c>, else <c>~/.lamina</c>.</summary>
public sealed class LaminaHome
{
    /// <summary>The environment variable that overrides the default folder.</summary>
    public const string EnvironmentVariable = HomeFolder.EnvironmentVariable;

    public LaminaHome(string root)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(root);
        Root = Path.GetFullPath(root);
    }

    /// <summary>The folder itself.</summary>
    public string Root { get; }

    /// <summary>The embedded SQLite tracking database.</summary>
    public string DatabasePath => Path.Combine(Root, "tracking.db");

    /// <summary>The folder of the file blob store.</summary>
    public string BlobsPath => Path.Combine(Root, "blobs");

    /// <summary>The folder where compiled source plug-ins are cached.</summary>
    public string PluginCachePath => HomeFolder.PluginCachePath(Root);

    /// <summary>The folder of the embedding cache, shared by every run.</summary>
    public string EmbeddingsPath => Path.Combine(Root, "embeddings");

    /// <summary>The folder where model packages fetched from the store for analyses are kept, one folder per card digest.</summary>
    public string PackagesPath => Path.Combine(Root, "packages");

    /// <summary>Where slides' labelled tile layouts are cached, by slide, labels and loader settings.</summary>
    public string TilePlansPath => Path.Combine(Root, "tile-plans");

    /// <summary>Finds the home from <c>LAMINA_HOME</c>, else <c>~/.lamina</c>; creates nothing.</summary>
    public static LaminaHome Resolve() => new(HomeFolder.Resolve());

    /// <summary>Creates the root, blobs and plug-in cache folders if they are missing; returns this home.</summary>
    public LaminaHome EnsureCreated()
    {
        Directory.CreateDirectory(Root);
        Directory.CreateDirectory(BlobsPath);
        Directory.CreateDirectory(PluginCachePath);
        return this;
    }
}
