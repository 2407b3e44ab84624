using System.Diagnostics;

namespace Lamina.Lab.Training;

/// <summary>
/// Runs a share of work on the calling thread and on each of a few dedicated threads, for the sub-millisecond stages of head
/// training. A training step hands out a job every few tens of microseconds; the thread pool takes about as long to
/// wake a worker (measured: two pool threads trained no faster than one). These workers spin for a moment between
/// jobs, then sleep until the next one. Shares write disjoint outputs, so which thread runs one never changes a result.
/// </summary>
internal sealed class WorkerTeam : IDisposable
{
    private static readonly long SpinTicks = Stopwatch.Frequency / 500; // 2 ms

    private readonly Thread[] _threads;
    private readonly object _gate = new();
    private Job? _job;
    private int _sleepers;
    private volatile bool _stopping;

    /// <summary>
    /// Starts <paramref name="threads"/> − 1 workers, at most one per processor besides the caller (spinning threads
    /// beyond the processors would only wait for each other); with one thread (or fewer) all work runs on the caller.
    /// </summary>
    public WorkerTeam(int threads)
    {
        _threads = new Thread[Math.Clamp(threads, 1, Environment.ProcessorCount) - 1];
        for (var i = 0; i < _threads.Length; i++)
        {
            _threads[i] = new Thread(WorkerLoop) { IsBackground = true, Name = $"lamina-trainer-{i + 1}" };
            _threads[i].Start(i + 1);
        }
    }

    /// <summary>The threads shares run on, the caller included.</summary>
    public int Threads => _threads.Length + 1;

    /// <summary>
    /// Runs <paramref name="body"/>(t) once on each thread t of the team (the caller is 0), so that a share of the work
    /// stays with one thread, and its cache, from one job to the next; rethrows the first failure.
    /// </summary>
    public void RunPerThread(Action<int> body)
    {
        if (_threads.Length == 0)
        {
            body(0);
            return;
        }
        var job = new Job(body, Threads);
        // Publishing is a full fence, and so is a worker's announcing that it goes to sleep: either the worker then sees
        // this job, or this thread sees the sleeper and wakes it. No lock on the way of a spinning worker.
        Interlocked.Exchange(ref _job, job);
        if (Volatile.Read(ref _sleepers) > 0)
        {
            lock (_gate) Monitor.PulseAll(_gate);
        }
        job.Work(0);
        for (var spins = 0; Volatile.Read(ref job.Pending) > 0; spins++)
        {
            // A worker that is not running (the machine is busy) needs this processor more than this loop does.
            if (spins % 1024 == 1023) Thread.Yield();
            else Pause();
        }
        if (job.Failure is { } failure) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failure);
    }

    public void Dispose()
    {
        _stopping = true;
        lock (_gate) Monitor.PulseAll(_gate);
        foreach (var thread in _threads) thread.Join();
    }

    private void WorkerLoop(object? index)
    {
        var thread = (int)index!;
        Job? seen = null;
        while (!_stopping)
        {
            var job = Volatile.Read(ref _job);
            if (job != seen)
            {
                seen = job;
                job!.Work(thread);
                continue;
            }
            var start = Stopwatch.GetTimestamp();
            for (var spins = 0; Volatile.Read(ref _job) == seen && !_stopping && Stopwatch.GetTimestamp() - start < SpinTicks; spins++)
            {
                if (spins % 1024 == 1023) Thread.Yield();
                else Pause();
            }
            if (Volatile.Read(ref _job) != seen || _stopping) continue;
            lock (_gate)
            {
                Interlocked.Increment(ref _sleepers);
                while (Volatile.Read(ref _job) == seen && !_stopping) Monitor.Wait(_gate);
                Interlocked.Decrement(ref _sleepers);
            }
        }
    }

    /// <summary>One spin-wait hint to the processor; no call into the runtime, which polls for garbage collection there.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    private static void Pause()
    {
        if (System.Runtime.Intrinsics.X86.X86Base.IsSupported) System.Runtime.Intrinsics.X86.X86Base.Pause();
        else if (System.Runtime.Intrinsics.Arm.ArmBase.IsSupported) System.Runtime.Intrinsics.Arm.ArmBase.Yield();
        else Thread.SpinWait(1);
    }

    /// <summary>A job: one share per thread, by the thread's number.</summary>
    private sealed class Job(Action<int> body, int threads)
    {
        public int Pending = threads;
        public Exception? Failure;

        public void Work(int thread)
        {
            try
            {
                body(thread);
            }
            catch (Exception e)
            {
                Interlocked.CompareExchange(ref Failure, e, null);
            }
            finally
            {
                Interlocked.Decrement(ref Pending);
            }
        }
    }
}
