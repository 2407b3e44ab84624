namespace Lamina.Cli.Tests;

public sealed class HelpTests
{
    [Fact]
    public async Task Help_OfEveryCommand_PrintsItsOptions_NeverAnError()
    {
        // Given every command the application registers (the index is filled when the application is configured)
        await LaminaApp.RunAsync(["--version"]);
        var paths = LaminaApp.Commands.Paths.Order(StringComparer.Ordinal).ToList();
        Assert.Contains("image build", paths);
        var home = Path.Combine(Path.GetTempPath(), $"lamina-help-{Guid.NewGuid():N}");
        try
        {
            // When each one's --help is asked for (descriptions are Spectre markup: a lone '[' in one crashed it)
            Directory.CreateDirectory(home);
            var lamina = new LaminaProcess(home);
            var failures = new List<string>();
            foreach (var batch in paths.Chunk(4))
            {
                var results = await Task.WhenAll(batch.Select(path => lamina.RunAsync(home, [.. path.Split(' '), "--help"])));
                failures.AddRange(batch.Zip(results).Where(r => r.Second.ExitCode != 0 || !r.Second.Stdout.Contains("OPTIONS:", StringComparison.Ordinal))
                    .Select(r => $"lamina {r.First} --help: {r.Second}"));
            }

            // Then each exits 0 and lists its options
            Assert.True(failures.Count == 0, string.Join("\n\n", failures));
        }
        finally
        {
            if (Directory.Exists(home)) Directory.Delete(home, recursive: true);
        }
    }
}
