using Lamina.Core.Config;

namespace Lamina.Tracking.Tests;

public sealed class StoreSettingsTests : IDisposable
{
    private readonly TemporaryDirectory _home = new();
    private readonly Dictionary<string, string> _environment = [];

    public void Dispose() => _home.Dispose();

    private StoreSettings Resolve() => StoreSettings.Resolve(_home.Path, name => _environment.GetValueOrDefault(name));

    private void ConfigFile(string text) => File.WriteAllText(_home.Combine("config.yaml"), text);

    private ConfigValidationException Refused() => Assert.Throws<ConfigValidationException>(Resolve);

    [Fact]
    public void Resolve_WithNothingSet_GivesTheStoresInTheHome_FromTheDefaults()
    {
        var settings = Resolve();

        Assert.Equal(StoreBackend.Sqlite, settings.Tracking.Backend);
        Assert.Equal(_home.Combine("tracking.db"), settings.Tracking.LocalPath);
        Assert.Equal((StoreBackend.Folder, _home.Combine("blobs")), (settings.Artifacts.Backend, settings.Artifacts.Value));
        Assert.Equal((StoreBackend.Folder, _home.Combine("production")), (settings.Production.Backend, settings.Production.Value));
        Assert.All([settings.Tracking, settings.Artifacts, settings.Production], s => Assert.Equal(SettingSource.Default, s.Source));
        Assert.Equal([_home.Combine("blobs"), _home.Combine("production")], settings.LocalContentFolders);
    }

    [Fact]
    public void Resolve_ConfigFile_IsReadWithItsLines_AndTheEnvironmentWinsOverIt()
    {
        ConfigFile("""
            # the team's stores
            LAMINA_TRACKING: postgresql://lamina:hunter2@db.example.org:5432/lamina
            LAMINA_ARTIFACTS: s3://team-artifacts/lamina
            LAMINA_PRODUCTION: /srv/production
            """);
        _environment["LAMINA_PRODUCTION"] = "s3://team-production/models";

        var settings = Resolve();

        Assert.Equal(StoreBackend.Postgres, settings.Tracking.Backend);
        Assert.Equal(new SettingSource("config_file", _home.Combine("config.yaml"), 2), settings.Tracking.Source);
        Assert.Equal("postgresql://lamina:***@db.example.org:5432/lamina", settings.Tracking.Display);
        Assert.Equal((StoreBackend.S3, 3), (settings.Artifacts.Backend, settings.Artifacts.Source.Line));
        Assert.Equal((StoreBackend.S3, SettingSource.Environment), (settings.Production.Backend, settings.Production.Source));
        Assert.Empty(settings.LocalContentFolders);
    }

    [Fact]
    public void S3_ProductionSettings_FallBackToTheSharedOnes_AndCredentialsAreNamedNeverShown()
    {
        _environment["LAMINA_ARTIFACTS"] = "s3://artifacts/x";
        _environment["LAMINA_PRODUCTION"] = "s3://production/y";
        _environment["LAMINA_S3_ENDPOINT"] = "http://localhost:4569";
        _environment["AWS_ACCESS_KEY_ID"] = "AKIDEXAMPLE";
        _environment["AWS_SECRET_ACCESS_KEY"] = "wJalrXUtnFEMI-planted";
        _environment["LAMINA_PRODUCTION_AWS_PROFILE"] = "release";
        ConfigFile("LAMINA_PRODUCTION_S3_ENDPOINT: https://s3.eu-central-1.amazonaws.com\n");

        var settings = Resolve();
        var artifacts = settings.S3AccessOf(settings.Artifacts);
        var production = settings.S3AccessOf(settings.Production);

        Assert.Equal(("http://localhost:4569", "LAMINA_S3_ENDPOINT"), (artifacts.Endpoint, artifacts.EndpointVariable));
        Assert.Equal(("https://s3.eu-central-1.amazonaws.com", "LAMINA_PRODUCTION_S3_ENDPOINT", 1),
            (production.Endpoint, production.EndpointVariable, production.EndpointSource!.Line));
        Assert.Equal("environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)", artifacts.Credentials);
        // The production store's own profile is used alone, not mixed with the shared keys.
        Assert.Equal("profile release (LAMINA_PRODUCTION_AWS_PROFILE, environment)", production.Credentials);
        Assert.Null(settings.S3Environment(settings.Production)("AWS_SECRET_ACCESS_KEY"));
        Assert.DoesNotContain("planted", artifacts.ToString());
        Assert.DoesNotContain("AKIDEXAMPLE", artifacts.ToString());
        Assert.Equal("release", settings.S3Environment(settings.Production)("AWS_PROFILE"));
        Assert.Null(settings.S3Environment(settings.Artifacts)("AWS_PROFILE"));
        Assert.Equal("https://s3.eu-central-1.amazonaws.com", settings.S3Environment(settings.Production)("LAMINA_S3_ENDPOINT"));
    }

