using Lamina.Core.Provenance;
using Lamina.Tracking;

namespace Lamina.Lab.Remote;

/// <summary>
/// Makes a work tree of a recorded run's code: its commit, from a cached clone of its repository (one per repository
/// under the cache folder, fetched when the commit is missing) or from the git bundle shipped with it, with its
/// uncommitted diff applied (but for the experiment file, which the executor writes from the recorded configuration).
/// Git never prompts (a worker without the repository's credentials fails with git's reason).
/// </summary>
/// <remarks>
/// The cache holds <c>SHA.git</c>, a bare repository fetching the branches and tags of one fetch URL (SHA: of the URL),
/// and <c>SHA.lock</c>, held while the repository is fetched and a tree cloned from it, so checkouts on one worker or on
/// workers sharing the folder never fetch into it at once. Trees borrow the cache's objects (<c>clone --shared</c>);
/// the cache never collects garbage, so a tree stays whole.
/// </remarks>
public sealed class CodeCheckout(IBlobStore blobs, string cacheDirectory)
{
    private static readonly TimeSpan LockRetry = TimeSpan.FromMilliseconds(100);

    // What git says when the network, not the repository or the credentials, is at fault.
    private static readonly string[] NetworkSigns =
    [
        "Could not resolve host", "Could not resolve hostname", "Temporary failure in name resolution", "Failed to connect", "Connection refused",
        "Connection timed out", "Operation timed out", "Network is unreachable", "No route to host", "Connection reset", "early EOF",
    ];

    private readonly IBlobStore _blobs = blobs;

    /// <summary>The folder holding the cached clones.</summary>
    public string CacheDirectory { get; } = Path.GetFullPath(cacheDirectory);

    /// <summary>
    /// Checks out the run's code into <paramref name="tree"/> (which must not exist) and returns it. A repository is
    /// fetched from <paramref name="details"/>' git remote, or from <paramref name="sourceBundleDigest"/>'s blob when given.
    /// </summary>
    /// <param name="repository">A repository to fetch from instead of the recorded remote (a reproduction's local repository root).</param>
    /// <exception cref="LabException">
    /// The run has no commit; the code cannot be fetched (git's reason, the remote named with credentials masked); the
    /// diff does not apply to the commit (git's reason).
    /// </exception>
    public async Task<string> CheckoutAsync(RunDetails details, string? sourceBundleDigest, string tree, Action<string> report, CancellationToken cancellationToken,
        string? repository = null)
    {
        ArgumentNullException.ThrowIfNull(details);
        ArgumentException.ThrowIfNullOrWhiteSpace(tree);
        ArgumentNullException.ThrowIfNull(report);
        var run = details.Run.Id;
        if (details.Git is not { Commit: { } commit } git)
        {
            throw LabException.NoCommit(run);
        }
        tree = Path.GetFullPath(tree);
        if (Path.Exists(tree))
        {
            throw LabException.CheckoutExists(tree);
        }
        Directory.CreateDirectory(Path.GetDirectoryName(tree)!);

        try
        {
            if (sourceBundleDigest is not null)
            {
                await CloneBundleAsync(run, commit, sourceBundleDigest, tree, report, cancellationToken);
            }
            else
            {
                // A local folder is named whole: the cache's remote is read from the cache, not from here.
                var remote = (repository is not null && Directory.Exists(repository) ? Path.GetFullPath(repository) : repository)
                    ?? git.Remote ?? throw LabException.NoSourceToFetch(run);
                await CloneCachedAsync(run, commit, remote, tree, report, cancellationToken);
            }
            report($"checking out {commit[..Math.Min(12, commit.Length)]} into {tree}");
            await CheckAsync(tree, ["-c", "advice.detachedHead=false", "checkout", "--quiet", commit], cancellationToken);
            if (git.Dirty)
            {
                await ApplyDiffAsync(details, git, commit, tree, report, cancellationToken);
            }
            return tree;
        }
        catch
        {
            DeleteTree(tree);
            throw;
        }
    }

