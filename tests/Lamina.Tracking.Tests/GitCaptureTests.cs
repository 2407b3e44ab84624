using System.Security.Cryptography;
using System.Text;

namespace Lamina.Tracking.Tests;

public sealed class GitCaptureTests : IDisposable
{
    private readonly TemporaryDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    private string Repo => _directory.Combine("repo");

    private async Task<string> InitRepoAsync()
    {
        Directory.CreateDirectory(Repo);
        await Git.RunAsync(Repo, "init", "-q");
        return Repo;
    }

    private async Task WriteAsync(string relative, string text) => await WriteAsync(relative, Encoding.UTF8.GetBytes(text));

    private async Task WriteAsync(string relative, byte[] bytes)
    {
        var path = Path.Combine(Repo, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        await File.WriteAllBytesAsync(path, bytes);
    }

    [Fact]
    public async Task Capture_DirtyTree_PatchReproducesTheWorkTreeOnACleanCheckout_WithoutUntrackedFilesOutsideSources()
    {
        // Given a repository with a commit, staged and unstaged edits, a deletion, new binary and text files, an ignored file.
        await InitRepoAsync();
        await WriteAsync("train.cs", "class Train {}\n");
        await WriteAsync("gone.txt", "delete me\n");
        await WriteAsync("data/weights.bin", RandomNumberGenerator.GetBytes(2048));
        await WriteAsync(".gitignore", "*.log\n");
        await Git.RunAsync(Repo, "add", "-A");
        await Git.RunAsync(Repo, "commit", "-q", "-m", "first");
        await Git.RunAsync(Repo, "remote", "add", "origin", "https://example.org/lab/repo.git");

        await WriteAsync("train.cs", "class Train { int epochs = 3; }\n");
        await WriteAsync("staged.cs", "class Staged {}\n");
        await Git.RunAsync(Repo, "add", "staged.cs");
        File.Delete(Path.Combine(Repo, "gone.txt"));
        await WriteAsync("data/weights.bin", RandomNumberGenerator.GetBytes(4096));
        await WriteAsync("plugins/Loss.cs", "class Loss {}\n");
        await WriteAsync("plugins/kernel.bin", [0, 1, 2, 255, 0, 13, 10, 0]);
        await WriteAsync("plugins/debug.log", "ignored\n");
        await WriteAsync("scratch/notes.txt", "not under the sources path\n");
        var indexBefore = await Git.RunBytesAsync(Repo, "diff", "--cached", "--binary");
        var statusBefore = await Git.RunAsync(Repo, "status", "--porcelain");

        // When
        var snapshot = await GitCapture.CaptureAsync(Repo, [Path.Combine(Repo, "plugins"), _directory.Combine("elsewhere")], CancellationToken.None);

        // Then
        Assert.NotNull(snapshot);
        var info = snapshot.Info;
        Assert.Equal(Path.GetFullPath(Repo), info.RepositoryRoot);
        Assert.Equal("https://example.org/lab/repo.git", info.Remote);
        Assert.Equal("main", info.Branch);
        Assert.Equal((await Git.RunAsync(Repo, "rev-parse", "HEAD")).Trim(), info.Commit);
        Assert.True(info.Dirty);
        Assert.Equal(snapshot.Diff.LongLength, info.DiffSize);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(snapshot.Diff)), info.DiffDigest);
        Assert.Equal(indexBefore, await Git.RunBytesAsync(Repo, "diff", "--cached", "--binary"));
        Assert.Equal(statusBefore, await Git.RunAsync(Repo, "status", "--porcelain"));

        var clone = _directory.Combine("clone");
        await Git.RunAsync(_directory.Path, "clone", "-q", Repo, clone);
        await Git.RunAsync(clone, "checkout", "-q", info.Commit!);
        var patch = _directory.Combine("run.patch");
        await File.WriteAllBytesAsync(patch, snapshot.Diff);
        await Git.RunAsync(clone, "apply", patch);

