using System.Diagnostics;
using System.Text.Json;
using Lamina.Testing;

namespace Lamina.Cli.Tests.Remote;

/// <summary>
/// A team in a temporary folder: an experiment repository whose commit is pushed to a bare <c>origin</c>, a real
/// RabbitMQ broker, one Lamina home (SQLite + folder blobs) shared by the submitter and the worker processes, and the
/// <c>lamina worker</c> processes the test starts (each killed at the end).
/// </summary>
internal sealed class RemoteLab : IAsyncDisposable
{
    /// <summary>A custom task for remote runs: logs and metrics; sleeps; fails on request; records each execution in a markers folder.</summary>
    public const string SleepyPlugin = """
        using Lamina.Core.Plugins;

        public sealed class Sleepy(int ms = 100, bool fail = false, string markers = "") : ICustomTask
        {
            public async Task RunAsync(IRunContext run, CancellationToken cancellationToken)
            {
                run.Log($"sleepy {run.RunId} starts");
                string? running = null;
                if (markers.Length > 0)
                {
                    Directory.CreateDirectory(markers);
                    // Two executions of one run at once would find the other's file here, its process alive.
                    running = Path.Combine(markers, $"{run.RunId}.running");
                    if (File.Exists(running) && int.TryParse(File.ReadAllText(running), out var other) && other != Environment.ProcessId && IsAlive(other))
                    {
                        File.AppendAllText(Path.Combine(markers, "concurrent.txt"), $"{run.RunId} {other} {Environment.ProcessId}\n");
                    }
                    File.WriteAllText(running, Environment.ProcessId.ToString());
                    File.AppendAllText(Path.Combine(markers, $"{run.RunId}.starts"), $"{Environment.ProcessId}\n");
                }
                for (var step = 0; step < 3; step++)
                {
                    run.LogMetric("progress", step, step);
                }
                await Task.Delay(ms, cancellationToken);
                if (fail)
                {
                    throw new InvalidOperationException("the task failed on purpose");
                }
                if (running is not null)
                {
                    File.Delete(running);
                    File.AppendAllText(Path.Combine(markers, $"{run.RunId}.ends"), $"{Environment.ProcessId}\n");
                }
                run.Log($"sleepy {run.RunId} ends");
            }

            private static bool IsAlive(int pid)
            {
                try { using var p = System.Diagnostics.Process.GetProcessById(pid); return !p.HasExited; }
                catch (ArgumentException) { return false; }
            }
        }
        """;

    public const string Experiment = """
        version: 1
        project:
          project_name: RemoteLab
          sources_path: [plugins]
        tasks:
          nap:
            type: custom
            params:
              cls: Sleepy
              params: {ms: 200}
        """;

    private readonly List<Process> _workers = [];

    private RemoteLab(TemporaryDirectory temp, RabbitMqServer broker, string queue)
    {
        Temp = temp;
        Broker = broker;
        Queue = queue;
        Repository = temp.Combine("repo");
        Origin = temp.Combine("origin.git");
        Markers = temp.Combine("markers");
        Lamina = new LaminaProcess(temp.Combine("home"));
        Lamina.Environment["LAMINA_BROKER"] = broker.Uri.ToString();
    }

    public TemporaryDirectory Temp { get; }

    public RabbitMqServer Broker { get; }

    /// <summary>A queue of this test's own (the broker may be shared).</summary>
    public string Queue { get; }

    public string Repository { get; }

    public string Origin { get; }

    public string Markers { get; }

    public LaminaProcess Lamina { get; }

