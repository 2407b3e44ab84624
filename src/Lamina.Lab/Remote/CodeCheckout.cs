using Lamina.Tracking;

namespace Lamina.Lab.Remote;

/// <summary>
/// Makes a work tree of a recorded run's code: its commit, from a cached clone of its repository (one per repository
/// under the cache folder, fetched when the commit is missing) or from the git bundle shipped with it, with its
/// uncommitted diff applied (but for the experiment file, which the executor writes from the recorded configuration).
/// Git never prompts (a worker without the repository's credentials fails with git's reason).
/// </summary>
public sealed class CodeCheckout(IBlobStore blobs, string cacheDirectory)
{
    private readonly IBlobStore _blobs = blobs;

    /// <summary>The folder holding the cached clones.</summary>
    public string CacheDirectory { get; } = cacheDirectory;

    /// <summary>
    /// Checks out the run's code into <paramref name="tree"/> (which must not exist) and returns it. A repository is
    /// fetched from <paramref name="details"/>' git remote, or from <paramref name="sourceBundleDigest"/>'s blob when given.
    /// </summary>
    /// <exception cref="LabException">
    /// The run has no commit; the code cannot be fetched (git's reason, the remote named with credentials masked); the
    /// diff does not apply to the commit (git's reason).
    /// </exception>
    public Task<string> CheckoutAsync(RunDetails details, string? sourceBundleDigest, string tree, Action<string> report, CancellationToken cancellationToken) =>
        throw new NotImplementedException();
}

/// <summary>What a submitter checks and ships so a worker elsewhere can fetch a run's code.</summary>
public static class SourceShipping
{
    /// <summary>
    /// True when <paramref name="commit"/> is on a remote-tracking branch of the repository's recorded remote
    /// (origin, else the first), i.e. was pushed (as far as the last fetch or push knows; no network).
    /// </summary>
    public static Task<bool> IsOnRemoteAsync(string repositoryRoot, string commit, CancellationToken cancellationToken) => throw new NotImplementedException();

    /// <summary>Stores a git bundle holding <paramref name="commit"/> and its history as a blob; returns its digest.</summary>
    public static Task<string> StoreBundleAsync(string repositoryRoot, string commit, IBlobStore blobs, CancellationToken cancellationToken) =>
        throw new NotImplementedException();
}
