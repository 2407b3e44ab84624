using System.Diagnostics;
using System.Text;

namespace Lamina.Cli.Tests.Ui;

/// <summary>A <c>lamina ui</c> process, started as a person starts it, serving until stopped with Ctrl+C.</summary>
internal sealed class UiProcess : IAsyncDisposable
{
    private const string ServingPrefix = "lamina ui serving ";
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(90);
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(20);

    private readonly Process _process;
    private readonly StringBuilder _stdout = new();
    private readonly StringBuilder _stderr = new();
    private readonly TaskCompletionSource<Uri> _address = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Task _reading;

    private UiProcess(Process process)
    {
        _process = process;
        _reading = Task.WhenAll(ReadAsync(process.StandardOutput, _stdout, watch: true), ReadAsync(process.StandardError, _stderr, watch: false));
    }

    /// <summary>The address the command printed (for a wildcard host: this machine's name).</summary>
    public Uri Address => _address.Task.Result;

    /// <summary>The same port on the loopback address: where a test on this machine reaches it, whatever the host.</summary>
    public Uri Local => new($"http://127.0.0.1:{Address.Port}/");

    public string Stdout
    {
        get
        {
            lock (_stdout) return _stdout.ToString();
        }
    }

    public string Stderr
    {
        get
        {
            lock (_stderr) return _stderr.ToString();
        }
    }

    public override string ToString() => $"--- stdout\n{Stdout}\n--- stderr\n{Stderr}";

    /// <summary>Starts <c>lamina ui ARGUMENTS</c> and waits until it prints where it serves.</summary>
    /// <exception cref="InvalidOperationException">It ended, or printed no address in time (its output in the message).</exception>
    public static async Task<UiProcess> StartAsync(LaminaProcess lamina, string workingDirectory, params string[] arguments)
    {
        var ui = new UiProcess(lamina.Start(workingDirectory, ["ui", .. arguments]));
        var started = await Task.WhenAny(ui._address.Task, ui._process.WaitForExitAsync(), Task.Delay(StartTimeout));
        if (started != ui._address.Task)
        {
            await ui.DisposeAsync();
            throw new InvalidOperationException($"lamina ui {string.Join(' ', arguments)} printed no address{(ui._process.HasExited ? $" and ended with {ui._process.ExitCode}" : $" within {StartTimeout}")}\n{ui}");
        }
        return ui;
    }

    /// <summary>Ctrl+C, as a person stops it; the exit code once it has ended.</summary>
    /// <exception cref="TimeoutException">It did not end within 20 s of Ctrl+C (it is killed).</exception>
    public async Task<int> StopAsync()
    {
        if (!_process.HasExited) Signals.Interrupt(_process.Id);
        using var limit = new CancellationTokenSource(StopTimeout);
        try
        {
            await _process.WaitForExitAsync(limit.Token);
        }
        catch (OperationCanceledException)
        {
            _process.Kill(entireProcessTree: true);
            throw new TimeoutException($"lamina ui did not end within {StopTimeout} of Ctrl+C\n{this}");
        }
        await _reading;
        return _process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited) await StopAsync();
        }
        catch (TimeoutException)
        {
            // Killed; the test that cares calls StopAsync itself and sees the timeout.
        }
        _process.Dispose();
    }

    private async Task ReadAsync(StreamReader reader, StringBuilder into, bool watch)
    {
        while (await reader.ReadLineAsync() is { } line)
        {
            lock (into) into.AppendLine(line);
            if (watch && line.StartsWith(ServingPrefix, StringComparison.Ordinal) && Uri.TryCreate(line[ServingPrefix.Length..].Trim(), UriKind.Absolute, out var address))
            {
                _address.TrySetResult(address);
            }
        }
    }
}
