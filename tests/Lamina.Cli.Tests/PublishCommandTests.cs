using System.Text;
using System.Text.Json;
using Lamina.Core.Inference;
using Lamina.Tracking;
using Microsoft.Data.Sqlite;

namespace Lamina.Cli.Tests;

/// <summary><c>lamina publish</c>, the immutability of a published run, and <c>lamina audit</c>, through the real command.</summary>
public sealed class PublishCommandTests : IDisposable
{
    private readonly TemporaryDirectory _temp = new();
    private readonly LaminaProcess _lamina;

    public PublishCommandTests() => _lamina = new LaminaProcess(Path.Combine(_temp.Path, "home"));

    public void Dispose() => _temp.Dispose();

    private string DatabasePath => Path.Combine(_lamina.Home, "tracking.db");

    // A run with a model package, stored through the API (training one through the CLI would take a minute).
    private async Task<Guid> RunWithModelAsync(RunStatus status, int headBytes = 0)
    {
        var home = new LaminaHome(_lamina.Home).EnsureCreated();
        await using var store = await SqliteTrackingStore.OpenAsync(home.DatabasePath, TimeProvider.System, CancellationToken.None, actor: "ada@gpu-01");
        var blobs = new FileBlobStore(home.BlobsPath);
        var environment = new EnvironmentInfo("os", "x64", "cpu", 1, 1, null, "net", "0", new Dictionary<string, string>());
        var run = await store.CreateRunAsync(
            new NewRun("cli", "train", "training", [], null, "ada", "gpu-01", "lamina.yaml", "{}", null, environment, []), CancellationToken.None);
        var head = headBytes == 0 ? Encoding.UTF8.GetBytes("head weights") : RandomBytes(headBytes);
        var card = new ModelCard
        {
            Name = "tumour",
            Kind = "trained",
            Input = new InputSpec(224, 0.5, null, 0, 3),
            Classes = ["normal", "tumour"],
            Network = ModelPackages.Describe("head.onnx", head),
        };
        await ModelPackages.StoreAsync(store, blobs, run.Id, card, new Dictionary<string, byte[]> { ["head.onnx"] = head }, CancellationToken.None);
        await store.FinishRunAsync(run.Id, status, status == RunStatus.Failed ? "diverged" : null, CancellationToken.None);
        return run.Id;
    }

    private async Task<LaminaResult> RunAsync(params string[] arguments) => await _lamina.RunAsync(_temp.Path, arguments);

    private static byte[] RandomBytes(int count)
    {
        var bytes = new byte[count];
        new Random(7).NextBytes(bytes);
        return bytes;
    }

    [Fact]
    public async Task Publish_KilledAtRandomMoments_LeavesNoModelOrAWholeVerifiedOne_AndTheNextPublishCompletes()
    {
        // Given a run whose model is big enough (48 MB) for a kill to land while it is being copied or verified
        var run = await RunWithModelAsync(RunStatus.Completed, headBytes: 48 << 20);
        var production = new Lamina.Ship.FolderProductionStore(Path.Combine(_lamina.Home, "production"));
        var random = new Random(11);

        for (var attempt = 0; attempt < 8; attempt++)
        {
            // When `lamina publish` is killed after a random delay
            using (var process = _lamina.Start(_temp.Path, "publish", run.ToString()))
            {
                await Task.Delay(random.Next(300, 2500));
                if (!process.HasExited) process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync();
            }

            // Then the production store holds either no model or a whole one that verifies
            if (await production.ContainsAsync(run, "tumour", CancellationToken.None))
            {
                var published = await production.OpenAsync(run, "tumour", CancellationToken.None);
                Assert.Equal(48 << 20, new FileInfo(Path.Combine(published.Location, "head.onnx")).Length);
            }
            else
            {
                Assert.False(Directory.Exists(production.FolderOf(run, "tumour")));
            }
        }

        // And a last publish, left to finish, completes (or finds it done), and the audit chain is intact
        var last = await RunAsync("publish", run.ToString());
        Assert.True(last.ExitCode == 0, last.ToString());
        await production.OpenAsync(run, "tumour", CancellationToken.None);
        Assert.Equal(0, (await RunAsync("audit", "verify")).ExitCode);
    }

