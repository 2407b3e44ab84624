using System.Diagnostics;
using System.Runtime;
using System.Globalization;

namespace Lamina.Lab.Diagnostics;

/// <summary>
/// With <c>LAMINA_TRACE_TIMING=1</c>, writes how long each phase of a run took to standard error (milliseconds, and the
/// time since the process started), so that where a run's time goes can be measured without a profiler.
/// </summary>
internal static class TimingTrace
{
    private static readonly bool Enabled;
    private static readonly DateTimeOffset ProcessStart;
    private static readonly TextWriter Output;

    // Explicit, so it runs at the first phase, before a run captures the console: the trace stays out of the run's log.
    static TimingTrace()
    {
        Enabled = Environment.GetEnvironmentVariable("LAMINA_TRACE_TIMING") is "1" or "true";
        ProcessStart = Enabled ? Process.GetCurrentProcess().StartTime.ToUniversalTime() : default;
        Output = Console.Error;
    }

    /// <summary>Starts timing a phase; disposing the result writes its duration.</summary>
    public static Phase Start(string name) => Enabled
        ? new(name, Stopwatch.GetTimestamp(), JitInfo.GetCompilationTime(), JitInfo.GetCompiledMethodCount())
        : new(null, 0, TimeSpan.Zero, 0);

    /// <summary>A phase being timed, with the time the JIT compiler spent in it (on every thread) and the methods it compiled.</summary>
    public readonly struct Phase(string? name, long started, TimeSpan jitBefore, long methodsBefore) : IDisposable
    {
        public void Dispose()
        {
            if (name is null) return;
            var elapsed = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            var sinceStart = (TimeProvider.System.GetUtcNow() - ProcessStart).TotalMilliseconds;
            var jit = (JitInfo.GetCompilationTime() - jitBefore).TotalMilliseconds;
            var methods = JitInfo.GetCompiledMethodCount() - methodsBefore;
            Output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"timing: {name,-28} {elapsed,8:F1} ms  (at {sinceStart,7:F0} ms; jit {jit,6:F1} ms, {methods,5} methods)"));
        }
    }
}
