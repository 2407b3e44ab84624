using System.ComponentModel;
using System.Diagnostics;

namespace Lamina.Tracking;

/// <summary>The outcome of a finished child process; stdout is kept as bytes because patches must stay byte-exact.</summary>
internal sealed record ProcessResult(int ExitCode, byte[] StandardOutput, string StandardError);

/// <summary>Starts a program with an argument list, feeds it no input and collects its output.</summary>
internal static class ProcessRunner
{
    /// <summary>Runs the program; null when it cannot be started (not installed).</summary>
    public static async Task<ProcessResult?> TryRunAsync(
        string program,
        IEnumerable<string> arguments,
        string workingDirectory,
        IReadOnlyDictionary<string, string?> environment,
        TimeSpan? timeout,
        CancellationToken cancellationToken)
    {
        var info = new ProcessStartInfo(program)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            CreateNoWindow = true,
        };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        foreach (var (name, value) in environment)
        {
            if (value is null)
            {
                info.Environment.Remove(name);
            }
            else
            {
                info.Environment[name] = value;
            }
        }

        using var process = new Process { StartInfo = info };
        try
        {
            if (!process.Start())
            {
                return null;
            }
        }
        catch (Win32Exception)
        {
            return null;
        }

        using var timeoutSource = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        if (timeout is { } limit)
        {
            timeoutSource.CancelAfter(limit);
        }

        var token = timeoutSource.Token;
        try
        {
            process.StandardInput.Close();
            using var output = new MemoryStream();
            var readOutput = process.StandardOutput.BaseStream.CopyToAsync(output, token);
            var readError = process.StandardError.ReadToEndAsync(token);
            await Task.WhenAll(readOutput, readError).ConfigureAwait(false);
            await process.WaitForExitAsync(token).ConfigureAwait(false);
            return new ProcessResult(process.ExitCode, output.ToArray(), await readError.ConfigureAwait(false));
        }
        catch (OperationCanceledException)
        {
            TryKill(process);
            if (cancellationToken.IsCancellationRequested)
            {
                throw;
            }

            return null; // timed out
        }
    }

    private static void TryKill(Process process)
    {
        try
        {
            process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
        catch (Win32Exception)
        {
        }
    }
}
