using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.RegularExpressions;
using Lamina.Testing;

namespace Lamina.Cli.Tests.Serve;

/// <summary>A line a service wrote, with when this process read it.</summary>
internal sealed record ServeLogLine(DateTimeOffset At, string Text);

/// <summary>
/// One real <c>lamina-serve</c> process (<c>dotnet lamina-serve.dll</c>, built next to the tests) on a bundle, a broker
/// queue and a free HTTP port. What it writes is drained as it comes (a full pipe would stop it) and kept, time-stamped,
/// for assertions and failure messages. Killed at dispose, and by a watchdog if the test process dies first.
/// </summary>
internal sealed partial class ServeInstance : IAsyncDisposable
{
    private static readonly HttpClient Client = new() { Timeout = TimeSpan.FromSeconds(5) };

    private readonly Process _process;
    private readonly List<ServeLogLine> _lines = [];
    private DateTimeOffset? _exitedAt;

    private ServeInstance(Process process, string name, int httpPort)
    {
        _process = process;
        Name = name;
        HttpPort = httpPort;
        Pid = process.Id;
    }

    /// <summary>The <c>--instance</c> name: unique per test, so its events and queues are told from other tests'.</summary>
    public string Name { get; }

    public int HttpPort { get; }

    public int Pid { get; }

    public Uri Http => new($"http://127.0.0.1:{HttpPort.ToString(CultureInfo.InvariantCulture)}");

    public bool HasExited => _process.HasExited;

    /// <summary>The exit code once exited, else null.</summary>
    public int? ExitCode => _process.HasExited ? _process.ExitCode : null;

    /// <summary>When this process saw it exit.</summary>
    public DateTimeOffset? ExitedAt => _exitedAt;

