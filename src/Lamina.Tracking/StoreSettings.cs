using Lamina.Core.Config;

namespace Lamina.Tracking;

/// <summary>What kind of store a setting names.</summary>
public enum StoreBackend
{
    /// <summary>An SQLite file (<c>sqlite:PATH</c>).</summary>
    Sqlite,

    /// <summary>A PostgreSQL database (<c>postgresql://user[:password]@host:port/db</c>).</summary>
    Postgres,

    /// <summary>A folder on this machine.</summary>
    Folder,

    /// <summary>An S3-compatible bucket (<c>s3://bucket/prefix</c>).</summary>
    S3,
}

/// <summary>Where a setting's value came from: the environment, <c>$LAMINA_HOME/config.yaml</c> (with its line), or the default.</summary>
public sealed record SettingSource(string Kind, string? File = null, int Line = 0)
{
    public static SettingSource Environment { get; } = new("environment");

    public static SettingSource Default { get; } = new("default");

    public static SettingSource ConfigFile(SourceLocation at) => new("config_file", at.File, at.Line);

    /// <summary><c>environment</c>, <c>default</c> or <c>/home/ada/.lamina/config.yaml:3</c>.</summary>
    public override string ToString() => File is null ? Kind : Line > 0 ? $"{File}:{Line}" : File;
}

/// <summary>One store as configured: its backend, the value (which may hold a password: show <see cref="Display"/>), where it came from.</summary>
/// <param name="Variable">The setting that names it: <c>LAMINA_TRACKING</c>, <c>LAMINA_ARTIFACTS</c>, <c>LAMINA_PRODUCTION</c>.</param>
/// <param name="Value">The value as given (a local path made absolute); may hold credentials.</param>
public sealed record StoreLocation(string Variable, StoreBackend Backend, string Value, SettingSource Source)
{
    /// <summary>The value with any password masked, fit for messages and <c>lamina config show</c>.</summary>
    public string Display => Secrets.RedactUris(Value);

    /// <summary>The file or folder of a local backend (SQLite, folder); null for a server.</summary>
    public string? LocalPath => Backend switch
    {
        StoreBackend.Sqlite => Value["sqlite:".Length..],
        StoreBackend.Folder => Value,
        _ => null,
    };
}

/// <summary>How an S3 store reaches its server, without any secret: the endpoint and where the credentials come from.</summary>
/// <param name="Endpoint">The S3-compatible server; null for AWS itself.</param>
/// <param name="EndpointVariable">The setting the endpoint was read from.</param>
/// <param name="Credentials">Where the credentials come from, never the credentials: <c>environment (AWS_ACCESS_KEY_ID)</c>, <c>profile team</c>, …</param>
public sealed record S3Access(string? Endpoint, string? EndpointVariable, SettingSource? EndpointSource, string Credentials);

/// <summary>
/// Where this machine's stores are: the tracking store (<c>LAMINA_TRACKING</c>), the artifact blobs
/// (<c>LAMINA_ARTIFACTS</c>) and the production store (<c>LAMINA_PRODUCTION</c>). Each is read from the environment,
/// else from <c>$LAMINA_HOME/config.yaml</c> (same keys), else its default in the Lamina home. Shared by the CLI and
/// anything else that opens the stores, so they all open the same ones.
/// </summary>
public sealed class StoreSettings
{
    public const string TrackingVariable = "LAMINA_TRACKING";
    public const string ArtifactsVariable = "LAMINA_ARTIFACTS";
    public const string ProductionVariable = "LAMINA_PRODUCTION";
    public const string S3EndpointVariable = "LAMINA_S3_ENDPOINT";

    /// <summary>The RabbitMQ broker of remote runs (<c>amqp://user:password@host:port/vhost</c>); none by default.</summary>
    public const string BrokerVariable = "LAMINA_BROKER";

    /// <summary>The prefix that gives the production store settings of its own (<c>LAMINA_PRODUCTION_S3_ENDPOINT</c>, <c>LAMINA_PRODUCTION_AWS_PROFILE</c>…).</summary>
    public const string ProductionPrefix = "LAMINA_PRODUCTION_";

    /// <summary>The file in the Lamina home that holds the settings of a machine or a team.</summary>
    public const string ConfigFileName = "config.yaml";

    /// <summary>The keys <c>config.yaml</c> may hold: every setting but the secrets, which stay in the environment or a profile.</summary>
    public static IReadOnlyList<string> ConfigKeys { get; } =
    [
        TrackingVariable, ArtifactsVariable, ProductionVariable, S3EndpointVariable, ProductionPrefix + "S3_ENDPOINT", BrokerVariable,
        "AWS_PROFILE", ProductionPrefix + "AWS_PROFILE", "AWS_REGION", ProductionPrefix + "AWS_REGION",
    ];

