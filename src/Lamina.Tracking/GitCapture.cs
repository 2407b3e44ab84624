using System.Text;
using Lamina.Core.Provenance;

namespace Lamina.Tracking;

/// <summary>What <see cref="GitCapture"/> found: the facts to store with the run and the patch whose digest they name.</summary>
/// <param name="Info">Commit, branch, remote and the digest and size of <paramref name="Diff"/>.</param>
/// <param name="Diff">A binary patch that <c>git apply</c> on a clean checkout of the commit turns into the captured work tree.</param>
public sealed record GitSnapshot(GitInfo Info, byte[] Diff);

/// <summary>Captures the state of a git work tree through the <c>git</c> command line, without touching the user's index.</summary>
public static class GitCapture
{
    /// <summary>The tree object of an empty directory, the base of the diff in a repository without commits.</summary>
    internal const string EmptyTree = "4b825dc642cb6eb9a060e54bf8d69288fbee4904";

    /// <summary>
    /// Captures commit, branch, remote and one binary patch holding the tracked changes (staged or not) plus the untracked,
    /// not-ignored files under <paramref name="untrackedPaths"/>; null when git is missing or the folder is not in a work tree.
    /// </summary>
    /// <param name="directory">A folder inside the work tree.</param>
    /// <param name="untrackedPaths">Absolute folders whose untracked files belong to the run (the sources path); those outside the repository are ignored.</param>
    public static Task<GitSnapshot?> CaptureAsync(string directory, IReadOnlyList<string> untrackedPaths, CancellationToken cancellationToken) =>
        CaptureAsync(directory, untrackedPaths, [], cancellationToken);

    /// <summary>
    /// Captures as above, with the secrets of <paramref name="configurationFiles"/> (the experiment file) masked in the
    /// patch (<see cref="Secrets.RedactPatch"/>): their part of it is for reading, and is left out when it is applied.
    /// </summary>
    /// <param name="configurationFiles">Absolute paths of configuration files; those outside the repository are ignored.</param>
    public static async Task<GitSnapshot?> CaptureAsync(string directory, IReadOnlyList<string> untrackedPaths, IReadOnlyList<string> configurationFiles,
        CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        ArgumentNullException.ThrowIfNull(untrackedPaths);
        ArgumentNullException.ThrowIfNull(configurationFiles);
        directory = Path.GetFullPath(directory);
        if (!Directory.Exists(directory))
        {
            throw new DirectoryNotFoundException($"cannot capture git state: folder {directory} does not exist");
        }

        var topLevel = await ProcessRunner.TryRunAsync("git", ["rev-parse", "--show-toplevel"], directory, BaseEnvironment(null), null, cancellationToken)
            .ConfigureAwait(false);
        if (topLevel is null || topLevel.ExitCode != 0)
        {
            return null;
        }

        var root = Path.GetFullPath(Line(topLevel.StandardOutput));
        var git = new GitRunner(root);

        var remote = await git.TryLineAsync(["remote", "get-url", "origin"], cancellationToken).ConfigureAwait(false);
        if (remote is null)
        {
            var remotes = await git.RunAsync(["remote"], cancellationToken).ConfigureAwait(false);
            remote = Encoding.UTF8.GetString(remotes).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).FirstOrDefault();
            if (remote is not null)
            {
                remote = await git.TryLineAsync(["remote", "get-url", remote], cancellationToken).ConfigureAwait(false);
            }
        }

        // A token or password in the remote URL (https://alice:TOKEN@host/...) is never recorded.
        remote = remote is null ? null : Secrets.RedactUris(remote);

        var branch = await git.TryLineAsync(["symbolic-ref", "--short", "-q", "HEAD"], cancellationToken).ConfigureAwait(false);
        var commit = await git.TryLineAsync(["rev-parse", "-q", "--verify", "HEAD^{commit}"], cancellationToken).ConfigureAwait(false);
        var diff = await DiffAsync(git, root, commit, untrackedPaths, cancellationToken).ConfigureAwait(false);
        diff = Secrets.RedactPatch(diff, [.. configurationFiles.Select(f => Path.GetRelativePath(root, Path.GetFullPath(f)).Replace(Path.DirectorySeparatorChar, '/'))]);

