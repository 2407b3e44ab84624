using System.Text.Json;

namespace Lamina.Cli.Tests;

/// <summary><c>--provider</c> where embedding and testing happen: CUDA that cannot start is refused before anything, never replaced by the CPU.</summary>
public sealed class ProviderCommandTests : IDisposable
{
    private const string Experiment = """
        version: 1
        project:
          project_name: Provider
        models:
          probe:
            architecture: {cls: LinearHead}
            loss: {cls: CrossEntropy}
        data:
          loaders:
            tiles:
              cls: DiskLoader
              params: {wsi_path: slides/, labels_path: slides/, tile_size: 224, mpp: 0.5}
        tasks:
          train:
            type: training
            params: {model: probe, n_epochs: 1, train_loader: tiles}
        """;

    private readonly TemporaryDirectory _temp = new();
    private readonly LaminaProcess _lamina;

    public ProviderCommandTests()
    {
        _lamina = new LaminaProcess(Path.Combine(_temp.Path, "home"));
        Directory.CreateDirectory(_temp.Combine("slides"));
        File.WriteAllText(_temp.Combine("lamina.yaml"), Experiment);
    }

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task Run_WithCudaWhereItCannotStart_FailsClearly_AndCreatesNoRun()
    {
        var result = await _lamina.RunAsync(_temp.Path, "run", "train", "--provider", "cuda");

        Assert.True(result.ExitCode != 0, result.ToString());
        Assert.Contains("execution provider Cuda could not start", result.Stderr);
        Assert.Contains("does not fall back", result.Stderr);
        var runs = await _lamina.RunAsync(_temp.Path, "runs", "list", "--json");
        Assert.True(runs.ExitCode == 0, runs.ToString());
        Assert.Equal(0, JsonDocument.Parse(runs.Stdout).RootElement.GetArrayLength());
    }

    [Theory]
    [InlineData("--provider rocm", "--provider must be cpu or cuda, not 'rocm'")]
    [InlineData("--provider cuda --remote gpu", "a remote run executes where its worker's 'lamina worker --provider' says")]
    public async Task Run_WithABadProviderOption_IsRefused(string options, string message)
    {
        var result = await _lamina.RunAsync(_temp.Path, ["run", "train", .. options.Split(' ')]);

        Assert.True(result.ExitCode != 0, result.ToString());
        Assert.Contains(message, result.Stdout + result.Stderr);
    }

    [Fact]
    public async Task Analyze_WithCudaWhereItCannotStart_FailsBeforeReadingTheSlide()
    {
        // The slide does not exist: the provider is refused first, so that is not what the error says.
        var result = await _lamina.RunAsync(_temp.Path, "analyze", "missing.svs", "--config", "analysis.yaml", "--out", "results", "--provider", "cuda");

        Assert.True(result.ExitCode != 0, result.ToString());
        Assert.Contains("execution provider Cuda could not start", result.Stderr);
        Assert.DoesNotContain("missing.svs", result.Stderr);
        Assert.False(Directory.Exists(_temp.Combine("results")));
    }

    [Fact]
    public async Task Worker_WithCudaWhereItCannotStart_StopsAtOnce()
    {
        var result = await _lamina.RunAsync(_temp.Path, "worker", "--queue", "gpu", "--provider", "cuda");

        Assert.True(result.ExitCode != 0, result.ToString());
        Assert.Contains("execution provider Cuda could not start", result.Stderr);
    }
}