    private readonly Func<string, string?> _environment;
    private readonly Dictionary<string, (string Value, SourceLocation At)> _file;

    private StoreSettings(string home, string configFile, Func<string, string?> environment, Dictionary<string, (string, SourceLocation)> file)
    {
        Home = home;
        ConfigFile = configFile;
        _environment = environment;
        _file = file;
    }

    /// <summary>The Lamina home the defaults are in.</summary>
    public string Home { get; }

    /// <summary>The settings file read (it may not exist).</summary>
    public string ConfigFile { get; }

    public StoreLocation Tracking { get; private set; } = null!;

    public StoreLocation Artifacts { get; private set; } = null!;

    public StoreLocation Production { get; private set; } = null!;

    /// <summary>The broker of remote runs (<see cref="BrokerVariable"/>) and where it was set; null when none is.</summary>
    public (string Value, SettingSource Source)? Broker => Find(BrokerVariable);

    /// <summary>The folders on this machine whose content the tracking store indexes (local blobs, a local production store).</summary>
    public IReadOnlyList<string> LocalContentFolders =>
        [.. new[] { Artifacts, Production }.Where(s => s.Backend == StoreBackend.Folder).Select(s => s.Value)];

    /// <summary>
    /// Reads the settings for the Lamina home <paramref name="home"/>: the environment (<paramref name="environment"/>,
    /// the process's by default), then <c>config.yaml</c> in the home, then the defaults.
    /// </summary>
    /// <exception cref="ConfigValidationException">A value or the file is not valid; every problem is named with the variable, or the file, line and key.</exception>
    public static StoreSettings Resolve(string home, Func<string, string?>? environment = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(home);
        home = Path.GetFullPath(home);
        environment ??= System.Environment.GetEnvironmentVariable;
        var diagnostics = new DiagnosticBag();
        var configFile = Path.Combine(home, ConfigFileName);
        var settings = new StoreSettings(home, configFile, environment, ReadConfigFile(configFile, diagnostics));
        settings.Tracking = settings.Read(TrackingVariable, $"sqlite:{Path.Combine(home, "tracking.db")}", ParseTracking, diagnostics)!;
        settings.Artifacts = settings.Read(ArtifactsVariable, Path.Combine(home, "blobs"), ParseFolderOrS3, diagnostics)!;
        settings.Production = settings.Read(ProductionVariable, Path.Combine(home, "production"), ParseFolderOrS3, diagnostics)!;
        foreach (var variable in new[] { S3EndpointVariable, ProductionPrefix + "S3_ENDPOINT" })
        {
            if (settings.Find(variable) is { } endpoint)
            {
                CheckEndpoint(endpoint.Value, variable, endpoint.Source, diagnostics);
            }
        }
        diagnostics.ThrowIfAny();
        return settings;
    }

    /// <summary>
    /// The settings an S3 store reads (<c>LAMINA_S3_ENDPOINT</c>, <c>AWS_ACCESS_KEY_ID</c>, <c>AWS_PROFILE</c>…): for the
    /// production store, <c>LAMINA_PRODUCTION_</c> + the name without <c>LAMINA_</c> first (<c>LAMINA_PRODUCTION_S3_ENDPOINT</c>,
    /// <c>LAMINA_PRODUCTION_AWS_SECRET_ACCESS_KEY</c>), then the name itself; each from the environment, else <c>config.yaml</c>.
    /// When the production store has credentials of its own (keys or a profile), the shared AWS credentials are not used for it.
    /// </summary>
    public Func<string, string?> S3Environment(StoreLocation store)
    {
        ArgumentNullException.ThrowIfNull(store);
        return name => FindFor(store, name)?.Value;
    }

    /// <summary>The endpoint and the origin of the credentials that an S3 store of <paramref name="store"/> would use; no secret.</summary>
    public S3Access S3AccessOf(StoreLocation store)
    {
        ArgumentNullException.ThrowIfNull(store);
        var endpoint = FindFor(store, S3EndpointVariable);
        string credentials;
        if (FindFor(store, "AWS_ACCESS_KEY_ID") is { } key)
        {
            var secret = FindFor(store, "AWS_SECRET_ACCESS_KEY");
            credentials = $"environment ({key.Variable}{(secret is null ? ", but no AWS_SECRET_ACCESS_KEY" : $", {secret.Value.Variable}")})";
        }
        else if (FindFor(store, "AWS_PROFILE") is { } profile)
        {
            credentials = $"profile {profile.Value} ({profile.Variable}, {profile.Source})";
        }
        else
        {
            credentials = "the AWS SDK's default chain (default profile, instance role)";
        }
        return new S3Access(endpoint?.Value, endpoint?.Variable, endpoint?.Source, credentials);
    }