    private async Task CloneCachedAsync(Guid run, string commit, string remote, string tree, Action<string> report, CancellationToken cancellationToken)
    {
        var url = FetchUrl(remote);
        // Named as recorded, with its credentials masked, whatever the caller gave.
        var shown = Secrets.RedactUris(remote);
        Directory.CreateDirectory(CacheDirectory);
        var name = Sha256Digest.OfText(url).Hex[..24];
        var cache = Path.Combine(CacheDirectory, name + ".git");
        await using (await LockAsync(Path.Combine(CacheDirectory, name + ".lock"), shown, report, cancellationToken))
        {
            var created = false;
            if (!Directory.Exists(cache))
            {
                await CreateCacheAsync(cache, url, cancellationToken);
                created = true;
            }
            if (await HasCommitAsync(cache, commit, cancellationToken))
            {
                report($"using the cached clone of {shown} ({cache})");
            }
            else
            {
                report(created ? $"cloning {shown} into the cache ({cache})" : $"fetching {shown} into its cached clone: commit {commit[..Math.Min(12, commit.Length)]} is not there yet");
                var fetched = await GitCommand.ExecuteAsync(cache, ["fetch", "--quiet", "origin"], cancellationToken);
                if (!fetched.Succeeded)
                {
                    if (created)
                    {
                        // No cache is kept for a remote never fetched (mistyped, or not ours to read).
                        DeleteTree(cache);
                    }
                    var reason = Reason(fetched.Error);
                    throw LabException.CannotFetch(run, commit, shown, reason, NetworkSigns.Any(s => reason.Contains(s, StringComparison.OrdinalIgnoreCase)));
                }
                if (!await HasCommitAsync(cache, commit, cancellationToken))
                {
                    // Not on a branch or tag: servers that serve any reachable commit (protocol v2) give it by name.
                    await GitCommand.ExecuteAsync(cache, ["fetch", "--quiet", "origin", $"{commit}:refs/lamina/commits/{commit}"], cancellationToken);
                    if (!await HasCommitAsync(cache, commit, cancellationToken))
                    {
                        throw LabException.CommitNotOnRemote(run, commit, shown);
                    }
                }
            }
            await CheckAsync(Path.GetDirectoryName(tree)!, ["clone", "--quiet", "--no-checkout", "--shared", cache, tree], cancellationToken);
        }
        await CheckAsync(tree, ["remote", "set-url", "origin", url], cancellationToken);
    }

    // Made aside and moved in whole, so a cache folder is always a configured repository (one left empty by a first fetch
    // cut short is fetched again by the next checkout).
    private static async Task CreateCacheAsync(string cache, string url, CancellationToken cancellationToken)
    {
        var fresh = $"{cache}.new-{Guid.NewGuid():N}";
        try
        {
            await CheckAsync(Path.GetDirectoryName(cache)!, ["init", "--quiet", "--bare", fresh], cancellationToken);
            await CheckAsync(fresh, ["remote", "add", "origin", url], cancellationToken);
            await CheckAsync(fresh, ["config", "--replace-all", "remote.origin.fetch", "+refs/heads/*:refs/heads/*"], cancellationToken);
            await CheckAsync(fresh, ["config", "--add", "remote.origin.fetch", "+refs/tags/*:refs/tags/*"], cancellationToken);
            // Trees borrow its objects: none may ever be pruned, even one a force-push left unreachable.
            await CheckAsync(fresh, ["config", "gc.auto", "0"], cancellationToken);
            Directory.Move(fresh, cache);
        }
        finally
        {
            DeleteTree(fresh);
        }
    }

    private async Task CloneBundleAsync(Guid run, string commit, string digest, string tree, Action<string> report, CancellationToken cancellationToken)
    {
        report($"unpacking the source bundle shipped with the run (sha256 {digest[..Math.Min(12, digest.Length)]})");
        Directory.CreateDirectory(CacheDirectory);
        var bundle = Path.Combine(CacheDirectory, $"bundle-{Guid.NewGuid():N}.tmp");
        try
        {
            await CopyBlobAsync(digest, bundle, $"the source bundle shipped with run {run}", cancellationToken);
            await CheckAsync(Path.GetDirectoryName(tree)!, ["init", "--quiet", tree], cancellationToken);
            var heads = await GitCommand.ExecuteAsync(tree, ["bundle", "list-heads", bundle], cancellationToken);
            if (!heads.Succeeded)
            {
                throw LabException.CannotFetch(run, commit, "the shipped source bundle", Reason(heads.Error), network: false);
            }
            var refs = heads.Text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(line => line.Split(' ', 2)).Where(parts => parts.Length == 2).ToList();
            var head = refs.FirstOrDefault(parts => parts[0] == commit) ?? refs.FirstOrDefault() ?? throw LabException.CommitNotInBundle(run, commit, digest);
            var fetched = await GitCommand.ExecuteAsync(tree, ["fetch", "--quiet", bundle, $"{head[1]}:refs/lamina/source"], cancellationToken);
            if (!fetched.Succeeded)
            {
                throw LabException.CannotFetch(run, commit, "the shipped source bundle", Reason(fetched.Error), network: false);
            }
            if (!await HasCommitAsync(tree, commit, cancellationToken))
            {
                throw LabException.CommitNotInBundle(run, commit, digest);
            }
        }
        finally
        {
            File.Delete(bundle);
        }
    }

