namespace Lamina.Tracking.Tests;

public sealed class LaminaHomeTests
{
    [Fact]
    public void Paths_AreUnderTheRoot_AndEnsureCreatedMakesTheFolders()
    {
        using var directory = new TemporaryDirectory();
        var home = new LaminaHome(directory.Combine("home"));

        home.EnsureCreated();

        Assert.Equal(directory.Combine("home", "tracking.db"), home.DatabasePath);
        Assert.True(Directory.Exists(home.BlobsPath));
        Assert.True(Directory.Exists(home.PluginCachePath));
        Assert.Equal(directory.Combine("home", "blobs"), home.BlobsPath);
        Assert.Equal(directory.Combine("home", "plugin-cache"), home.PluginCachePath);
        Assert.Equal(directory.Combine("home", "embeddings"), home.EmbeddingsPath);
    }

    [Fact]
    public void Resolve_WithoutLaminaHome_UsesDotLaminaInTheProfile()
    {
        // Environment variables are process-wide: only the unset case is checked here, so parallel tests stay unaffected.
        if (Environment.GetEnvironmentVariable(LaminaHome.EnvironmentVariable) is { Length: > 0 } set)
        {
            Assert.Equal(Path.GetFullPath(set), LaminaHome.Resolve().Root);
            return;
        }

        Assert.Equal(Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".lamina"), LaminaHome.Resolve().Root);
    }
}