    private static readonly string[] CredentialVariables = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"];

    private (string Value, string Variable, SettingSource Source)? FindFor(StoreLocation store, string name)
    {
        if (store.Variable == ProductionVariable)
        {
            var own = Own(name);
            if (Find(own) is { } found)
            {
                return (found.Value, own, found.Source);
            }
            // Credentials of the production store's own (keys or a profile) are used alone, never mixed with the shared ones.
            if (CredentialVariables.Contains(name, StringComparer.Ordinal) && CredentialVariables.Any(c => Find(Own(c)) is not null))
            {
                return null;
            }
        }
        return Find(name) is { } shared ? (shared.Value, name, shared.Source) : null;

        static string Own(string name) => ProductionPrefix + (name.StartsWith("LAMINA_", StringComparison.Ordinal) ? name["LAMINA_".Length..] : name);
    }

    private (string Value, SettingSource Source)? Find(string variable)
    {
        if (_environment(variable) is { Length: > 0 } value)
        {
            return (value.Trim(), SettingSource.Environment);
        }
        return _file.TryGetValue(variable, out var entry) ? (entry.Value, SettingSource.ConfigFile(entry.At)) : null;
    }

    private StoreLocation? Read(string variable, string defaultValue, Func<string, (StoreBackend, string)?> parse, DiagnosticBag diagnostics)
    {
        if (Find(variable) is not { } found)
        {
            var (backend, value) = parse(defaultValue)!.Value;
            return new StoreLocation(variable, backend, value, SettingSource.Default);
        }
        try
        {
            var (backend, value) = parse(found.Value) ?? throw new FormatException("");
            return new StoreLocation(variable, backend, value, found.Source);
        }
        catch (FormatException e)
        {
            Report(diagnostics, variable, found.Source, e.Message);
            return new StoreLocation(variable, StoreBackend.Folder, defaultValue, SettingSource.Default);
        }
    }

    private static void Report(DiagnosticBag diagnostics, string variable, SettingSource source, string message)
    {
        var at = source.File is null ? SourceLocation.None("environment") : new SourceLocation(source.File, source.Line, 1);
        diagnostics.Add(at, variable, message);
    }

    /// <summary><c>sqlite:/absolute/path</c> or <c>postgresql://…</c>; a <see cref="FormatException"/> says what is wrong.</summary>
    internal static (StoreBackend, string)? ParseTracking(string value)
    {
        if (value.StartsWith("sqlite:", StringComparison.OrdinalIgnoreCase))
        {
            var path = value["sqlite:".Length..];
            if (path.StartsWith("//", StringComparison.Ordinal))
            {
                throw new FormatException($"'{value}': write an SQLite file as sqlite:/absolute/path/tracking.db (one colon, no '//')");
            }
            if (path.Length == 0 || !Path.IsPathFullyQualified(path))
            {
                throw new FormatException($"'{value}': the SQLite file must be an absolute path (sqlite:/data/lamina/tracking.db), " +
                    "so every command finds the same store wherever it is run");
            }
            return (StoreBackend.Sqlite, "sqlite:" + Path.GetFullPath(path));
        }
        if (SchemeOf(value) is "postgresql" or "postgres")
        {
            if (!Uri.TryCreate(value, UriKind.Absolute, out var uri) || uri.Host.Length == 0)
            {
                throw new FormatException($"'{Secrets.RedactUris(value)}' is not a PostgreSQL URI: expected postgresql://user[:password]@host[:port]/database");
            }
            if (uri.AbsolutePath.Trim('/').Length == 0)
            {
                throw new FormatException($"'{Secrets.RedactUris(value)}' names no database: expected postgresql://user[:password]@host[:port]/database");
            }
            return (StoreBackend.Postgres, value);
        }
        throw new FormatException(SchemeOf(value) is { } scheme
            ? $"unknown scheme '{scheme}' in '{Secrets.RedactUris(value)}': expected sqlite:/path/tracking.db or postgresql://user[:password]@host[:port]/database"
            : $"'{value}' is not a tracking store: expected sqlite:/path/tracking.db or postgresql://user[:password]@host[:port]/database");
    }

