using System.Text;
using System.Text.Json;

namespace Lamina.Cli.Tests;

/// <summary>
/// Issue 13, item 8: a new user's repository whose remote holds a token, with a secret in the experiment file and one
/// given with --set. One run, then nothing of them is shown, exported or anywhere in the store; the run itself used them.
/// </summary>
public sealed class SecretsCommandTests : IDisposable
{
    private readonly TemporaryDirectory _temp = new();
    private readonly LaminaProcess _lamina;
    private readonly string _repository;

    // Planted values, unique per test, that must appear in no output and no byte of the store.
    private readonly string _remoteToken = $"ghp{Guid.NewGuid():N}";
    private readonly string _committedToken = $"committed{Guid.NewGuid():N}";
    private readonly string _apiToken = $"apitoken{Guid.NewGuid():N}";
    private readonly string _databasePassword = $"dbpw{Guid.NewGuid():N}";

    public SecretsCommandTests()
    {
        _lamina = new LaminaProcess(_temp.Combine("home"));
        _repository = _temp.Combine("exp");
        Directory.CreateDirectory(Path.Combine(_repository, "plugins"));
        File.WriteAllText(Path.Combine(_repository, "plugins", "Uploader.cs"), """
            using Lamina.Core.Plugins;

            public sealed class Uploader(string apiToken, string database) : ICustomTask
            {
                public Task RunAsync(IRunContext run, CancellationToken cancellationToken)
                {
                    // What the task was given, outside the store, so the test sees the run used the real values.
                    File.WriteAllText(Path.Combine(run.ExperimentDirectory, "received.txt"), apiToken + "\n" + database);
                    run.LogMetric("uploaded", 1, 0);
                    return Task.CompletedTask;
                }
            }
            """);
        File.WriteAllText(Path.Combine(_repository, "lamina.yaml"), Experiment(_committedToken));
        Git.Run(_repository, "init", "-q");
        Git.Run(_repository, "add", "-A");
        Git.Run(_repository, "commit", "-q", "-m", "uploader");
        Git.Run(_repository, "remote", "add", "origin", $"https://alice:{_remoteToken}@example.com/team/exp.git");
        // Edited, not committed: the recorded diff holds the experiment file's change.
        File.WriteAllText(Path.Combine(_repository, "lamina.yaml"), Experiment(_apiToken));
    }

    public void Dispose() => _temp.Dispose();

    private string[] Planted => [_remoteToken, _committedToken, _apiToken, _databasePassword];

    private string DatabaseSet => $"tasks.upload.params.params.database=postgresql://bob:{_databasePassword}@db.example.org:5432/lamina";

    private static string Experiment(string token) => $"""
        version: 1
        project:
          project_name: Secrets
          sources_path: [plugins]
        tasks:
          upload:
            type: custom
            params:
              cls: Uploader
              params:
                api_token: {token}
                database: none
        """;

    [Fact]
    public async Task Issue13_Run_WithTokensInRemoteConfigurationAndSet_StoresShowsAndExportsNoneOfThem()
    {
        // When
        var run = await _lamina.RunAsync(_repository, "run", "upload", "--set", DatabaseSet, "--json");
        Assert.True(run.ExitCode == 0, run.ToString());
        var id = JsonDocument.Parse(run.Stdout).RootElement.GetProperty("run_id").GetString()!;
        var show = await _lamina.RunAsync(_repository, "runs", "show", id);
        var json = await _lamina.RunAsync(_repository, "runs", "show", id, "--json");
        var diff = await _lamina.RunAsync(_repository, "runs", "show", id, "--diff");
        var compare = await _lamina.RunAsync(_repository, "runs", "compare", id, id);

        // Then the task had the real values
        Assert.Equal($"{_apiToken}\npostgresql://bob:{_databasePassword}@db.example.org:5432/lamina",
            File.ReadAllText(Path.Combine(_repository, "received.txt")));
        // and nothing printed holds them
        foreach (var output in new[] { run, show, json, diff, compare })
        {
            Assert.True(output.ExitCode == 0, output.ToString());
            foreach (var secret in Planted)
            {
                Assert.DoesNotContain(secret, output.Stdout + output.Stderr);
            }
        }
        var details = JsonDocument.Parse(json.Stdout).RootElement;
        Assert.Equal("https://alice:***@example.com/team/exp.git", details.GetProperty("git").GetProperty("remote").GetString());
        var parameters = details.GetProperty("configuration").GetProperty("tasks").GetProperty("upload").GetProperty("params").GetProperty("params");
        Assert.Equal("***", parameters.GetProperty("api_token").GetString());
        Assert.Equal("postgresql://bob:***@db.example.org:5432/lamina", parameters.GetProperty("database").GetString());
        Assert.Contains("+        api_token: \"***\"", diff.Stdout);
        Assert.Contains("https://alice:***@example.com/team/exp.git", show.Stdout);
        // and no byte of the store does: the database, its journal files, every blob
        AssertStoreHoldsNone(Planted);
    }

