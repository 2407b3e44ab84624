using System.Diagnostics;
using System.Text.Json;

namespace Lamina.Cli.Tests.Hostile;

/// <summary>
/// Issue 12, item 1 (and 8): every way a <c>lamina run</c> process can end leaves its run recorded <c>completed</c>,
/// <c>failed</c> or <c>aborted</c> with the reason: signals, closed or broken standard streams, a task that calls
/// <c>Environment.Exit</c>, throws on another thread, ignores cancellation or fills the disk; and for the ends no process
/// can record (<c>kill -9</c>, <c>FailFast</c>, a stack overflow), the next command sees the owner gone and says so.
/// Real processes, a real store, a task plug-in compiled from a git repository.
/// </summary>
public sealed class RunEndingTests(RunEndingTests.Experiment experiment) : IClassFixture<RunEndingTests.Experiment>
{
    /// <summary>How a case ends the process, from outside.</summary>
    public enum Ending
    {
        /// <summary>Nothing: the process ends by itself.</summary>
        None,
        SigInt,
        SigTerm,
        SigHup,
        SigQuit,
        SigKill,

        /// <summary>SIGTERM, then a second SIGTERM one second later (a service manager that insists).</summary>
        SigTermTwice,
    }

    /// <summary>One hostile case: what the task does, how its process is started and ended, and what must be recorded.</summary>
    public sealed record Case(string Name, string Action, Ending Ending, string Shell, string Status, string Reason, int? ExitCode)
    {
        public override string ToString() => Name;
    }

    private const string NoRedirection = "";
    private const string StdoutClosed = ">&-";

    // A 3 MB file size limit (ulimit -f) makes writes past it fail as a full disk does; SIGXFSZ is ignored so the
    // write returns the error instead of killing the process.
    private const string DiskFull = "ulimit -f 3000";

    /// <summary>The cases, each its own test (by name: the runner shows and reruns each alone).</summary>
    public static TheoryData<string> CaseNames => new(All.Select(c => c.Name));

    private static readonly IReadOnlyList<Case> All =
    [
        new("completes", "ok", Ending.None, NoRedirection, "completed", "", 0),
        new("completes_stdout_closed", "print", Ending.None, StdoutClosed, "completed", "", 0),
        new("completes_stderr_closed", "print_error", Ending.None, "2>&-", "completed", "", 0),
        new("completes_all_streams_closed", "print", Ending.None, "<&- >&- 2>&-", "completed", "", 0),
        new("completes_stdout_full", "print", Ending.None, ">/dev/full", "completed", "", 0),
        new("completes_stdout_pipe_broken", "print", Ending.None, "| head -c 1 >/dev/null", "completed", "", null),
        new("throws", "throw", Ending.None, NoRedirection, "failed", "the detector exploded", 1),
        new("throws_stdout_closed", "throw", Ending.None, StdoutClosed, "failed", "the detector exploded", 1),
        new("throws_with_a_cause", "throw_nested", Ending.None, NoRedirection, "failed", "cannot read tile 7: slide truncated", 1),
        new("cancels_itself", "cancel_itself", Ending.None, NoRedirection, "failed", "the task gave up", 1),
        new("calls_exit_0", "exit_0", Ending.None, NoRedirection, "failed", "the task called Environment.Exit(0)", 0),
        new("calls_exit_3", "exit_3", Ending.None, NoRedirection, "failed", "the task called Environment.Exit(3)", 3),
        new("calls_exit_from_a_thread", "exit_thread", Ending.None, NoRedirection, "failed", "the task called Environment.Exit(5)", 5),
        new("throws_on_a_thread", "throw_thread", Ending.None, NoRedirection, "failed", "thread exploded", null),
        new("throws_in_async_void", "throw_async_void", Ending.None, NoRedirection, "failed", "async void exploded", null),
        new("fails_fast", "fail_fast", Ending.None, NoRedirection, "failed", "process ended without recording an outcome", null),
        new("overflows_the_stack", "recurse", Ending.None, NoRedirection, "failed", "process ended without recording an outcome", null),
        new("sigint", "sleep", Ending.SigInt, NoRedirection, "aborted", "SIGINT", 130),
        new("sigterm", "sleep", Ending.SigTerm, NoRedirection, "aborted", "SIGTERM", 143),
        new("sighup", "sleep", Ending.SigHup, NoRedirection, "aborted", "SIGHUP", 129),
        new("sigquit", "sleep", Ending.SigQuit, NoRedirection, "aborted", "SIGQUIT", 131),
        new("sigterm_stdout_closed", "sleep", Ending.SigTerm, StdoutClosed, "aborted", "SIGTERM", 143),
        new("sighup_all_streams_closed", "sleep", Ending.SigHup, "<&- >&- 2>&-", "aborted", "SIGHUP", 129),
        new("sigkill", "sleep", Ending.SigKill, NoRedirection, "failed", "process ended without recording an outcome", null),
        new("sigkill_while_printing", "print_forever", Ending.SigKill, StdoutClosed, "failed", "process ended without recording an outcome", null),
        new("sigterm_ignored_by_the_task", "stubborn", Ending.SigTerm, NoRedirection, "aborted", "the task did not stop within 10 s", 143),
        new("sigterm_twice", "stubborn", Ending.SigTermTwice, NoRedirection, "aborted", "the process was ended before the task stopped", 143),
        new("disk_full_metrics", "metric_flood", Ending.None, DiskFull, "failed", "cannot write metrics", 1),
        new("disk_full_log", "log_flood", Ending.None, DiskFull, "failed", "cannot write the run's log", 1),
        new("artifact_unwritable_swallowed", "artifact_swallowed", Ending.None, NoRedirection, "failed", "cannot write artifact 'report.txt'", 1),
    ];