    /// <summary>Makes the repository (experiment + plug-in committed and pushed to origin) on <paramref name="broker"/>.</summary>
    public static async Task<RemoteLab> CreateAsync(TemporaryDirectory temp, RabbitMqServer broker, string? experiment = null)
    {
        var lab = new RemoteLab(temp, broker, $"q{Guid.NewGuid():N}"[..12]);
        Directory.CreateDirectory(lab.Repository);
        Directory.CreateDirectory(Path.Combine(lab.Repository, "plugins"));
        await File.WriteAllTextAsync(Path.Combine(lab.Repository, "lamina.yaml"), experiment ?? Experiment);
        await File.WriteAllTextAsync(Path.Combine(lab.Repository, "plugins", "Sleepy.cs"), SleepyPlugin);
        Git.Run(lab.Repository, "init", "-q");
        Git.Run(lab.Repository, "add", "-A");
        Git.Run(lab.Repository, "commit", "-q", "-m", "experiment");
        Git.Run(temp.Path, "init", "-q", "--bare", lab.Origin);
        Git.Run(lab.Repository, "remote", "add", "origin", lab.Origin);
        Git.Run(lab.Repository, "push", "-q", "origin", "HEAD:main");
        Git.Run(lab.Repository, "fetch", "-q", "origin");
        return lab;
    }

    /// <summary><c>lamina run TASK --remote QUEUE --json</c> with the given extra arguments; the run id.</summary>
    public async Task<string> SubmitAsync(string task, params string[] arguments)
    {
        var result = await Lamina.RunAsync(Repository, ["run", task, "--remote", Queue, "--json", .. arguments]);
        if (result.ExitCode != 0) throw new InvalidOperationException(result.ToString());
        return JsonDocument.Parse(result.Stdout).RootElement.GetProperty("run_id").GetString()!;
    }

    /// <summary>Starts <c>lamina worker</c> on this lab's queue (a killed worker is seen at once on this host; the lease outlives a loaded machine); killed at the end of the test.</summary>
    public Process StartWorker(string name, params string[] arguments)
    {
        var process = Lamina.Start(Repository, ["worker", "--queue", Queue, "--name", name, "--lease", "10", "--heartbeat", "1",
            "--work", Temp.Combine("work", name), .. arguments]);
        process.StandardInput.Close();
        _workers.Add(process);
        // The output is drained as it comes (a full pipe would stop the worker) and kept for failure messages.
        var log = new System.Text.StringBuilder();
        Logs[process] = log;
        process.OutputDataReceived += (_, e) => { lock (log) log.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { lock (log) log.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    /// <summary>What each worker printed, for failure messages.</summary>
    public Dictionary<Process, System.Text.StringBuilder> Logs { get; } = [];

    public string WorkerLogs() => string.Join("\n", Logs.Select(l => { lock (l.Value) return $"--- worker pid {SafePid(l.Key)}\n{l.Value}"; }));

    private static string SafePid(Process p)
    {
        try { return p.Id.ToString(System.Globalization.CultureInfo.InvariantCulture); } catch (InvalidOperationException) { return "?"; }
    }

    /// <summary><c>lamina runs show RUN --json</c>.</summary>
    public async Task<JsonElement> ShowAsync(string run)
    {
        var result = await Lamina.RunAsync(Repository, "runs", "show", run, "--json");
        if (result.ExitCode != 0) throw new InvalidOperationException(result.ToString());
        return JsonDocument.Parse(result.Stdout).RootElement;
    }

    /// <summary>Waits until the run's status is one of <paramref name="statuses"/>; its <c>runs show</c> then.</summary>
    public async Task<JsonElement> WaitForAsync(string run, TimeSpan timeout, params string[] statuses)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var shown = await ShowAsync(run);
            var status = shown.GetProperty("run").GetProperty("status").GetString();
            if (statuses.Contains(status)) return shown;
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"run {run} is {status}, not {string.Join("/", statuses)}, after {timeout}\n{shown}\n{WorkerLogs()}");
            }
            await Task.Delay(300);
        }
    }

    public static void Kill(Process process)
    {
        try
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
            process.WaitForExit(10_000);
        }
        catch (InvalidOperationException)
        {
        }
    }

    public ValueTask DisposeAsync()
    {
        foreach (var worker in _workers)
        {
            Kill(worker);
            worker.Dispose();
        }
        return ValueTask.CompletedTask;
    }
}
