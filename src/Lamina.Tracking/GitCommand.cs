using System.Text;
using Lamina.Core;

namespace Lamina.Tracking;

/// <summary>What a git command did: its exit code, standard output (byte for byte) and standard error.</summary>
public sealed record GitResult(int ExitCode, byte[] Output, string Error)
{
    public bool Succeeded => ExitCode == 0;

    /// <summary>Standard output as text, without its final line break.</summary>
    public string Text => Encoding.UTF8.GetString(Output).TrimEnd('\n', '\r');
}

/// <summary>
/// Runs the git command line for Lamina's own work on repositories (the demo's commit, a reproduction's or a worker's
/// checkout). Git never prompts: no terminal, no askpass program, ssh in batch mode; credentials come from the user's
/// credential helper or ssh agent, or the command fails with git's reason.
/// </summary>
public static class GitCommand
{
    /// <summary>Runs <c>git ARGUMENTS</c> in <paramref name="directory"/>; a clear error with git's message when it fails.</summary>
    /// <returns>False when git is not installed.</returns>
    public static async Task<bool> TryRunAsync(string directory, IReadOnlyList<string> arguments, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(directory);
        var result = await ExecuteOrNullAsync(directory, arguments, cancellationToken).ConfigureAwait(false);
        if (result is null)
        {
            return false;
        }
        if (result.ExitCode != 0)
        {
            throw TrackingException.GitFailed(string.Join(' ', arguments), directory, result.ExitCode, result.Error);
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

    /// <summary>
    /// Runs <c>git ARGUMENTS</c> in <paramref name="directory"/> (which must exist) and returns what it did, whatever its
    /// exit code: for commands whose failure the caller explains in its own words.
    /// </summary>
    /// <exception cref="TrackingException">Git is not installed.</exception>
    public static async Task<GitResult> ExecuteAsync(string directory, IReadOnlyList<string> arguments, CancellationToken cancellationToken) =>
        await ExecuteOrNullAsync(directory, arguments, cancellationToken).ConfigureAwait(false) ?? throw TrackingException.GitMissing();

    /// <summary>Runs <c>git ARGUMENTS</c> in <paramref name="directory"/> (which must exist); its output as text, or a clear error with git's message.</summary>
    public static async Task<string> OutputAsync(string directory, IReadOnlyList<string> arguments, CancellationToken cancellationToken)
    {
        var result = await ExecuteAsync(directory, arguments, cancellationToken).ConfigureAwait(false);
        if (result.ExitCode != 0)
        {
            throw TrackingException.GitFailed(string.Join(' ', arguments), directory, result.ExitCode, result.Error);
        }
        return result.Text;
    }

    private static async Task<GitResult?> ExecuteOrNullAsync(string directory, IReadOnlyList<string> arguments, CancellationToken cancellationToken)
    {
        var result = await ProcessRunner.TryRunAsync("git", arguments, directory, NonInteractive(), null, cancellationToken).ConfigureAwait(false);
        return result is null ? null : new GitResult(result.ExitCode, result.StandardOutput, result.StandardError);
    }

    // An empty GIT_ASKPASS wins over core.askPass and SSH_ASKPASS, and with terminal prompts off git fails at once with
    // "could not read Username"; GCM_INTERACTIVE keeps Git Credential Manager from opening a window.
    private static Dictionary<string, string?> NonInteractive()
    {
        var environment = new Dictionary<string, string?>
        {
            ["GIT_TERMINAL_PROMPT"] = "0",
            ["LC_ALL"] = "C",
            ["GIT_ASKPASS"] = "",
            ["SSH_ASKPASS"] = "",
            ["GCM_INTERACTIVE"] = "never",
        };
        // ssh reads a passphrase or password from /dev/tty, not its input: batch mode makes it fail instead. A command
        // the user chose is kept.
        if (string.IsNullOrEmpty(Environment.GetEnvironmentVariable("GIT_SSH_COMMAND")) && string.IsNullOrEmpty(Environment.GetEnvironmentVariable("GIT_SSH")))
        {
            environment["GIT_SSH_COMMAND"] = "ssh -o BatchMode=yes -o ConnectTimeout=30";
        }
        return environment;
    }
}