        var digest = Sha256Digest.Of(diff).Hex;
        var info = new GitInfo(root, remote, branch, commit, Dirty: diff.Length > 0, digest, diff.LongLength);
        return new GitSnapshot(info, diff);
    }

    private static async Task<byte[]> DiffAsync(GitRunner git, string root, string? commit, IReadOnlyList<string> untrackedPaths, CancellationToken cancellationToken)
    {
        var indexPath = Path.GetFullPath(Path.Combine(root, Line(await git.RunAsync(["rev-parse", "--git-path", "index"], cancellationToken).ConfigureAwait(false))));

        // A copy of the index takes the additions, so the user's staging area stays exactly as it was.
        var temporaryIndex = Path.Combine(Path.GetTempPath(), $"lamina-index-{Guid.NewGuid():N}");
        try
        {
            if (File.Exists(indexPath))
            {
                File.Copy(indexPath, temporaryIndex);
            }

            var staged = git.WithIndex(temporaryIndex);
            await staged.RunAsync(["-c", "core.safecrlf=false", "add", "-u", "--", "."], cancellationToken).ConfigureAwait(false);

            foreach (var path in RelativePathsInside(root, untrackedPaths))
            {
                var untracked = await staged.RunAsync(["ls-files", "-z", "--others", "--exclude-standard", "--", path], cancellationToken).ConfigureAwait(false);
                if (untracked.Length > 0)
                {
                    await staged.RunAsync(["-c", "core.safecrlf=false", "add", "-A", "--", path], cancellationToken).ConfigureAwait(false);
                }
            }

            // Options pinned so that user configuration (renames, prefixes, textconv, external tools) cannot change the patch.
            return await staged.RunAsync(
                ["diff", "--cached", "--binary", "--full-index", "--no-color", "--no-ext-diff", "--no-textconv", "--no-renames",
                 "--no-relative", "--src-prefix=a/", "--dst-prefix=b/", commit ?? EmptyTree, "--"],
                cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            File.Delete(temporaryIndex);
        }
    }

    private static IEnumerable<string> RelativePathsInside(string root, IReadOnlyList<string> paths)
    {
        foreach (var path in paths)
        {
            if (string.IsNullOrWhiteSpace(path))
            {
                continue;
            }

            var relative = Path.GetRelativePath(root, Path.GetFullPath(path));
            if (relative == ".." || relative.StartsWith(".." + Path.DirectorySeparatorChar, StringComparison.Ordinal) || Path.IsPathRooted(relative)
                || !Path.Exists(path))
            {
                continue;
            }

            yield return relative.Replace(Path.DirectorySeparatorChar, '/');
        }
    }

    private static Dictionary<string, string?> BaseEnvironment(string? indexFile) => new()
    {
        ["GIT_TERMINAL_PROMPT"] = "0",
        ["LC_ALL"] = "C",
        ["GIT_OPTIONAL_LOCKS"] = "0",
        ["GIT_LITERAL_PATHSPECS"] = "1",
        ["GIT_INDEX_FILE"] = indexFile,
    };

    private static string Line(byte[] output) => Encoding.UTF8.GetString(output).TrimEnd('\n', '\r');

    /// <summary>Runs git in the top folder of the work tree, optionally on another index file.</summary>
    private sealed class GitRunner(string root, string? indexFile = null)
    {
        private readonly Dictionary<string, string?> _environment = BaseEnvironment(indexFile);

        public GitRunner WithIndex(string index) => new(root, index);

        /// <summary>Runs a command that must succeed; its stdout, byte for byte.</summary>
        public async Task<byte[]> RunAsync(string[] arguments, CancellationToken cancellationToken)
        {
            var result = await ProcessRunner.TryRunAsync("git", arguments, root, _environment, null, cancellationToken).ConfigureAwait(false)
                ?? throw new TrackingException("git could not be started");
            if (result.ExitCode != 0)
            {
                throw TrackingException.GitFailed(string.Join(' ', arguments), root, result.ExitCode, result.StandardError);
            }

            return result.StandardOutput;
        }

        /// <summary>Runs a command whose failure means "no value"; its first line otherwise.</summary>
        public async Task<string?> TryLineAsync(string[] arguments, CancellationToken cancellationToken)
        {
            var result = await ProcessRunner.TryRunAsync("git", arguments, root, _environment, null, cancellationToken).ConfigureAwait(false);
            if (result is null || result.ExitCode != 0)
            {
                return null;
            }

            var line = Line(result.StandardOutput);
            return line.Length == 0 ? null : line;
        }
    }
}