    [Theory]
    [MemberData(nameof(CaseNames))]
    public async Task Run_EndedSo_IsRecordedWithItsReason(string name)
    {
        var c = All.Single(c => c.Name == name);

        // Given a run of a task that misbehaves so, started so
        using var process = experiment.Start(c);
        if (c.Ending != Ending.None)
        {
            await experiment.WaitUntilStartedAsync(c.Name, process);
            Assert.Equal(0, Signals.Send(process.Id, c.Ending is Ending.SigTermTwice ? Ending.SigTerm : c.Ending));
            if (c.Ending == Ending.SigTermTwice)
            {
                await Task.Delay(TimeSpan.FromSeconds(1));
                Signals.Send(process.Id, Ending.SigTerm);
            }
        }

        // When it has ended
        var ended = await LaminaProcess.WaitAsync(process, TimeSpan.FromMinutes(3));

        // Then the next command shows it ended, with the reason, as a message (no exception type name)
        var run = await experiment.RunOfAsync(c.Name);
        var error = run.GetProperty("error").GetString() ?? "";
        Assert.True(c.Status == run.GetProperty("status").GetString(), $"{c.Name}: {run}\n{ended}");
        Assert.Contains(c.Reason, error);
        Assert.DoesNotContain("Exception:", error);
        if (c.ExitCode is { } code)
        {
            Assert.True(code == ended.ExitCode, $"{c.Name}: expected exit {code}\n{ended}");
        }
        if (c.Reason.Contains("without recording", StringComparison.Ordinal))
        {
            Assert.Contains($"host {Environment.MachineName}, pid {process.Id}", error);
        }
    }

    [Fact]
    public async Task RunsList_RightAfterKill9_ShowsTheRunFailed_AndPublishRefusesItAsFailedNotRunning()
    {
        using var process = experiment.Start(new Case("killed_then_listed", "sleep", Ending.SigKill, NoRedirection, "", "", null));
        await experiment.WaitUntilStartedAsync("killed_then_listed", process);
        Signals.Send(process.Id, Ending.SigKill);
        await LaminaProcess.WaitAsync(process);

        var list = await experiment.Lamina.RunAsync(experiment.Directory, "runs", "list", "--task", "killed_then_listed", "--json");
        var publish = await experiment.Lamina.RunAsync(experiment.Directory, "publish",
            JsonDocument.Parse(list.Stdout).RootElement[0].GetProperty("id").GetString()!);

        var run = JsonDocument.Parse(list.Stdout).RootElement.EnumerateArray().Single();
        Assert.Equal("failed", run.GetProperty("status").GetString());
        Assert.Equal(5, publish.ExitCode); // conflict: the run is failed, not completed
        Assert.Contains("is failed", publish.Stderr);
    }

