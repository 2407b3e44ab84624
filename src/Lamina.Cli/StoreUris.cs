using Lamina.Ship;
using Lamina.Tracking;

namespace Lamina.Cli;

/// <summary>
/// Opens the stores a URI names: the one place that knows the forms. Now <c>sqlite:PATH</c> for a tracking store and
/// <c>folder:PATH</c> (or a plain path) for artifacts and the production store; <c>postgresql://</c> and <c>s3://</c> are
/// added here when their backends arrive.
/// </summary>
internal static class StoreUris
{
    private const string Sqlite = "sqlite:";
    private const string Folder = "folder:";

    /// <summary>The tracking store URI of a Lamina home folder.</summary>
    public static string TrackingOf(LaminaHome home) => Sqlite + home.DatabasePath;

    /// <summary>The artifacts (blob store) URI of a Lamina home folder.</summary>
    public static string ArtifactsOf(LaminaHome home) => Folder + home.BlobsPath;

    /// <summary>The production store URI of a Lamina home folder.</summary>
    public static string ProductionOf(LaminaHome home) => Folder + Path.Combine(home.Root, "production");

    /// <summary>The URI in its canonical form (full paths), as messages and the audit log name it.</summary>
    public static string Canonical(string uri) =>
        uri.StartsWith(Sqlite, StringComparison.Ordinal) ? Sqlite + Path.GetFullPath(uri[Sqlite.Length..])
        : FolderPath(uri) is { } folder ? Folder + folder
        : uri;

    /// <summary>Opens a tracking store; <paramref name="mustExist"/> refuses to create one (the source of a copy).</summary>
    /// <param name="contentFolders">Folders of stores beside it whose content a lost database would have indexed.</param>
    public static async Task<ITrackingStore> OpenTrackingAsync(string uri, bool mustExist, IReadOnlyCollection<string> contentFolders,
        CancellationToken cancellationToken)
    {
        var path = TrackingPath(uri);
        if (mustExist && !File.Exists(path)) throw CliException.SourceStoreMissing(path);
        return await SqliteTrackingStore.OpenAsync(path, TimeProvider.System, cancellationToken, contentFolders: contentFolders);
    }

    /// <summary>The database file of a tracking store's URI.</summary>
    /// <exception cref="CliException">Not a form this build can open.</exception>
    public static string TrackingPath(string uri) =>
        uri.StartsWith(Sqlite, StringComparison.Ordinal) && uri.Length > Sqlite.Length
            ? Path.GetFullPath(uri[Sqlite.Length..])
            : throw CliException.StoreUriNotSupported(uri, "tracking", "sqlite:PATH");

    /// <summary>Opens a blob store.</summary>
    public static IBlobStore OpenArtifacts(string uri) =>
        new FileBlobStore(FolderPath(uri) ?? throw CliException.StoreUriNotSupported(uri, "artifacts", "folder:PATH or a folder's path"));

    /// <summary>Opens a production store.</summary>
    public static IProductionStore OpenProduction(string uri) =>
        new FolderProductionStore(FolderPath(uri) ?? throw CliException.StoreUriNotSupported(uri, "production", "folder:PATH or a folder's path"));

    /// <summary>The folder of a folder store's URI; null for any other form.</summary>
    public static string? FolderPath(string uri)
    {
        if (uri.StartsWith(Folder, StringComparison.Ordinal)) return uri.Length == Folder.Length ? null : Path.GetFullPath(uri[Folder.Length..]);
        return uri.Contains("://", StringComparison.Ordinal) || uri.StartsWith(Sqlite, StringComparison.Ordinal) || uri.Length == 0 ? null : Path.GetFullPath(uri);
    }
}