    [Fact]
    public void S3_WithoutCredentialsOfItsOwn_TheProductionStoreUsesTheSharedOnes()
    {
        _environment["LAMINA_PRODUCTION"] = "s3://production/y";
        ConfigFile("AWS_PROFILE: team\n");

        var settings = Resolve();

        Assert.Equal($"profile team (AWS_PROFILE, {_home.Combine("config.yaml")}:1)", settings.S3AccessOf(settings.Production).Credentials);
        Assert.Equal("team", settings.S3Environment(settings.Production)("AWS_PROFILE"));
        Assert.Null(settings.S3AccessOf(settings.Production).Endpoint);
    }

    [Theory]
    [InlineData("LAMINA_TRACKING", "mysql://db/lamina", "unknown scheme 'mysql'")]
    [InlineData("LAMINA_TRACKING", "sqlite:tracking.db", "must be an absolute path")]
    [InlineData("LAMINA_TRACKING", "sqlite:///data/tracking.db", "one colon, no '//'")]
    [InlineData("LAMINA_TRACKING", "/data/tracking.db", "expected sqlite:/path/tracking.db or postgresql://")]
    [InlineData("LAMINA_TRACKING", "postgresql://bob:pw@db:5432/", "names no database")]
    [InlineData("LAMINA_ARTIFACTS", "relative/blobs", "must be an absolute path")]
    [InlineData("LAMINA_ARTIFACTS", "s3://Bad_Bucket/x", "is not a bucket name")]
    [InlineData("LAMINA_ARTIFACTS", "s3://key:secret@bucket/x", "credentials do not belong in the URI")]
    [InlineData("LAMINA_PRODUCTION", "gs://bucket/x", "unknown scheme 'gs'")]
    [InlineData("LAMINA_S3_ENDPOINT", "localhost:4569", "is not an S3 endpoint")]
    public void BadValue_FromTheEnvironment_IsAValidationErrorNamingTheVariable(string variable, string value, string expected)
    {
        _environment[variable] = value;

        var error = Refused();

        var diagnostic = Assert.Single(error.Diagnostics);
        Assert.Equal(("environment", variable), (diagnostic.Location.File, diagnostic.KeyPath));
        Assert.Contains(expected, diagnostic.Message);
        Assert.DoesNotContain("secret", error.Message);
        Assert.DoesNotContain(":pw@", error.Message);
    }

    [Fact]
    public void BadConfigFile_NamesFileLineAndKey_ForEveryProblemAtOnce()
    {
        ConfigFile("""
            LAMINA_TRACKING: sqlite:/srv/lamina/tracking.db
            LAMINA_TRAKING: sqlite:/x
            AWS_SECRET_ACCESS_KEY: planted
            LAMINA_ARTIFACTS: ftp://files/blobs
            """);

        var error = Refused();

        Assert.Equal(
            [(2, "LAMINA_TRAKING", "did you mean 'LAMINA_TRACKING'"), (3, "AWS_SECRET_ACCESS_KEY", "does not belong in config.yaml"), (4, "LAMINA_ARTIFACTS", "unknown scheme 'ftp'")],
            error.Diagnostics.Select(d => (d.Location.Line, d.KeyPath, Matching(d.Message))).ToList());
        Assert.All(error.Diagnostics, d => Assert.Equal(_home.Combine("config.yaml"), d.Location.File));

        static string Matching(string message) =>
            new[] { "did you mean 'LAMINA_TRACKING'", "does not belong in config.yaml", "unknown scheme 'ftp'" }.Single(message.Contains);
    }

    [Fact]
    public void ConfigFile_NotAMapping_OrNotYaml_IsRefusedWithItsPlace()
    {
        ConfigFile("- LAMINA_TRACKING\n");
        Assert.Contains("expected a mapping", Refused().Message);

        ConfigFile("LAMINA_TRACKING: [unclosed\n");
        Assert.Contains("YAML syntax error", Refused().Message);
    }
}
