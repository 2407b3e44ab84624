using Lamina.Core;

namespace Lamina.Tracking;

/// <summary>Runs the git command line for Lamina's own work on repositories (the demo's commit, a reproduction's checkout).</summary>
public static class GitCommand
{
    private static readonly IReadOnlyDictionary<string, string?> Environment = new Dictionary<string, string?>
    {
        ["GIT_TERMINAL_PROMPT"] = "0",
        ["LC_ALL"] = "C",
    };

    /// <summary>Runs <c>git ARGUMENTS</c> in <paramref name="directory"/>; a clear error with git's message when it fails.</summary>
    /// <returns>False when git is not installed.</returns>
    public static async Task<bool> TryRunAsync(string directory, IReadOnlyList<string> arguments, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(directory);
        var result = await ProcessRunner.TryRunAsync("git", arguments, directory, Environment, null, cancellationToken).ConfigureAwait(false);
        if (result is null)
        {
            return false;
        }
        if (result.ExitCode != 0)
        {
            throw TrackingException.GitFailed(string.Join(' ', arguments), directory, result.ExitCode, result.StandardError);
        }
        return true;
    }

    /// <summary>As <see cref="TryRunAsync"/>, but git must be installed.</summary>
    public static async Task RunAsync(string directory, IReadOnlyList<string> arguments, CancellationToken cancellationToken)
    {
        if (!await TryRunAsync(directory, arguments, cancellationToken).ConfigureAwait(false))
        {
            throw TrackingException.GitMissing();
        }
    }
}
