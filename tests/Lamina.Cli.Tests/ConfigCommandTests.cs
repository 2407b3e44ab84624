using System.Text.Json;

namespace Lamina.Cli.Tests;

/// <summary>Issue 13, item 1: <c>lamina config show</c> and the store settings every command opens.</summary>
public sealed class ConfigCommandTests : IDisposable
{
    private readonly TemporaryDirectory _temp = new();
    private readonly LaminaProcess _lamina;

    public ConfigCommandTests() => _lamina = new LaminaProcess(_temp.Combine("home"));

    public void Dispose() => _temp.Dispose();

    private string ConfigFile => Path.Combine(_lamina.Home, "config.yaml");

    private void WriteConfig(string text)
    {
        Directory.CreateDirectory(_lamina.Home);
        File.WriteAllText(ConfigFile, text);
    }

    private async Task<JsonElement> ShowJsonAsync()
    {
        var result = await _lamina.RunAsync(_temp.Path, "config", "show", "--json");
        Assert.True(result.ExitCode == 0, result.ToString());
        return JsonDocument.Parse(result.Stdout).RootElement.GetProperty("stores");
    }

    [Fact]
    public async Task ConfigShow_WithNothingSet_ShowsTheDefaultsInTheHome()
    {
        var text = await _lamina.RunAsync(_temp.Path, "config", "show");
        var stores = await ShowJsonAsync();

        Assert.True(text.ExitCode == 0, text.ToString());
        Assert.Contains($"sqlite:{Path.Combine(_lamina.Home, "tracking.db")}", text.Stdout);
        Assert.Equal("sqlite", stores.GetProperty("tracking").GetProperty("backend").GetString());
        Assert.Equal(Path.Combine(_lamina.Home, "blobs"), stores.GetProperty("artifacts").GetProperty("value").GetString());
        Assert.Equal(Path.Combine(_lamina.Home, "production"), stores.GetProperty("production").GetProperty("value").GetString());
        Assert.All(stores.EnumerateObject(), s => Assert.Equal("default", s.Value.GetProperty("source").GetProperty("kind").GetString()));
    }

    [Fact]
    public async Task ConfigShow_NamesWhereEachValueCameFrom_AndMasksPasswordsAndCredentials()
    {
        WriteConfig("""
            LAMINA_TRACKING: postgresql://lamina:planted-pw@db.example.org:5432/lamina
            LAMINA_PRODUCTION: s3://team-production/models
            LAMINA_PRODUCTION_S3_ENDPOINT: http://localhost:4569
            """);
        _lamina.Environment["LAMINA_ARTIFACTS"] = _temp.Combine("blobs");
        _lamina.Environment["AWS_ACCESS_KEY_ID"] = "AKIDPLANTED";
        _lamina.Environment["AWS_SECRET_ACCESS_KEY"] = "planted-secret-key";

        var text = await _lamina.RunAsync(_temp.Path, "config", "show");
        var json = await _lamina.RunAsync(_temp.Path, "config", "show", "--json");

        Assert.True(text.ExitCode == 0, text.ToString());
        foreach (var output in new[] { text.Stdout, json.Stdout })
        {
            Assert.DoesNotContain("planted", output, StringComparison.OrdinalIgnoreCase);
            Assert.Contains("postgresql://lamina:***@db.example.org:5432/lamina", output);
        }
        Assert.Contains($"{ConfigFile}:1", text.Stdout);
        Assert.Contains("environment (LAMINA_ARTIFACTS)", text.Stdout);
        Assert.Contains("endpoint http://localhost:4569", text.Stdout);
        Assert.Contains("credentials from environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)", text.Stdout);
        var stores = JsonDocument.Parse(json.Stdout).RootElement.GetProperty("stores");
        Assert.Equal(("config_file", 1), (stores.GetProperty("tracking").GetProperty("source").GetProperty("kind").GetString(),
            stores.GetProperty("tracking").GetProperty("source").GetProperty("line").GetInt32()));
        Assert.Equal("environment", stores.GetProperty("artifacts").GetProperty("source").GetProperty("kind").GetString());
        var s3 = stores.GetProperty("production").GetProperty("s3");
        Assert.Equal(("http://localhost:4569", "LAMINA_PRODUCTION_S3_ENDPOINT", 3),
            (s3.GetProperty("endpoint").GetString(), s3.GetProperty("endpoint_variable").GetString(), s3.GetProperty("endpoint_source").GetProperty("line").GetInt32()));
    }

    [Fact]
    public async Task BadSetting_IsAValidationError_NamingTheVariableOrFileLineAndKey()
    {
        _lamina.Environment["LAMINA_TRACKING"] = "mysql://db/lamina";
        var fromEnvironment = await _lamina.RunAsync(_temp.Path, "runs", "list");
        _lamina.Environment.Remove("LAMINA_TRACKING");
        WriteConfig("LAMINA_ARTIFACTS: blobs/relative\n");
        var fromFile = await _lamina.RunAsync(_temp.Path, "config", "show", "--json");

        Assert.Equal(3, fromEnvironment.ExitCode);
        Assert.Contains("environment: error: LAMINA_TRACKING: unknown scheme 'mysql'", fromEnvironment.Stderr);
        Assert.Equal(3, fromFile.ExitCode);
        var error = JsonDocument.Parse(fromFile.Stdout).RootElement.GetProperty("error");
        Assert.Contains($"{ConfigFile}:1:1: LAMINA_ARTIFACTS: 'blobs/relative': a folder must be an absolute path", error.GetProperty("message").GetString());
    }

    [Fact]
    public async Task Stores_NamedInConfigFile_AreTheOnesEveryCommandOpens()
    {
        var tracking = _temp.Combine("team", "tracking.db");
        var blobs = _temp.Combine("team", "blobs");
        WriteConfig($"LAMINA_TRACKING: sqlite:{tracking}\nLAMINA_ARTIFACTS: {blobs}\n");

        var list = await _lamina.RunAsync(_temp.Path, "runs", "list", "--json");

        Assert.True(list.ExitCode == 0, list.ToString());
        Assert.True(File.Exists(tracking), "the tracking store named in config.yaml is the one opened");
        Assert.False(File.Exists(Path.Combine(_lamina.Home, "tracking.db")));
    }

    [Fact]
    public async Task AnUnreachablePostgresStore_IsOneLineNamingIt_WithThePasswordMasked()
    {
        // A port nothing listens on: the server is down.
        var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        _lamina.Environment["LAMINA_TRACKING"] = $"postgresql://lamina:planted-pw@127.0.0.1:{port}/lamina";

        var tracking = await _lamina.RunAsync(_temp.Path, "runs", "list");

        Assert.True(tracking.ExitCode == ExitCodes.Unavailable, tracking.ToString());
        Assert.Contains($"postgresql://lamina:***@127.0.0.1:{port}/lamina", tracking.Stderr);
        Assert.DoesNotContain("planted", tracking.Stderr + tracking.Stdout);
    }
}
