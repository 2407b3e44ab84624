using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Lamina.Core;
using Lamina.Core.Provenance;
using Lamina.Lab.Remote;
using Lamina.Tracking;

namespace Lamina.Lab.Tests.Remote;

/// <summary>
/// Issue 14: a worker checks out a queued run's code (its commit, from a cached clone or a shipped bundle, plus its
/// uncommitted diff) with real git, a local bare repository as the remote.
/// </summary>
public sealed class CodeCheckoutTests : IDisposable
{
    private const string ExperimentFile = "lamina.yaml";

    private readonly TemporaryDirectory _temp = new();
    private readonly FileBlobStore _blobs;
    private readonly List<string> _reported = [];

    public CodeCheckoutTests()
    {
        _blobs = new FileBlobStore(_temp.Combine("blobs"));
    }

    public void Dispose() => _temp.Dispose();

    private string Origin => _temp.Combine("origin.git");

    private string Repository => _temp.Combine("repo");

    private string Cache => _temp.Combine("cache");

    private CodeCheckout NewCheckout() => new(_blobs, Cache);

    [Fact]
    public async Task Checkout_PushedCommitWithDirtyDiff_GivesTheCapturedTreeByteForByte_ButTheExperimentFileAsCommitted()
    {
        // Given a pushed commit, then a tracked change, a binary change, an untracked plug-in and an edited experiment file
        await MakeRepositoryAsync(withRemote: true);
        await File.WriteAllTextAsync(Path.Combine(Repository, "src", "model.txt"), "layers: 5\n");
        await File.WriteAllBytesAsync(Path.Combine(Repository, "src", "weights.bin"), [0, 1, 2, 255, 0, 7]);
        await File.WriteAllTextAsync(Path.Combine(Repository, "plugins", "New.cs"), "public sealed class New {}\n");
        await File.WriteAllTextAsync(Path.Combine(Repository, ExperimentFile), "version: 1 # edited\n");
        var details = await CaptureAsync();

        // When a worker checks it out
        var tree = await NewCheckout().CheckoutAsync(details, null, _temp.Combine("work", "tree"), _reported.Add, CancellationToken.None);

        // Then every file is as captured, but the experiment file (the executor writes the recorded configuration there)
        Assert.True(details.Git!.Dirty);
        var expected = Files(Repository);
        expected[ExperimentFile] = "version: 1\n"u8.ToArray();
        AssertSameFiles(expected, Files(tree));
        Assert.Contains(_reported, line => line.StartsWith("cloning ", StringComparison.Ordinal));
        Assert.Contains(_reported, line => line.StartsWith("applying the run's uncommitted diff", StringComparison.Ordinal));
        Assert.Equal(details.Git.Commit, await GitAsync(tree, "rev-parse", "HEAD"));
    }

    [Fact]
    public async Task WorkTrees_RunsOfOneCommitAndDiff_CheckOutOnce_AndEachGetsACopyWithoutGit()
    {
        // Given a pushed commit with an uncommitted change, and a worker's trees
        await MakeRepositoryAsync(withRemote: true);
        await File.WriteAllTextAsync(Path.Combine(Repository, "src", "model.txt"), "layers: 7\n");
        var details = await CaptureAsync();
        var trees = new WorkTrees(NewCheckout(), _temp.Combine("templates"));

        // When two runs of it get their trees
        await trees.MakeAsync(details, null, _temp.Combine("runs", "1"), _reported.Add, CancellationToken.None);
        _reported.Clear();
        await trees.MakeAsync(details, null, _temp.Combine("runs", "2"), _reported.Add, CancellationToken.None);

        // Then git ran for the first only; both hold the captured files (the diff applied), and neither a .git
        Assert.Equal(["using the checked-out " + details.Git!.Commit![..12] + " with its diff"], _reported);
        var expected = Files(Repository);
        expected[ExperimentFile] = "version: 1\n"u8.ToArray();
        AssertSameFiles(expected, Files(_temp.Combine("runs", "1")));
        AssertSameFiles(expected, Files(_temp.Combine("runs", "2")));
        Assert.False(Directory.Exists(_temp.Combine("runs", "2", ".git")));
        Assert.Single(Directory.GetDirectories(_temp.Combine("templates")));
    }

