namespace Lamina.Serve.Tests;

public sealed class ServeOptionsTests : IDisposable
{
    private readonly TemporaryDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    private ServeOptions From(params string[] args) => ServeOptions.From(ServeOptions.Configuration(args, _temp.Path));

    [Fact]
    public void From_TheCommandLine_SetsEveryOption()
    {
        var options = From("--bundle", "/b", "--queue", "q", "--concurrency", "3", "--grace", "2.5", "--lease", "9", "--attempts", "2",
            "--instance", "node-1", "--http", "", "--image-digest", "sha256:abc");

        Assert.Equal(("/b", "q", 3, 2.5, 9.0, 2, "node-1", "", "sha256:abc"),
            (options.Bundle, options.Queue, options.Concurrency, options.Grace, options.Lease, options.Attempts, options.Instance, options.Http, options.ImageDigest));
    }

    [Fact]
    public void From_AppSettingsAndTheCommandLine_TheCommandLineWins()
    {
        File.WriteAllText(_temp.Combine("appsettings.json"), """{"Serve": {"Bundle": "/from-file", "Concurrency": 4}}""");

        var options = From("--concurrency", "2");

        Assert.Equal(("/from-file", 2), (options.Bundle, options.Concurrency));
    }

    [Theory]
    [InlineData(new string[0], "give what to serve: --bundle DIR")]
    [InlineData(new[] { "--bundle", "a", "--config", "b" }, "not both")]
    [InlineData(new[] { "--bundle", "a", "--concurrency", "0" }, "--concurrency must be a number from 1 to 256, not '0'")]
    [InlineData(new[] { "--bundle", "a", "--lease", "soon" }, "--lease must be a number from 1")]
    [InlineData(new[] { "--bundle", "a", "--provider", "tpu" }, "--provider must be cpu or cuda, not 'tpu'")]
    [InlineData(new[] { "--bundle", "a", "--instance", "a/b" }, "--instance 'a/b'")]
    public void From_ABadSetting_NamesIt(string[] args, string expected)
    {
        var error = Assert.Throws<ServeException>(() => From(args));

        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Configuration_AnEnvironmentVariable_IsTheSettingWithoutUnderscores_AndTheCommandLineWins()
    {
        // Only this class reads LAMINA_SERVE_* variables, and its tests run one at a time.
        Environment.SetEnvironmentVariable("LAMINA_SERVE_IMAGE_DIGEST", "sha256:from-env");
        Environment.SetEnvironmentVariable("LAMINA_SERVE_QUEUE", "from-env");
        try
        {
            var options = From("--bundle", "/b", "--queue", "from-args");

            Assert.Equal(("sha256:from-env", "from-args"), (options.ImageDigest, options.Queue));
        }
        finally
        {
            Environment.SetEnvironmentVariable("LAMINA_SERVE_IMAGE_DIGEST", null);
            Environment.SetEnvironmentVariable("LAMINA_SERVE_QUEUE", null);
        }
    }
}