    /// <summary>
    /// Starts <c>lamina-serve --bundle BUNDLE --broker BROKER --queue QUEUE --http … --instance NAME</c> and
    /// <paramref name="arguments"/> (<c>--lease 3</c>…), with <paramref name="environment"/> added to an environment
    /// cleared of the developer's store settings.
    /// </summary>
    public static ServeInstance Start(string bundle, Uri broker, string queue, string name, IEnumerable<string>? arguments = null,
        IReadOnlyDictionary<string, string>? environment = null)
    {
        var port = S3Server.FreePort();
        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = Path.GetTempPath(),
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "lamina-serve.dll"));
        foreach (var argument in new[] { "--bundle", bundle, "--broker", broker.ToString(), "--queue", queue,
            "--http", $"http://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}", "--instance", name }.Concat(arguments ?? []))
        {
            start.ArgumentList.Add(argument);
        }
        foreach (var key in start.Environment.Keys.Where(k => k.StartsWith("LAMINA_", StringComparison.Ordinal) || k.StartsWith("AWS_", StringComparison.Ordinal)).ToList())
        {
            start.Environment.Remove(key);
        }
        start.Environment["NO_COLOR"] = "1";
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        foreach (var (key, value) in environment ?? new Dictionary<string, string>()) start.Environment[key] = value;

        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        var instance = new ServeInstance(Start(process), name, port);
        process.Exited += (_, _) => instance._exitedAt ??= DateTimeOffset.UtcNow;
        process.OutputDataReceived += (_, e) => instance.Append(e.Data);
        process.ErrorDataReceived += (_, e) => instance.Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        process.StandardInput.Close();
        // Killed with the test process however that ends (its name on the command line guards against a reused pid).
        TestWatchdog.Start($"tr '\\0' ' ' </proc/{instance.Pid}/cmdline 2>/dev/null | grep -q -- '--instance {name} ' && kill -9 {instance.Pid}");
        return instance;
    }

    private static Process Start(Process process)
    {
        process.Start();
        return process;
    }

    private void Append(string? line)
    {
        if (line is null) return;
        lock (_lines) _lines.Add(new ServeLogLine(DateTimeOffset.UtcNow, line));
    }

    /// <summary>Every line so far.</summary>
    public IReadOnlyList<ServeLogLine> Lines
    {
        get
        {
            lock (_lines) return [.. _lines];
        }
    }

    /// <summary>The lines that contain every one of <paramref name="words"/>.</summary>
    public IReadOnlyList<ServeLogLine> LinesWith(params string[] words) =>
        [.. Lines.Where(l => words.All(w => l.Text.Contains(w, StringComparison.Ordinal)))];

    /// <summary>The lines that say the service took <paramref name="requestId"/> (its id and the word <c>analysing</c>).</summary>
    public IReadOnlyList<ServeLogLine> AnalysingLines(string requestId) => LinesWith(requestId, "analysing");

    /// <summary>Everything it wrote, headed with its name and state, for failure messages.</summary>
    public string Log
    {
        get
        {
            var state = _process.HasExited ? $"exited {_process.ExitCode.ToString(CultureInfo.InvariantCulture)}" : "running";
            var text = new StringBuilder($"--- lamina-serve {Name} (pid {Pid.ToString(CultureInfo.InvariantCulture)}, {state})\n");
            foreach (var line in Lines) text.Append(CultureInfo.InvariantCulture, $"{line.At:HH:mm:ss.fff} {line.Text}\n");
            return text.ToString();
        }
    }

    /// <summary>The end of <see cref="Log"/> (assertion messages are read whole).</summary>
    public string LogTail(int characters = 12_000)
    {
        var log = Log;
        return log.Length <= characters ? log : "…" + log[^characters..];
    }

    /// <summary>Waits until <c>/health/ready</c> answers 200; fails with the log if it exits or the time runs out.</summary>
    public async Task WaitReadyAsync(TimeSpan timeout)
    {
        var deadline = Stopwatch.StartNew();
        while (await ReadyStatusAsync() != HttpStatusCode.OK)
        {
            if (_process.HasExited)
            {
                await _process.WaitForExitAsync();
                throw new InvalidOperationException($"lamina-serve {Name} exited before it was ready\n{LogTail()}");
            }
            if (deadline.Elapsed > timeout) throw new TimeoutException($"lamina-serve {Name} is not ready after {timeout.TotalSeconds:0} s\n{LogTail()}");
            await Task.Delay(100);
        }
    }

    /// <summary>What <c>/health/ready</c> answers; null when nothing answers (not listening yet, or gone).</summary>
    public Task<HttpStatusCode?> ReadyStatusAsync() => StatusAsync("/health/ready");

    public async Task<HttpStatusCode?> StatusAsync(string path)
    {
        try
        {
            using var response = await Client.GetAsync(new Uri(Http, path));
            return response.StatusCode;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            return null;
        }
    }

    /// <summary>The <c>/metrics</c> text (Prometheus exposition).</summary>
    public async Task<string> MetricsAsync()
    {
        using var response = await Client.GetAsync(new Uri(Http, "/metrics"));
        Assert.True(response.IsSuccessStatusCode, $"/metrics answered {(int)response.StatusCode}\n{LogTail()}");
        return await response.Content.ReadAsStringAsync();
    }

    /// <summary>
    /// The sum of the samples of <paramref name="name"/> (whose labels include each of <paramref name="labels"/>, like
    /// <c>outcome="completed"</c>) in a <c>/metrics</c> text; null when it has none.
    /// </summary>
    public static double? Metric(string metrics, string name, params string[] labels)
    {
        double? sum = null;
        foreach (var line in metrics.Split('\n'))
        {
            var match = SampleLine().Match(line.Trim());
            if (!match.Success || match.Groups["name"].Value != name) continue;
            var set = match.Groups["labels"].Value;
            if (!labels.All(l => set.Contains(l, StringComparison.Ordinal))) continue;
            sum = (sum ?? 0) + double.Parse(match.Groups["value"].Value, NumberStyles.Float, CultureInfo.InvariantCulture);
        }
        return sum;
    }

    [GeneratedRegex(@"^(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?<labels>[^}]*)\})?\s+(?<value>[-+0-9.eE]+|NaN|\+Inf|-Inf)(\s+\d+)?$")]
    private static partial Regex SampleLine();

    /// <summary>Waits for a line containing every one of <paramref name="words"/>; fails with the log when it exits or the time runs out.</summary>
    public async Task<ServeLogLine> WaitForLineAsync(TimeSpan timeout, params string[] words)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            if (LinesWith(words) is [var first, ..]) return first;
            if (_process.HasExited) throw new InvalidOperationException($"lamina-serve {Name} exited without a line with '{string.Join("', '", words)}'\n{LogTail()}");
            if (deadline.Elapsed > timeout) throw new TimeoutException($"lamina-serve {Name} wrote no line with '{string.Join("', '", words)}' in {timeout.TotalSeconds:0} s\n{LogTail()}");
            await Task.Delay(50);
        }
    }

    /// <summary>Waits for it to exit; its exit code. Fails with the log when the time runs out (it is then killed).</summary>
    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var limit = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(limit.Token);
        }
        catch (OperationCanceledException)
        {
            var log = LogTail();
            await KillAsync();
            throw new TimeoutException($"lamina-serve {Name} did not exit within {timeout.TotalSeconds:0} s (killed)\n{log}");
        }
        return _process.ExitCode;
    }

    /// <summary>kill -9 (the process and anything it started): no handler of its runs.</summary>
    public async Task KillAsync()
    {
        try
        {
            if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
        }
        await _process.WaitForExitAsync();
    }

    /// <summary>SIGTERM, as an orchestrator stops a container; returns at once.</summary>
    public async Task TerminateAsync()
    {
        if (_process.HasExited) return;
        using var kill = Process.Start(new ProcessStartInfo("kill") { ArgumentList = { "-TERM", Pid.ToString(CultureInfo.InvariantCulture) }, UseShellExecute = false })!;
        await kill.WaitForExitAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await KillAsync();
        _process.Dispose();
    }
}