    [Fact]
    public async Task Checkout_SameRepositoryAgain_ReusesTheCachedClone_AndFetchesACommitPushedLater()
    {
        // Given one checkout of a pushed commit
        await MakeRepositoryAsync(withRemote: true);
        var first = await CaptureAsync();
        var checkout = NewCheckout();
        await checkout.CheckoutAsync(first, null, _temp.Combine("work", "1"), _reported.Add, CancellationToken.None);
        var clones = Directory.GetDirectories(Cache, "*.git");

        // When it is checked out again, then a new commit is pushed and checked out
        _reported.Clear();
        await checkout.CheckoutAsync(first, null, _temp.Combine("work", "2"), _reported.Add, CancellationToken.None);
        var again = _reported.ToList();
        await File.WriteAllTextAsync(Path.Combine(Repository, "src", "model.txt"), "layers: 9\n");
        await GitAsync(Repository, "commit", "-q", "-am", "deeper");
        await GitAsync(Repository, "push", "-q", "origin", "main");
        var second = await CaptureAsync();
        _reported.Clear();
        var tree = await checkout.CheckoutAsync(second, null, _temp.Combine("work", "3"), _reported.Add, CancellationToken.None);

        // Then the second used the cache without fetching, and the third fetched into that same clone
        Assert.Single(clones);
        Assert.Contains(again, line => line.StartsWith("using the cached clone of ", StringComparison.Ordinal));
        Assert.DoesNotContain(again, line => line.StartsWith("cloning ", StringComparison.Ordinal) || line.StartsWith("fetching ", StringComparison.Ordinal));
        Assert.Contains(_reported, line => line.StartsWith("fetching ", StringComparison.Ordinal));
        Assert.Equal(clones, Directory.GetDirectories(Cache, "*.git"));
        Assert.Equal("layers: 9\n", await File.ReadAllTextAsync(Path.Combine(tree, "src", "model.txt")));
    }

    [Fact]
    public async Task Checkout_FromALocalRepository_OfACommitOnNoBranch_FetchesItByName()
    {
        // Given a commit on a detached HEAD only (as a reproduction of a run made there)
        await MakeRepositoryAsync(withRemote: false);
        await GitAsync(Repository, "checkout", "-q", "--detach");
        await File.WriteAllTextAsync(Path.Combine(Repository, "src", "model.txt"), "layers: 4\n");
        await GitAsync(Repository, "commit", "-q", "-am", "detached");
        var details = await CaptureAsync();

        var tree = await NewCheckout().CheckoutAsync(details, null, _temp.Combine("work", "tree"), _reported.Add, CancellationToken.None,
            repository: Repository);

        Assert.Equal("layers: 4\n", await File.ReadAllTextAsync(Path.Combine(tree, "src", "model.txt")));
    }

    [Fact]
    public async Task IsOnRemote_IsTrueForAPushedCommit_FalseForALocalOne_AndFalseWithoutARemote()
    {
        await MakeRepositoryAsync(withRemote: true);
        var pushed = await GitAsync(Repository, "rev-parse", "HEAD");
        await File.WriteAllTextAsync(Path.Combine(Repository, "src", "model.txt"), "layers: 6\n");
        await GitAsync(Repository, "commit", "-q", "-am", "local");
        var local = await GitAsync(Repository, "rev-parse", "HEAD");

        Assert.True(await SourceShipping.IsOnRemoteAsync(Repository, pushed, CancellationToken.None));
        Assert.False(await SourceShipping.IsOnRemoteAsync(Repository, local, CancellationToken.None));
        await GitAsync(Repository, "remote", "remove", "origin");
        Assert.False(await SourceShipping.IsOnRemoteAsync(Repository, pushed, CancellationToken.None));
    }