    [Fact]
    public async Task Run_Failing_WritesItsErrorLineToStandardError_NotStandardOutput()
    {
        using var process = experiment.Start(new Case("failing_error_line", "throw", Ending.None, NoRedirection, "", "", null));

        var result = await LaminaProcess.WaitAsync(process);

        Assert.Contains("error: the detector exploded", result.Stderr);
        Assert.DoesNotContain("exploded", result.Stdout);
        Assert.DoesNotContain("InvalidOperationException", result.Stderr);
    }

    /// <summary>One experiment repository with a task per case, and one Lamina home, for every case of the class.</summary>
    public sealed class Experiment : IDisposable
    {
        private readonly TemporaryDirectory _temp = new();

        public Experiment()
        {
            Directory = _temp.Combine("experiment");
            System.IO.Directory.CreateDirectory(Directory);
            Lamina = new LaminaProcess(_temp.Combine("home"));
            var tasks = All
                .Select(c => (c.Name, c.Action))
                .Append(("killed_then_listed", "sleep"))
                .Append(("failing_error_line", "throw"))
                .Select(t => $"  {t.Item1}: {{type: custom, params: {{cls: Hostile, params: {{action: {t.Item2}}}}}}}");
            File.WriteAllText(Path.Combine(Directory, "lamina.yaml"), $"""
                version: 1
                project:
                  project_name: Hostile
                  sources_path: [plugins]
                tasks:
                {string.Join('\n', tasks)}
                """);
            System.IO.Directory.CreateDirectory(Path.Combine(Directory, "plugins"));
            File.WriteAllText(Path.Combine(Directory, "plugins", "Hostile.cs"), HostileTask);
            Git.Run(Directory, "init", "-q");
            Git.Run(Directory, "add", "-A");
            Git.Run(Directory, "commit", "-q", "-m", "hostile tasks");
        }

        public string Directory { get; }

        internal LaminaProcess Lamina { get; }

        /// <summary>Starts <c>lamina run CASE</c> through a shell that applies the case's redirections and limits.</summary>
        public Process Start(Case c)
        {
            var command = c.Shell.StartsWith("ulimit", StringComparison.Ordinal)
                ? $"trap '' XFSZ; {c.Shell}; exec dotnet \"$LAMINA_DLL\" run {c.Name}"
                : c.Shell.StartsWith('|')
                    ? $"dotnet \"$LAMINA_DLL\" run {c.Name} {c.Shell}"
                    : $"exec dotnet \"$LAMINA_DLL\" run {c.Name} {c.Shell}";
            var start = new ProcessStartInfo("bash")
            {
                WorkingDirectory = Directory,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                RedirectStandardInput = true,
                UseShellExecute = false,
            };
            start.ArgumentList.Add("-c");
            start.ArgumentList.Add(command);
            start.Environment["LAMINA_DLL"] = TestPaths.LaminaDll;
            start.Environment["LAMINA_HOME"] = Lamina.Home;
            start.Environment["NO_COLOR"] = "1";
            start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";

            // The runtime's W^X double mapping sizes a file past any small ulimit -f; without it only Lamina's files count.
            start.Environment["DOTNET_EnableWriteXorExecute"] = "0";
            return Process.Start(start)!;
        }

        public async Task WaitUntilStartedAsync(string task, Process process)
        {
            var marker = Path.Combine(Directory, $"started-{task}");
            var waited = Stopwatch.StartNew();
            while (!File.Exists(marker) && !process.HasExited && waited.Elapsed < TimeSpan.FromMinutes(2))
            {
                await Task.Delay(50);
            }
            Assert.True(File.Exists(marker), $"task {task} never started:\n{(process.HasExited ? await LaminaProcess.WaitAsync(process) : "")}");
        }

        /// <summary>The case's one run, as <c>runs show --json</c> reports it.</summary>
        public async Task<JsonElement> RunOfAsync(string task)
        {
            var list = await Lamina.RunAsync(Directory, "runs", "list", "--task", task, "--json");
            Assert.True(list.ExitCode == 0, list.ToString());
            var id = JsonDocument.Parse(list.Stdout).RootElement.EnumerateArray().Single().GetProperty("id").GetString()!;
            var show = await Lamina.RunAsync(Directory, "runs", "show", id, "--json");
            Assert.True(show.ExitCode == 0, show.ToString());
            return JsonDocument.Parse(show.Stdout).RootElement.GetProperty("run");
        }

        public void Dispose() => _temp.Dispose();
    }