    [Fact]
    public async Task Issue13_Reproduce_OfARunWithMaskedSecrets_AsksForThemWithSet_AndRunsWithThemGiven()
    {
        var run = await _lamina.RunAsync(_repository, "run", "upload", "--set", DatabaseSet, "--json");
        Assert.True(run.ExitCode == 0, run.ToString());
        var id = JsonDocument.Parse(run.Stdout).RootElement.GetProperty("run_id").GetString()!;
        var work = _temp.Combine("work");
        Directory.CreateDirectory(work);

        // Without the secrets: refused before anything runs, naming each key and how to give it
        var refused = await _lamina.RunAsync(_repository, "reproduce", id, "--work", work);
        Assert.True(refused.ExitCode == 2, refused.ToString());
        Assert.Contains("--set tasks.upload.params.params.api_token=VALUE", refused.Stderr);
        Assert.Contains("--set tasks.upload.params.params.database=VALUE", refused.Stderr);
        Assert.Empty(Directory.GetDirectories(work));
        // --set gives the masked secrets, nothing else
        var other = await _lamina.RunAsync(_repository, "reproduce", id, "--work", work, "--set", "tasks.upload.type=training");
        Assert.True(other.ExitCode == 2, other.ToString());
        Assert.Contains("--set only gives the secrets it masked", other.Stderr);

        // With them: the reproduction runs with the real values, and records them masked again
        var reproduced = await _lamina.RunAsync(_repository, "reproduce", id, "--work", work, "--json",
            "--set", $"tasks.upload.params.params.api_token={_apiToken}", "--set", DatabaseSet);
        var result = JsonDocument.Parse(reproduced.Stdout).RootElement;
        Assert.True(result.GetProperty("run").GetProperty("status").GetString() == "completed", reproduced.ToString());
        var tree = result.GetProperty("work_tree").GetString()!;
        Assert.Equal($"{_apiToken}\npostgresql://bob:{_databasePassword}@db.example.org:5432/lamina", File.ReadAllText(Path.Combine(tree, "received.txt")));
        Assert.All(Planted, secret => Assert.DoesNotContain(secret, reproduced.Stdout + reproduced.Stderr));
        AssertStoreHoldsNone(Planted);
    }

    [Fact]
    public async Task Issue13_RunsShowAndCompare_OfARecordMadeBeforeSecretsWereMasked_ShowNoneOfIt()
    {
        // Given a run recorded as an earlier Lamina did: the remote's token and the configuration's secrets verbatim
        var home = new Lamina.Tracking.LaminaHome(_lamina.Home).EnsureCreated();
        Guid id;
        await using (var store = await Lamina.Tracking.SqliteTrackingStore.OpenAsync(home.DatabasePath, TimeProvider.System, CancellationToken.None))
        {
            var environment = new Lamina.Tracking.EnvironmentInfo("os", "x64", "cpu", 1, 1, null, "net", "0", new Dictionary<string, string>());
            var (emptyDiff, _) = await new Lamina.Tracking.FileBlobStore(home.BlobsPath).PutAsync(new MemoryStream(), CancellationToken.None);
            var git = new Lamina.Tracking.GitInfo("/repo", $"https://alice:{_remoteToken}@example.com/team/exp.git", "main", new string('0', 40), false,
                emptyDiff, 0);
            var configuration = JsonSerializer.Serialize(new Dictionary<string, object>
            {
                ["tasks"] = new { upload = new { @params = new { @params = new { api_token = _apiToken, database = $"postgresql://bob:{_databasePassword}@db/x" } } } },
            });
            id = (await store.CreateRunAsync(new Lamina.Tracking.NewRun("Secrets", "upload", "custom", [], null, "ada", "host", "lamina.yaml",
                configuration, git, environment, []), CancellationToken.None)).Id;
        }

        // When it is shown and compared
        var outputs = new[]
        {
            await _lamina.RunAsync(_temp.Path, "runs", "show", id.ToString()),
            await _lamina.RunAsync(_temp.Path, "runs", "show", id.ToString(), "--json"),
            await _lamina.RunAsync(_temp.Path, "runs", "compare", id.ToString(), id.ToString()),
        };

        // Then none of the secrets is printed
        foreach (var output in outputs)
        {
            Assert.True(output.ExitCode == 0, output.ToString());
            Assert.All(Planted, secret => Assert.DoesNotContain(secret, output.Stdout + output.Stderr));
        }
        Assert.Contains("https://alice:***@example.com/team/exp.git", outputs[0].Stdout);
        Assert.Contains("postgresql://bob:***@db/x", outputs[1].Stdout);
    }

    private void AssertStoreHoldsNone(IEnumerable<string> secrets)
    {
        var files = Directory.GetFiles(_lamina.Home, "*", SearchOption.AllDirectories);
        Assert.Contains(files, f => Path.GetFileName(f) == "tracking.db");
        Assert.Contains(files, f => f.Contains($"{Path.DirectorySeparatorChar}blobs{Path.DirectorySeparatorChar}", StringComparison.Ordinal));
        foreach (var file in files)
        {
            var bytes = File.ReadAllBytes(file);
            foreach (var secret in secrets)
            {
                foreach (var encoded in new[] { Encoding.UTF8.GetBytes(secret), Encoding.Unicode.GetBytes(secret) })
                {
                    Assert.True(bytes.AsSpan().IndexOf(encoded) < 0, $"{file} holds the planted secret {secret}");
                }
            }
        }
    }
}