    [Fact]
    public async Task Checkout_WithAShippedBundle_OfALocalOnlyCommit_NeedsNoRemote()
    {
        // Given a commit never pushed, with a dirty diff, its remote gone, and its bundle shipped
        await MakeRepositoryAsync(withRemote: true);
        await File.WriteAllTextAsync(Path.Combine(Repository, "src", "model.txt"), "layers: 7\n");
        await GitAsync(Repository, "commit", "-q", "-am", "local only");
        await File.WriteAllTextAsync(Path.Combine(Repository, "plugins", "Local.cs"), "public sealed class Local {}\n");
        var details = await CaptureAsync();
        var commit = details.Git!.Commit!;
        Assert.False(await SourceShipping.IsOnRemoteAsync(Repository, commit, CancellationToken.None));
        var bundle = await SourceShipping.StoreBundleAsync(Repository, commit, _blobs, CancellationToken.None);
        Directory.Delete(Origin, recursive: true);

        // When a worker checks it out from the bundle
        var tree = await NewCheckout().CheckoutAsync(details, bundle, _temp.Combine("work", "tree"), _reported.Add, CancellationToken.None);

        // Then it is the captured tree, and no cache was made for the remote
        AssertSameFiles(Files(Repository), Files(tree));
        Assert.Equal(commit, await GitAsync(tree, "rev-parse", "HEAD"));
        Assert.Empty(Directory.GetDirectories(Cache, "*.git"));
        Assert.Empty(Directory.GetFiles(Cache));
    }

    [Fact]
    public async Task StoreBundle_OfACommitBehindHead_HoldsIt_AndLeavesNoRefInTheRepository()
    {
        await MakeRepositoryAsync(withRemote: false);
        var older = await GitAsync(Repository, "rev-parse", "HEAD");
        var before = Files(Repository);
        await File.WriteAllTextAsync(Path.Combine(Repository, "src", "model.txt"), "layers: 8\n");
        await GitAsync(Repository, "commit", "-q", "-am", "newer");

        var bundle = await SourceShipping.StoreBundleAsync(Repository, older, _blobs, CancellationToken.None);
        var details = Details(new GitInfo(Repository, null, "main", older, false, Sha256Digest.Of([]).Hex, 0));
        var tree = await NewCheckout().CheckoutAsync(details, bundle, _temp.Combine("work", "tree"), _reported.Add, CancellationToken.None);

        AssertSameFiles(before, Files(tree));
        Assert.Equal("", await GitAsync(Repository, "for-each-ref", "refs/lamina"));
    }

    [Theory]
    [InlineData("http://127.0.0.1:{0}/team/repo.git")]
    [InlineData("https://alice:***@127.0.0.1:{0}/team/repo.git")]
    public async Task Checkout_FromARemoteThatRefusesConnections_FailsFast_NamingTheRemoteMasked_AndLeavesNoTree(string remote)
    {
        // Given a run whose recorded remote cannot be reached
        await MakeRepositoryAsync(withRemote: false);
        remote = string.Format(System.Globalization.CultureInfo.InvariantCulture, remote, ClosedPort());
        var details = Details((await CaptureAsync()).Git! with { Remote = remote });
        var tree = _temp.Combine("work", "tree");

        // When a worker checks it out
        var watch = Stopwatch.StartNew();
        var error = await Assert.ThrowsAsync<LabException>(() => NewCheckout().CheckoutAsync(details, null, tree, _reported.Add, CancellationToken.None));

        // Then it says so at once, with git's reason, as a network failure, and leaves nothing behind
        Assert.InRange(watch.Elapsed, TimeSpan.Zero, TimeSpan.FromSeconds(30));
        Assert.StartsWith($"cannot fetch commit {details.Git!.Commit} of run {details.Run.Id} from {remote}: ", error.Message);
        Assert.Contains("Failed to connect", error.Message);
        Assert.Equal(LaminaErrorKind.Unavailable, error.Kind);
        Assert.False(Path.Exists(tree));
        Assert.Empty(Directory.GetDirectories(Cache, "*.git"));
    }