    /// <summary>An absolute folder or <c>s3://bucket/prefix</c>; a <see cref="FormatException"/> says what is wrong.</summary>
    internal static (StoreBackend, string)? ParseFolderOrS3(string value)
    {
        switch (SchemeOf(value))
        {
            case null:
                if (!Path.IsPathFullyQualified(value))
                {
                    throw new FormatException($"'{value}': a folder must be an absolute path, so every command finds the same store wherever it is run");
                }
                return (StoreBackend.Folder, Path.GetFullPath(value));
            case "s3":
                if (!Uri.TryCreate(value, UriKind.Absolute, out var uri))
                {
                    throw new FormatException($"'{Secrets.RedactUris(value)}' is not an S3 URI: expected s3://bucket/prefix");
                }
                if (uri.UserInfo.Length > 0)
                {
                    throw new FormatException($"'{Secrets.RedactUris(value)}': credentials do not belong in the URI; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE");
                }
                if (uri.Query.Length > 0 || uri.Fragment.Length > 0 || uri.Port != -1)
                {
                    throw new FormatException($"'{value}': an S3 URI is s3://bucket/prefix, with no port, '?' or '#'; the server is set with {S3EndpointVariable}");
                }
                if (!IsBucketName(uri.Host))
                {
                    throw new FormatException($"'{value}': '{uri.Host}' is not a bucket name (3 to 63 lower-case letters, digits, '.' and '-')");
                }
                return (StoreBackend.S3, value);
            case var scheme:
                throw new FormatException($"unknown scheme '{scheme}' in '{Secrets.RedactUris(value)}': expected an absolute folder or s3://bucket/prefix");
        }
    }

    private static void CheckEndpoint(string value, string variable, SettingSource source, DiagnosticBag diagnostics)
    {
        if (!Uri.TryCreate(value, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https") || uri.Host.Length == 0)
        {
            Report(diagnostics, variable, source, $"'{Secrets.RedactUris(value)}' is not an S3 endpoint: expected http(s)://host[:port]");
        }
        else if (uri.UserInfo.Length > 0)
        {
            Report(diagnostics, variable, source, $"'{Secrets.RedactUris(value)}': credentials do not belong in the endpoint; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE");
        }
    }

    private static bool IsBucketName(string name) =>
        name.Length is >= 3 and <= 63 && name.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c is '.' or '-')
        && char.IsAsciiLetterOrDigit(name[0]) && char.IsAsciiLetterOrDigit(name[^1]);

    /// <summary>The scheme of <c>scheme://…</c> or <c>scheme:…</c> (lower case); null for a path.</summary>
    private static string? SchemeOf(string value)
    {
        var colon = value.IndexOf(':', StringComparison.Ordinal);
        // A one-letter "scheme" is a Windows drive (C:\...).
        if (colon < 2 || !char.IsAsciiLetter(value[0]) || !value[..colon].All(c => char.IsAsciiLetterOrDigit(c) || c is '+' or '.' or '-'))
        {
            return null;
        }
        return value[..colon].ToLowerInvariant();
    }

    private static Dictionary<string, (string, SourceLocation)> ReadConfigFile(string path, DiagnosticBag diagnostics)
    {
        var values = new Dictionary<string, (string, SourceLocation)>(StringComparer.Ordinal);
        if (!File.Exists(path))
        {
            return values;
        }
        var problems = new DiagnosticBag();
        var root = YamlConfigReader.ReadFile(path, problems);
        diagnostics.AddRange(problems.Items);
        if (root is null)
        {
            return values;
        }
        var read = new ConfigReading(diagnostics);
        if (read.Mapping(root, hint: $" of settings ({string.Join(", ", ConfigKeys)})") is not { } mapping)
        {
            return values;
        }
        foreach (var (key, node) in mapping.Entries)
        {
            if (key.Value.StartsWith("AWS_SECRET", StringComparison.Ordinal) || key.Value.Contains("_AWS_SECRET", StringComparison.Ordinal)
                || key.Value.EndsWith("AWS_SESSION_TOKEN", StringComparison.Ordinal) || key.Value.EndsWith("AWS_ACCESS_KEY_ID", StringComparison.Ordinal))
            {
                diagnostics.Add(key, $"'{key.Value}' does not belong in {ConfigFileName}, which is shared and readable: " +
                    "set AWS credentials in the environment, or name a profile with AWS_PROFILE");
                continue;
            }
            if (!ConfigKeys.Contains(key.Value, StringComparer.Ordinal))
            {
                diagnostics.Add(key, $"unknown key '{key.Value}'{Suggestions.Hint(key.Value, ConfigKeys)} (known: {string.Join(", ", ConfigKeys)})");
                continue;
            }
            if (ConfigReading.Optional(mapping, key.Value) is null)
            {
                continue;
            }
            if (read.String(node, nonEmpty: true) is { } value)
            {
                values[key.Value] = (value.Trim(), node.Location);
            }
        }
        return values;
    }
}
