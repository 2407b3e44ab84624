namespace Lamina.Cli.Tests;

public sealed class RunsListCommandTests : IDisposable
{
    private readonly TemporaryDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task RunsList_StatusFilter_TakesAnyCase_AndAnUnknownStatusIsAUsageError()
    {
        // Given an empty store (--status is parsed on use, so that no command loads Lamina.Tracking at start)
        var lamina = new LaminaProcess(_temp.Combine("home"));

        // When runs are listed by a status, then by one that does not exist
        var completed = await lamina.RunAsync(_temp.Path, "runs", "list", "--status", "Completed", "--json");
        var bogus = await lamina.RunAsync(_temp.Path, "runs", "list", "--status", "finished");

        // Then the first lists none, and the second names the statuses there are
        Assert.True(completed.ExitCode == 0, completed.ToString());
        Assert.Equal("[]", completed.Stdout.Trim());
        Assert.Equal(ExitCodes.Usage, bogus.ExitCode);
        Assert.Contains("--status must be queued, running, completed, failed or aborted, not 'finished'", bogus.Stderr);
    }
}