    [Theory]
    [InlineData("http://127.0.0.1:{0}/team/repo.git", "could not read Username")]
    [InlineData("http://alice:***@127.0.0.1:{0}/team/repo.git", "could not read Password")]
    public async Task Checkout_FromARemoteThatAsksForCredentials_FailsWithoutPrompting_AndLeavesNoTree(string remote, string reason)
    {
        // Given a remote answering every request with "401: give credentials", and a worker with none for it
        using var server = new HttpListener();
        var port = ClosedPort();
        server.Prefixes.Add($"http://127.0.0.1:{port}/");
        server.Start();
        var requests = 0;
        _ = Task.Run(async () =>
        {
            while (server.IsListening)
            {
                try
                {
                    var context = await server.GetContextAsync();
                    Interlocked.Increment(ref requests);
                    context.Response.StatusCode = 401;
                    context.Response.AddHeader("WWW-Authenticate", "Basic realm=\"lamina\"");
                    context.Response.Close();
                }
                catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
                {
                    return;
                }
            }
        });
        await MakeRepositoryAsync(withRemote: false);
        remote = string.Format(System.Globalization.CultureInfo.InvariantCulture, remote, port);
        var details = Details((await CaptureAsync()).Git! with { Remote = remote });
        var tree = _temp.Combine("work", "tree");

        // When a worker checks it out
        var error = await Assert.ThrowsAsync<LabException>(() => NewCheckout().CheckoutAsync(details, null, tree, _reported.Add, CancellationToken.None)
            .WaitAsync(TimeSpan.FromSeconds(60)));

        // Then git asked the server, could not ask anyone for credentials, and said so; the masked password was never sent
        Assert.True(requests > 0);
        Assert.StartsWith($"cannot fetch commit {details.Git!.Commit} of run {details.Run.Id} from {remote}: ", error.Message);
        Assert.Contains(reason, error.Message);
        Assert.Contains("terminal prompts disabled", error.Message);
        Assert.Equal(LaminaErrorKind.Failed, error.Kind);
        Assert.False(Path.Exists(tree));
        Assert.Empty(Directory.GetDirectories(Cache, "*.git"));
    }

    [Fact]
    public async Task Checkout_FromARepositoryThatDoesNotExist_FailsWithGitsReason()
    {
        await MakeRepositoryAsync(withRemote: false);
        var details = await CaptureAsync();
        var tree = _temp.Combine("work", "tree");

        var error = await Assert.ThrowsAsync<LabException>(() =>
            NewCheckout().CheckoutAsync(details, null, tree, _reported.Add, CancellationToken.None, repository: _temp.Combine("gone")));

        Assert.Contains("does not appear to be a git repository", error.Message);
        Assert.Equal(LaminaErrorKind.Failed, error.Kind);
        Assert.False(Path.Exists(tree));
    }

    [Fact]
    public async Task Checkout_OfACommitNeverPushed_SaysToPushOrShipTheSource()
    {
        await MakeRepositoryAsync(withRemote: true);
        await File.WriteAllTextAsync(Path.Combine(Repository, "src", "model.txt"), "layers: 2\n");
        await GitAsync(Repository, "commit", "-q", "-am", "local only");
        var details = await CaptureAsync();
        var tree = _temp.Combine("work", "tree");

        var error = await Assert.ThrowsAsync<LabException>(() => NewCheckout().CheckoutAsync(details, null, tree, _reported.Add, CancellationToken.None));

        Assert.Equal($"commit {details.Git!.Commit} of run {details.Run.Id} is not in {Origin} (fetched): push it and submit again, or submit with --ship-source",
            error.Message);
        Assert.False(Path.Exists(tree));
    }