    private async Task ApplyDiffAsync(RunDetails details, GitInfo git, string commit, string tree, Action<string> report, CancellationToken cancellationToken)
    {
        var patch = Path.Combine(tree, ".git", "lamina-run.patch");
        await CopyBlobAsync(git.DiffDigest, patch, $"the uncommitted diff of run {details.Run.Id}", cancellationToken);
        report($"applying the run's uncommitted diff ({git.DiffSize} bytes, sha256 {git.DiffDigest[..12]})");
        // The experiment file's part has its secrets masked; the executor writes the recorded configuration there instead.
        var applied = await GitCommand.ExecuteAsync(tree, ["apply", "--binary", "--whitespace=nowarn", $"--exclude={details.ExperimentFile}", patch], cancellationToken);
        if (!applied.Succeeded)
        {
            throw LabException.DiffDoesNotApply(details.Run.Id, git.DiffDigest, commit, Reason(applied.Error, lines: 2));
        }
    }

    private async Task CopyBlobAsync(string digest, string file, string what, CancellationToken cancellationToken)
    {
        await using var input = new DigestCheckingStream(await _blobs.OpenAsync(digest, cancellationToken), digest,
            actual => ProvenanceException.Altered(what, Sha256Digest.Parse(digest), Sha256Digest.Parse(actual)));
        await using var output = new FileStream(file, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true);
        await input.CopyToAsync(output, cancellationToken);
    }

    private static async Task<bool> HasCommitAsync(string repository, string commit, CancellationToken cancellationToken) =>
        (await GitCommand.ExecuteAsync(repository, ["cat-file", "-e", $"{commit}^{{commit}}"], cancellationToken)).Succeeded;

    private static Task CheckAsync(string directory, string[] arguments, CancellationToken cancellationToken) =>
        GitCommand.OutputAsync(directory, arguments, cancellationToken);

    // FileShare.None is an exclusive lock on the open file (flock on Unix), across processes and within one. The file
    // stays: deleting it would let a third checkout lock a new file while the second still holds the old one.
    private static async Task<FileStream> LockAsync(string path, string shown, Action<string> report, CancellationToken cancellationToken)
    {
        var told = false;
        while (true)
        {
            try
            {
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException)
            {
                if (!told)
                {
                    report($"waiting for the cached clone of {shown}: another checkout is using it ({path})");
                    told = true;
                }
                await Task.Delay(LockRetry, cancellationToken);
            }
        }
    }

    /// <summary>
    /// The URL git fetches from: a recorded remote's masked credentials (<c>https://alice:***@host/x</c>) left out, so the
    /// worker's own credential helper supplies them (<c>https://alice@host/x</c>); any other remote as it is.
    /// </summary>
    internal static string FetchUrl(string remote)
    {
        var separator = remote.IndexOf("://", StringComparison.Ordinal);
        if (separator < 0)
        {
            return remote;
        }
        var start = separator + 3;
        var end = remote.IndexOfAny(['/', '?', '#'], start);
        var authority = end < 0 ? remote[start..] : remote[start..end];
        var at = authority.LastIndexOf('@');
        if (at < 0)
        {
            return remote;
        }
        var userInfo = authority[..at];
        var rest = remote[(start + at + 1)..];
        if (userInfo == Secrets.Mask)
        {
            return remote[..start] + rest;
        }
        return userInfo.EndsWith($":{Secrets.Mask}", StringComparison.Ordinal)
            ? $"{remote[..start]}{userInfo[..^(Secrets.Mask.Length + 1)]}@{rest}"
            : remote;
    }