    [Fact]
    public async Task Publish_CopiesTheModel_SaysSoWhenRepeated_AndTheRunCanNoLongerBeDeleted()
    {
        // Given a completed run with a model
        var run = await RunWithModelAsync(RunStatus.Completed);

        // When it is published, twice
        var first = await RunAsync("publish", run.ToString()[..8], "--reason", "validated on cohort B");
        var second = await RunAsync("publish", run.ToString());

        // Then the first copies it into the production store, the second says it already is
        Assert.True(first.ExitCode == 0, first.ToString());
        Assert.Contains($"published model 'tumour' of run {run}", first.Stdout);
        var folder = Path.Combine(_lamina.Home, "production", run.ToString(), "tumour");
        Assert.True(File.Exists(Path.Combine(folder, "manifest.json")));
        Assert.True(second.ExitCode == 0, second.ToString());
        Assert.Contains("already published: model 'tumour'", second.Stdout);
        var shown = JsonDocument.Parse((await RunAsync("runs", "show", run.ToString(), "--json")).Stdout).RootElement;
        Assert.Equal("tumour", shown.GetProperty("published").EnumerateArray().Single().GetProperty("model_name").GetString());
        Assert.Contains("published", (await RunAsync("runs", "show", run.ToString())).Stdout);

        // And deleting the run is refused with the reason
        var delete = await RunAsync("runs", "delete", run.ToString(), "--yes");
        Assert.Equal(ExitCodes.Conflict, delete.ExitCode);
        Assert.Contains($"error: run {run} is published (at ", delete.Stderr);
        Assert.Contains("it cannot be deleted", delete.Stderr);
        Assert.True(File.Exists(Path.Combine(folder, "head.onnx")));

        // And the production copy, altered, is reported rather than repaired
        File.AppendAllText(Path.Combine(folder, "head.onnx"), "!");
        var altered = await RunAsync("publish", run.ToString());
        Assert.Equal(ExitCodes.Integrity, altered.ExitCode);
        Assert.Contains("its production copy was altered", altered.Stderr);
    }

    [Fact]
    public async Task Publish_AFailedRun_IsRefusedWithTheReason()
    {
        var run = await RunWithModelAsync(RunStatus.Failed);

        var result = await RunAsync("publish", run.ToString(), "--json");

        Assert.Equal(ExitCodes.Conflict, result.ExitCode);
        Assert.Contains($"run {run} is failed (diverged): only a completed run that produced a model can be published", result.Stderr);
        Assert.False(Directory.Exists(Path.Combine(_lamina.Home, "production", run.ToString())));
    }

    [Fact]
    public async Task Audit_LogsEveryChange_AndVerifyDetectsATamperedEntry()
    {
        // Given a published run
        var run = await RunWithModelAsync(RunStatus.Completed);
        var publish = await RunAsync("publish", run.ToString(), "--reason", "release 1", "--json");
        Assert.True(publish.ExitCode == 0, publish.ToString());
        Assert.Equal("published", JsonDocument.Parse(publish.Stdout).RootElement.GetProperty("outcome").GetString());

        // When the audit log is listed and verified
        var log = await RunAsync("audit", "log");
        var json = await RunAsync("audit", "log", "--object", run.ToString()[..8], "--json");
        var verify = await RunAsync("audit", "verify");

        // Then it holds the run's creation, finish and publication, and the chain is intact
        Assert.True(log.ExitCode == 0, log.ToString());
        Assert.Contains("model.published", log.Stdout);
        Assert.Contains("release 1", log.Stdout);
        var actions = JsonDocument.Parse(json.Stdout).RootElement.EnumerateArray().Select(e => e.GetProperty("action").GetString()).ToList();
        Assert.Equal(["run.created", "run.finished", "model.published"], actions);
        Assert.True(verify.ExitCode == 0, verify.ToString());
        Assert.Contains("3 entries, chain intact", verify.Stdout);

        // And the head's anchor, kept elsewhere, holds later; one past the end, or malformed, does not
        var anchor = JsonDocument.Parse((await RunAsync("audit", "verify", "--json")).Stdout).RootElement.GetProperty("anchor").GetString()!;
        Assert.StartsWith("3:", anchor);
        var holds = await RunAsync("audit", "verify", "--expect", anchor);
        Assert.True(holds.ExitCode == 0, holds.ToString());
        Assert.Contains("1 anchor(s) hold", holds.Stdout);
        var beyond = await RunAsync("audit", "verify", "--expect", "9" + anchor[1..]);
        Assert.Equal(ExitCodes.Integrity, beyond.ExitCode);
        Assert.Contains("there is no entry 9 any more", beyond.Stderr);
        var malformed = await RunAsync("audit", "verify", "--expect", "head");
        Assert.NotEqual(0, malformed.ExitCode);
        Assert.Contains("expected SEQ:HASH", malformed.Stdout + malformed.Stderr);

        // When someone drops the trigger and edits an entry
        await using (var connection = new SqliteConnection($"Data Source={DatabasePath};Pooling=false"))
        {
            await connection.OpenAsync();
            await using var command = connection.CreateCommand();
            command.CommandText = """
                DROP TRIGGER audit_log_no_update;
                UPDATE audit_log SET who = 'mallory@elsewhere' WHERE seq = 2;
                CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
                """;
            await command.ExecuteNonQueryAsync();
        }
        var tampered = await RunAsync("audit", "verify");
        var tamperedJson = await RunAsync("audit", "verify", "--json");

        // Then verify names the entry and fails
        Assert.Equal(ExitCodes.Integrity, tampered.ExitCode);
        Assert.Contains("the audit chain is broken at entry 2", tampered.Stderr);
        Assert.Contains("a field of entry 2 (run.finished", tampered.Stderr);
        Assert.Equal(ExitCodes.Integrity, tamperedJson.ExitCode);
        Assert.Equal(2, JsonDocument.Parse(tamperedJson.Stdout).RootElement.GetProperty("broken_seq").GetInt64());
    }
}