    [Fact]
    public async Task Checkout_OfADiffThatNoLongerApplies_FailsAsAConflict_AndLeavesNoTree()
    {
        // Given a run whose recorded diff changes a line that its recorded commit changed otherwise
        await MakeRepositoryAsync(withRemote: true);
        await File.WriteAllTextAsync(Path.Combine(Repository, "src", "model.txt"), "layers: 5\n");
        var captured = await CaptureAsync();
        await GitAsync(Repository, "stash", "-q");
        await File.WriteAllTextAsync(Path.Combine(Repository, "src", "model.txt"), "layers: 12\n");
        await GitAsync(Repository, "commit", "-q", "-am", "other depth");
        await GitAsync(Repository, "push", "-q", "origin", "main");
        var commit = await GitAsync(Repository, "rev-parse", "HEAD");
        var details = Details(captured.Git! with { Commit = commit });
        var tree = _temp.Combine("work", "tree");

        var error = await Assert.ThrowsAsync<LabException>(() => NewCheckout().CheckoutAsync(details, null, tree, _reported.Add, CancellationToken.None));

        Assert.Equal($"the uncommitted diff of run {details.Run.Id} (sha256 {captured.Git!.DiffDigest}) does not apply to commit {commit}: " +
            "patch failed: src/model.txt:1; src/model.txt: patch does not apply", error.Message);
        Assert.Equal(LaminaErrorKind.Conflict, error.Kind);
        Assert.False(Path.Exists(tree));
    }

    [Fact]
    public async Task Checkout_TwoAtOnceSharingOneCache_BothSucceed_WithOneClone()
    {
        await MakeRepositoryAsync(withRemote: true);
        await File.WriteAllTextAsync(Path.Combine(Repository, "plugins", "New.cs"), "public sealed class New {}\n");
        var details = await CaptureAsync();

        // Two workers (two instances, one cache folder) at once
        var trees = await Task.WhenAll(
            Task.Run(() => new CodeCheckout(_blobs, Cache).CheckoutAsync(details, null, _temp.Combine("work", "a"), _ => { }, CancellationToken.None)),
            Task.Run(() => new CodeCheckout(_blobs, Cache).CheckoutAsync(details, null, _temp.Combine("work", "b"), _ => { }, CancellationToken.None)));

        Assert.All(trees, tree => AssertSameFiles(Files(Repository), Files(tree)));
        Assert.Single(Directory.GetDirectories(Cache, "*.git"));
    }

    [Fact]
    public async Task Checkout_OfARunWithoutCommit_OrWithoutRemoteOrBundle_IsRefusedClearly()
    {
        var noCommit = Details(new GitInfo(Repository, null, null, null, false, Sha256Digest.Of([]).Hex, 0));
        var noRemote = Details(new GitInfo(Repository, null, "main", new string('a', 40), false, Sha256Digest.Of([]).Hex, 0));

        var first = await Assert.ThrowsAsync<LabException>(() => NewCheckout().CheckoutAsync(noCommit, null, _temp.Combine("t1"), _reported.Add, CancellationToken.None));
        var second = await Assert.ThrowsAsync<LabException>(() => NewCheckout().CheckoutAsync(noRemote, null, _temp.Combine("t2"), _reported.Add, CancellationToken.None));

        Assert.Contains("was not made in a git repository with a commit", first.Message);
        Assert.Equal($"run {noRemote.Run.Id} was submitted without a remote or shipped source: submit with --ship-source", second.Message);
        Assert.False(Path.Exists(_temp.Combine("t2")));
    }