    private const string HostileTask = """
        using Lamina.Core.Plugins;

        public sealed class Hostile(string action) : ICustomTask
        {
            public async Task RunAsync(IRunContext run, CancellationToken cancellationToken)
            {
                run.LogMetric("heartbeat", 1, 0);
                File.WriteAllText(Path.Combine(run.ExperimentDirectory, $"started-{run.TaskName}"), "started");
                switch (action)
                {
                    case "ok":
                        run.Log("all good");
                        break;
                    case "print":
                        for (var i = 0; i < 200; i++) Console.WriteLine($"line {i} of a task that talks a lot");
                        break;
                    case "print_error":
                        for (var i = 0; i < 200; i++) Console.Error.WriteLine($"warning {i} of a task that complains a lot");
                        break;
                    case "print_forever":
                        for (var i = 0; ; i++)
                        {
                            Console.WriteLine($"line {i}");
                            await Task.Delay(10, cancellationToken);
                        }
                    case "throw":
                        throw new InvalidOperationException("the detector exploded");
                    case "throw_nested":
                        throw new InvalidOperationException("cannot read tile 7", new IOException("slide truncated"));
                    case "cancel_itself":
                        throw new OperationCanceledException("the task gave up");
                    case "exit_0":
                        Environment.Exit(0);
                        break;
                    case "exit_3":
                        Environment.Exit(3);
                        break;
                    case "exit_thread":
                        new Thread(() => Environment.Exit(5)).Start();
                        await Task.Delay(TimeSpan.FromMinutes(5), cancellationToken);
                        break;
                    case "throw_thread":
                        new Thread(() => throw new InvalidOperationException("thread exploded")).Start();
                        await Task.Delay(TimeSpan.FromMinutes(5), cancellationToken);
                        break;
                    case "throw_async_void":
                        AsyncVoid();
                        await Task.Delay(TimeSpan.FromMinutes(5), cancellationToken);
                        break;
                    case "fail_fast":
                        await Task.Delay(1500, cancellationToken);
                        Environment.FailFast("the plug-in gave up");
                        break;
                    case "recurse":
                        await Task.Delay(1500, cancellationToken);
                        Recurse(1);
                        break;
                    case "stubborn":
                        while (true) Thread.Sleep(100);
                    case "metric_flood":
                        for (var step = 0; ; step++)
                        {
                            for (var i = 0; i < 20000; i++) run.LogMetric($"metric_with_a_long_name_{i % 50:D3}", i * 0.5, step * 20000L + i);
                            await Task.Delay(50, cancellationToken);
                        }
                    case "log_flood":
                        var line = new string('x', 1000);
                        for (var i = 0; ; i++)
                        {
                            for (var j = 0; j < 2000; j++) run.Log(line);
                            await Task.Delay(50, cancellationToken);
                        }
                    case "artifact_swallowed":
                        var blobs = Path.Combine(Environment.GetEnvironmentVariable("LAMINA_HOME")!, "blobs");
                        Directory.Move(blobs, blobs + ".away");
                        File.WriteAllText(blobs, "not a folder");
                        try
                        {
                            await run.LogArtifactAsync("report.txt", new MemoryStream(new byte[] { 1, 2, 3 }), cancellationToken);
                        }
                        catch (Exception)
                        {
                            // A task that swallows the failure: the run must still not pass as completed.
                        }
                        finally
                        {
                            File.Delete(blobs);
                            Directory.Move(blobs + ".away", blobs);
                        }
                        break;
                    default:
                        await Task.Delay(TimeSpan.FromMinutes(5), cancellationToken);
                        break;
                }
            }

            private static async void AsyncVoid()
            {
                await Task.Yield();
                throw new InvalidOperationException("async void exploded");
            }

            private static int Recurse(int depth) => depth == int.MaxValue ? depth : Recurse(depth + 1) + 1;
        }
        """;
}

/// <summary>Sends POSIX signals to a process.</summary>
internal static partial class Signals
{
    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);

    public static int Send(int pid, RunEndingTests.Ending ending) => Kill(pid, ending switch
    {
        RunEndingTests.Ending.SigInt => 2,
        RunEndingTests.Ending.SigTerm => 15,
        RunEndingTests.Ending.SigHup => 1,
        RunEndingTests.Ending.SigQuit => 3,
        RunEndingTests.Ending.SigKill => 9,
        _ => throw new ArgumentOutOfRangeException(nameof(ending)),
    });
}
