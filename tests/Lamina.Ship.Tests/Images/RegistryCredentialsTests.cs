using System.Text;
using Lamina.Ship.Images;
using Lamina.Ship.Images.Registry;
using Lamina.Testing;

namespace Lamina.Ship.Tests.Images;

/// <summary>Where registry credentials come from (variables, then the auth files skopeo, podman and docker write), and which hosts get plain http.</summary>
public sealed class RegistryCredentialsTests : IDisposable
{
    private readonly TemporaryDirectory _folder = new();

    public void Dispose() => _folder.Dispose();

    [Fact]
    public void Find_VariablesComeFirst_ForEveryRegistry()
    {
        var authFile = WriteAuthFile("auth.json", "registry.example.org", "fileuser", "filepass");
        var environment = Environment(("LAMINA_REGISTRY_USERNAME", "ci"), ("LAMINA_REGISTRY_PASSWORD", "s3cret"), ("REGISTRY_AUTH_FILE", authFile));

        var found = RegistryCredentials.Find("registry.example.org", environment);
        var other = RegistryCredentials.Find("elsewhere:5000", environment);

        Assert.Equal(("ci", "s3cret"), (found!.Username, found.Password));
        Assert.Equal("ci", other!.Username);
        Assert.Contains("LAMINA_REGISTRY_USERNAME", found.Source, StringComparison.Ordinal);
    }

    [Fact]
    public void Find_ReadsTheAuthFiles_InSkopeosOrder_MatchingTheHostHoweverTheEntryIsWritten()
    {
        var authFile = WriteAuthFile("auth.json", "registry.example.org:5000", "podman", "p1");
        var runtime = _folder.Combine("run");
        WriteAuthFile(Path.Combine("run", "containers", "auth.json"), "https://runtime.example.org", "runtime", "p2");
        WriteAuthFile(Path.Combine("home", ".docker", "config.json"), "https://docker.example.org/v1/", "docker", "p3");
        var environment = Environment(("REGISTRY_AUTH_FILE", authFile), ("XDG_RUNTIME_DIR", runtime), ("HOME", _folder.Combine("home")));

        Assert.Equal("podman", RegistryCredentials.Find("registry.example.org:5000", environment)?.Username);
        Assert.Equal("runtime", RegistryCredentials.Find("runtime.example.org", environment)?.Username);
        Assert.Equal("docker", RegistryCredentials.Find("docker.example.org", environment)?.Password is "p3" ? "docker" : null);
        Assert.Null(RegistryCredentials.Find("registry.example.org", environment));
        Assert.Null(RegistryCredentials.Find("unknown.example.org", environment));
        Assert.Contains(authFile, RegistryCredentials.Find("registry.example.org:5000", environment)!.Source, StringComparison.Ordinal);
    }

    [Fact]
    public void Find_AuthFileThatIsNotJson_FailsNamingTheFile()
    {
        var path = _folder.Combine("broken.json");
        File.WriteAllText(path, "{ not json");

        var error = Assert.Throws<ImageException>(() => RegistryCredentials.Find("registry.example.org", Environment(("REGISTRY_AUTH_FILE", path))));

        Assert.Contains(path, error.Message, StringComparison.Ordinal);
        Assert.Equal(path, error.At);
    }

    [Fact]
    public void Find_AuthEntryThatIsNotUserColonPassword_FailsNamingTheEntry()
    {
        var path = _folder.Combine("auth.json");
        File.WriteAllText(path, "{\"auths\":{\"registry.example.org\":{\"auth\":\"" + Convert.ToBase64String("no-colon"u8) + "\"}}}");

        var error = Assert.Throws<ImageException>(() => RegistryCredentials.Find("registry.example.org", Environment(("REGISTRY_AUTH_FILE", path))));

        Assert.Contains("auths.registry.example.org.auth", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Credentials_PrintedAnywhere_NeverShowThePassword()
    {
        var credentials = new RegistryCredentials("robot", "hunter2-secret", "LAMINA_REGISTRY_USERNAME/LAMINA_REGISTRY_PASSWORD");

        Assert.DoesNotContain("hunter2-secret", credentials.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain("hunter2-secret", $"{credentials}", StringComparison.Ordinal);
        Assert.Contains("robot", credentials.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("localhost:5000", null, true)]
    [InlineData("127.0.0.1:41234", null, true)]
    [InlineData("[::1]:5000", null, true)]
    [InlineData("registry.example.org", null, false)]
    [InlineData("registry.example.org:5000", "other.example.org;registry.example.org:5000", true)]
    [InlineData("registry.example.org:5000", " Registry.Example.Org , other", true)]
    [InlineData("registry.example.org:5000", "registry.example.org:6000", false)]
    [InlineData("registry.example.org", "registry.example.org:5000", false)]
    public void IsInsecure_LoopbackAlways_OtherHostsOnlyWhenListed(string registry, string? listed, bool insecure)
    {
        var options = new RegistryOptions { Environment = name => name == RegistryOptions.InsecureRegistriesVariable ? listed : null };

        Assert.Equal(insecure, options.IsInsecure(registry));
        Assert.Equal(insecure ? "http" : "https", new RegistryClient(registry, options).BaseUri.Scheme);
    }

    private string WriteAuthFile(string relative, string key, string user, string password)
    {
        var path = _folder.Combine(relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var auth = Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{password}"));
        File.WriteAllText(path, "{\"auths\":{\"" + key + "\":{\"auth\":\"" + auth + "\"}}}");
        return path;
    }

    private static Func<string, string?> Environment(params (string Name, string Value)[] variables)
    {
        var map = variables.ToDictionary(v => v.Name, v => (string?)v.Value);
        return name => map.GetValueOrDefault(name);
    }
}