    [Theory]
    [InlineData("https://alice:***@example.com/team/repo.git", "https://alice@example.com/team/repo.git")]
    [InlineData("https://***@example.com/team/repo.git", "https://example.com/team/repo.git")]
    [InlineData("ssh://git@example.com/team/repo.git", "ssh://git@example.com/team/repo.git")]
    [InlineData("git@example.com:team/repo.git", "git@example.com:team/repo.git")]
    [InlineData("/srv/git/repo.git", "/srv/git/repo.git")]
    public void FetchUrl_LeavesOutOnlyMaskedCredentials(string recorded, string fetched) => Assert.Equal(fetched, CodeCheckout.FetchUrl(recorded));

    // A repository with a committed experiment file, a source and a plug-in; with a bare "origin" it was pushed to.
    private async Task MakeRepositoryAsync(bool withRemote)
    {
        Directory.CreateDirectory(Path.Combine(Repository, "src"));
        Directory.CreateDirectory(Path.Combine(Repository, "plugins"));
        await File.WriteAllTextAsync(Path.Combine(Repository, ExperimentFile), "version: 1\n");
        await File.WriteAllTextAsync(Path.Combine(Repository, "src", "model.txt"), "layers: 3\n");
        await File.WriteAllBytesAsync(Path.Combine(Repository, "src", "weights.bin"), [0, 1, 2, 3, 0]);
        await File.WriteAllTextAsync(Path.Combine(Repository, "plugins", "Head.cs"), "public sealed class Head {}\n");
        await GitAsync(Repository, "init", "-q");
        await GitAsync(Repository, "add", "-A");
        await GitAsync(Repository, "commit", "-q", "-m", "experiment");
        if (withRemote)
        {
            Directory.CreateDirectory(Origin);
            await GitAsync(Origin, "init", "-q", "--bare");
            await GitAsync(Repository, "remote", "add", "origin", Origin);
            await GitAsync(Repository, "push", "-q", "-u", "origin", "main");
        }
    }

    // What a submission records: git's state through the real capture, the diff in the blob store.
    private async Task<RunDetails> CaptureAsync()
    {
        var snapshot = await GitCapture.CaptureAsync(Repository, [Path.Combine(Repository, "plugins")], [Path.Combine(Repository, ExperimentFile)],
            CancellationToken.None);
        Assert.NotNull(snapshot);
        var (digest, _) = await _blobs.PutBytesAsync(snapshot.Diff, CancellationToken.None);
        Assert.Equal(snapshot.Info.DiffDigest, digest);
        return Details(snapshot.Info);
    }

    private static RunDetails Details(GitInfo git) => new(
        new RunRecord(Guid.NewGuid(), "Remote", "train", "training", RunStatus.Queued, DateTimeOffset.UnixEpoch, null, null, [], null, "alice", "laptop", null),
        ExperimentFile, "{}", git,
        new EnvironmentInfo("Linux", "X64", "cpu", 2, 1 << 30, null, "10.0", "0.0", new Dictionary<string, string>()),
        [], []);

    // Every file but git's own, by path with '/', and its bytes; untracked files the capture leaves out are not there.
    private static Dictionary<string, byte[]> Files(string root)
    {
        var files = new Dictionary<string, byte[]>();
        foreach (var file in Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories))
        {
            var relative = Path.GetRelativePath(root, file).Replace(Path.DirectorySeparatorChar, '/');
            if (!relative.StartsWith(".git/", StringComparison.Ordinal))
            {
                files[relative] = File.ReadAllBytes(file);
            }
        }
        return files;
    }

    private static void AssertSameFiles(Dictionary<string, byte[]> expected, Dictionary<string, byte[]> actual)
    {
        Assert.Equal(expected.Keys.Order(StringComparer.Ordinal), actual.Keys.Order(StringComparer.Ordinal));
        Assert.All(expected, file => Assert.True(file.Value.AsSpan().SequenceEqual(actual[file.Key]), $"{file.Key} differs"));
    }

    private static int ClosedPort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    private static Task<string> GitAsync(string directory, params string[] arguments) =>
        GitCommand.OutputAsync(directory, ["-c", "user.name=t", "-c", "user.email=t@t", "-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false", .. arguments],
            CancellationToken.None);
}