    /// <summary>Git's first meaningful lines of error (not its hints), without their <c>fatal:</c> or <c>error:</c>, credentials masked.</summary>
    internal static string Reason(string error, int lines = 1)
    {
        var meaningful = error.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(line => !line.StartsWith("hint:", StringComparison.Ordinal) && !line.StartsWith("warning:", StringComparison.Ordinal))
            .Select(line => line.StartsWith("fatal: ", StringComparison.Ordinal) ? line[7..] : line.StartsWith("error: ", StringComparison.Ordinal) ? line[7..] : line)
            .Take(lines)
            .ToList();
        return meaningful.Count == 0 ? "git gave no reason" : Secrets.RedactUris(string.Join("; ", meaningful));
    }

    // Git makes its objects read-only, which Windows will not delete as they are.
    private static void DeleteTree(string tree)
    {
        if (!Directory.Exists(tree))
        {
            return;
        }
        try
        {
            Directory.Delete(tree, recursive: true);
        }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException)
        {
            try
            {
                foreach (var file in Directory.EnumerateFiles(tree, "*", SearchOption.AllDirectories))
                {
                    File.SetAttributes(file, FileAttributes.Normal);
                }
                Directory.Delete(tree, recursive: true);
            }
            catch (Exception again) when (again is UnauthorizedAccessException or IOException)
            {
                // What is left is a tree that was never returned; the original failure is what the caller needs.
            }
        }
    }
}

/// <summary>What a submitter checks and ships so a worker elsewhere can fetch a run's code.</summary>
public static class SourceShipping
{
    /// <summary>
    /// True when <paramref name="commit"/> is on a remote-tracking branch of the repository's recorded remote
    /// (origin, else the first), i.e. was pushed (as far as the last fetch or push knows; no network).
    /// </summary>
    public static async Task<bool> IsOnRemoteAsync(string repositoryRoot, string commit, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(repositoryRoot);
        ArgumentException.ThrowIfNullOrWhiteSpace(commit);
        var remotes = (await GitCommand.OutputAsync(repositoryRoot, ["remote"], cancellationToken))
            .Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var remote = remotes.Contains("origin") ? "origin" : remotes.FirstOrDefault();
        if (remote is null)
        {
            return false;
        }
        // As git branch -r --contains, limited to that remote's branches.
        var branch = await GitCommand.OutputAsync(repositoryRoot,
            ["for-each-ref", "--count=1", "--format=%(refname)", "--contains", $"{commit}^{{commit}}", $"refs/remotes/{remote}"], cancellationToken);
        return branch.Length > 0;
    }

    /// <summary>Stores a git bundle holding <paramref name="commit"/> and its history as a blob; returns its digest.</summary>
    public static async Task<string> StoreBundleAsync(string repositoryRoot, string commit, IBlobStore blobs, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(repositoryRoot);
        ArgumentException.ThrowIfNullOrWhiteSpace(commit);
        ArgumentNullException.ThrowIfNull(blobs);
        var full = await GitCommand.OutputAsync(repositoryRoot, ["rev-parse", "--verify", "--end-of-options", $"{commit}^{{commit}}"], cancellationToken);
        var head = await GitCommand.ExecuteAsync(repositoryRoot, ["rev-parse", "--verify", "--quiet", "HEAD^{commit}"], cancellationToken);
        // A bundle holds refs, not bare commits: HEAD when it is the commit, else a ref made for the bundle alone.
        var temporary = head.Succeeded && head.Text == full ? null : $"refs/lamina/ship/{full}";
        var file = Path.Combine(Path.GetTempPath(), $"lamina-ship-{Guid.NewGuid():N}.bundle");
        try
        {
            if (temporary is not null)
            {
                await GitCommand.OutputAsync(repositoryRoot, ["update-ref", temporary, full], cancellationToken);
            }
            await GitCommand.OutputAsync(repositoryRoot, ["bundle", "create", "--quiet", file, temporary ?? "HEAD"], cancellationToken);
            await GitCommand.OutputAsync(repositoryRoot, ["bundle", "verify", "--quiet", file], cancellationToken);
            await using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, useAsync: true);
            var (digest, _) = await blobs.PutAsync(stream, cancellationToken);
            return digest;
        }
        finally
        {
            if (temporary is not null)
            {
                // Whatever happened, the user's repository keeps no ref of ours.
                await GitCommand.ExecuteAsync(repositoryRoot, ["update-ref", "-d", temporary, full], CancellationToken.None);
            }
            File.Delete(file);
        }
    }
}
