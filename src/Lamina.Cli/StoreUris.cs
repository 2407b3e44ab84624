using Lamina.Ship;
using Lamina.Tracking;

namespace Lamina.Cli;

/// <summary>
/// Opens the stores a URI names: the one place that knows the forms. Now <c>sqlite:PATH</c> or
/// <c>postgresql://USER[:PASSWORD]@HOST[:PORT]/DATABASE</c> for a tracking store and <c>folder:PATH</c> (or a plain path)
/// for artifacts and the production store, or <c>s3://BUCKET/PREFIX</c> for either.
/// </summary>
internal static class StoreUris
{
    private const string Sqlite = "sqlite:";
    private const string Folder = "folder:";
    private const string TrackingForms = "sqlite:PATH or postgresql://USER[:PASSWORD]@HOST[:PORT]/DATABASE";

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

    /// <summary>
    /// How messages and the audit log name a tracking store: <c>sqlite:</c> and the full path, or the PostgreSQL URI without
    /// its password (never written anywhere).
    /// </summary>
    /// <exception cref="CliException">Not a form this build can open.</exception>
    /// <exception cref="TrackingException">A malformed PostgreSQL URI.</exception>
    public static string TrackingName(string uri) =>
        PostgresLocation.IsPostgresUri(uri) ? PostgresLocation.Parse(uri).Redacted : Sqlite + TrackingPath(uri);

    /// <summary>Which store a tracking URI names, whatever the credentials in it: two URIs of one store give the same.</summary>
    public static string TrackingIdentity(string uri) =>
        PostgresLocation.IsPostgresUri(uri) && PostgresLocation.Parse(uri) is var l
            ? $"postgresql://{l.Host.ToLowerInvariant()}:{l.Port}/{l.Database}"
            : TrackingName(uri);

    /// <summary>Opens a tracking store; <paramref name="mustExist"/> refuses to create one (the source of a copy).</summary>
    /// <remarks>
    /// A PostgreSQL store is never created nor migrated here: opening refuses a database whose schema is not this Lamina's,
    /// naming <c>lamina store migrate</c>.
    /// </remarks>
    /// <param name="contentFolders">Folders of stores beside it whose content a lost database would have indexed (SQLite).</param>
    public static async Task<ITrackingStore> OpenTrackingAsync(string uri, bool mustExist, IReadOnlyCollection<string> contentFolders,
        CancellationToken cancellationToken)
    {
        if (PostgresLocation.IsPostgresUri(uri)) return await PostgresTrackingStore.OpenAsync(uri, TimeProvider.System, cancellationToken);
        var path = TrackingPath(uri);
        if (mustExist && !File.Exists(path)) throw CliException.SourceStoreMissing(path);
        return await SqliteTrackingStore.OpenAsync(path, TimeProvider.System, cancellationToken, contentFolders: contentFolders);
    }

    /// <summary>The database file of a SQLite tracking store's URI.</summary>
    /// <exception cref="CliException">Not a form this build can open.</exception>
    public static string TrackingPath(string uri) =>
        uri.StartsWith(Sqlite, StringComparison.Ordinal) && uri.Length > Sqlite.Length
            ? Path.GetFullPath(uri[Sqlite.Length..])
            : throw CliException.StoreUriNotSupported(uri, "tracking", TrackingForms);

    /// <summary>Opens a blob store.</summary>
    /// <remarks>
    /// An <c>s3://</c> store takes its endpoint and credentials as <c>LAMINA_ARTIFACTS</c> would (<c>LAMINA_S3_ENDPOINT</c>,
    /// the AWS variables or profile; the environment, else config.yaml).
    /// </remarks>
    public static IBlobStore OpenArtifacts(string uri) =>
        S3Location.IsS3Uri(uri) ? new S3BlobStore(S3Location.Parse(uri, Settings.S3Environment(Settings.Artifacts)))
        : new FileBlobStore(FolderPath(uri) ?? throw CliException.StoreUriNotSupported(uri, "artifacts", "folder:PATH, a folder's path or s3://BUCKET/PREFIX"));

    /// <summary>Opens a production store.</summary>
    /// <remarks>
    /// An <c>s3://</c> store takes its endpoint and credentials as <c>LAMINA_PRODUCTION</c> would: the <c>LAMINA_PRODUCTION_</c>
    /// prefixed settings first (<c>LAMINA_PRODUCTION_S3_ENDPOINT</c>…), then the shared ones.
    /// </remarks>
    public static IProductionStore OpenProduction(string uri) =>
        S3Location.IsS3Uri(uri) ? new S3ProductionStore(S3Location.Parse(uri, Settings.S3Environment(Settings.Production)))
        : new FolderProductionStore(FolderPath(uri) ?? throw CliException.StoreUriNotSupported(uri, "production", "folder:PATH, a folder's path or s3://BUCKET/PREFIX"));

    // This machine's settings: where an s3:// store named on the command line finds its endpoint and credentials.
    private static StoreSettings Settings => CliContext.StoreSettingsOf(CliContext.Home);

    /// <summary>The folder of a folder store's URI; null for any other form.</summary>
    public static string? FolderPath(string uri)
    {
        if (uri.StartsWith(Folder, StringComparison.Ordinal)) return uri.Length == Folder.Length ? null : Path.GetFullPath(uri[Folder.Length..]);
        return uri.Contains("://", StringComparison.Ordinal) || uri.StartsWith(Sqlite, StringComparison.Ordinal) || uri.Length == 0 ? null : Path.GetFullPath(uri);
    }
}