        string[] expected = [".gitignore", "data/weights.bin", "plugins/Loss.cs", "plugins/kernel.bin", "staged.cs", "train.cs"];
        Assert.Equal(expected, Files(clone));
        foreach (var file in expected)
        {
            Assert.Equal(await File.ReadAllBytesAsync(Path.Combine(Repo, file)), await File.ReadAllBytesAsync(Path.Combine(clone, file)));
        }
    }

    [Fact]
    public async Task Capture_RemoteWithToken_AndSecretsInTheExperimentFile_AreMasked_AndTheRestOfThePatchStillApplies()
    {
        // Given a remote holding a token, and an experiment file holding a secret committed and one edited
        await InitRepoAsync();
        await WriteAsync("lamina.yaml", "version: 1\napi_token: committed-planted\nname: a\n");
        await WriteAsync("train.cs", "class Train {}\n");
        await Git.RunAsync(Repo, "add", "-A");
        await Git.RunAsync(Repo, "commit", "-q", "-m", "first");
        await Git.RunAsync(Repo, "remote", "add", "origin", "https://alice:ghp_planted@example.com/team/exp.git");
        await WriteAsync("lamina.yaml", "version: 1\napi_token: edited-planted\nname: b\n");
        await WriteAsync("train.cs", "class Train { int epochs = 3; }\n");

        // When
        var snapshot = await GitCapture.CaptureAsync(Repo, [], [Path.Combine(Repo, "lamina.yaml")], CancellationToken.None);

        // Then nothing of the secrets is captured, the diff still shows the experiment file's change, and the patch applies without that file
        Assert.NotNull(snapshot);
        Assert.Equal("https://alice:***@example.com/team/exp.git", snapshot.Info.Remote);
        var diff = Encoding.UTF8.GetString(snapshot.Diff);
        Assert.DoesNotContain("planted", diff);
        Assert.Contains("+name: b", diff);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(snapshot.Diff)), snapshot.Info.DiffDigest);
        var clone = _directory.Combine("clone");
        await Git.RunAsync(_directory.Path, "clone", "-q", Repo, clone);
        var patch = _directory.Combine("run.patch");
        await File.WriteAllBytesAsync(patch, snapshot.Diff);
        await Git.RunAsync(clone, "apply", "--exclude=lamina.yaml", patch);
        Assert.Equal("class Train { int epochs = 3; }\n", await File.ReadAllTextAsync(Path.Combine(clone, "train.cs")));
    }

    [Fact]
    public async Task Capture_CleanTree_IsNotDirty_AndDetachedHeadHasNoBranch()
    {
        await InitRepoAsync();
        await WriteAsync("a.txt", "a\n");
        await Git.RunAsync(Repo, "add", "-A");
        await Git.RunAsync(Repo, "commit", "-q", "-m", "first");
        await Git.RunAsync(Repo, "checkout", "-q", "--detach");

        var snapshot = await GitCapture.CaptureAsync(Path.Combine(Repo), [Repo], CancellationToken.None);

        Assert.NotNull(snapshot);
        Assert.False(snapshot.Info.Dirty);
        Assert.Empty(snapshot.Diff);
        Assert.Null(snapshot.Info.Branch);
        Assert.Null(snapshot.Info.Remote);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData([])), snapshot.Info.DiffDigest);
    }

    [Fact]
    public async Task Capture_RepositoryWithoutCommits_DiffsAgainstTheEmptyTree()
    {
        await InitRepoAsync();
        await WriteAsync("src/first.cs", "class First {}\n");
        await WriteAsync("other.txt", "outside the sources\n");

        var snapshot = await GitCapture.CaptureAsync(Path.Combine(Repo, "src"), [Path.Combine(Repo, "src")], CancellationToken.None);

        Assert.NotNull(snapshot);
        Assert.Null(snapshot.Info.Commit);
        Assert.Equal("main", snapshot.Info.Branch);
        Assert.True(snapshot.Info.Dirty);
        var diff = Encoding.UTF8.GetString(snapshot.Diff);
        Assert.Contains("+++ b/src/first.cs", diff);
        Assert.DoesNotContain("other.txt", diff);
        Assert.False(File.Exists(Path.Combine(Repo, ".git", "index")), "the user's index must not be created");
    }

    [Fact]
    public async Task Capture_OutsideAnyWorkTree_ReturnsNull()
    {
        var plain = _directory.Combine("plain");
        Directory.CreateDirectory(plain);

        Assert.Null(await GitCapture.CaptureAsync(plain, [plain], CancellationToken.None));
    }

    private static string[] Files(string root) =>
    [
        .. Directory.GetFiles(root, "*", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(root, f).Replace(Path.DirectorySeparatorChar, '/'))
            .Where(f => !f.StartsWith(".git/", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal),
    ];
}
