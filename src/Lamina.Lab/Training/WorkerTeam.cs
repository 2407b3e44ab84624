using System.Diagnostics;

namespace Lamina.Lab.Training;

/// <summary>
/// Runs numbered work items on the calling thread and a few dedicated threads, for the sub-millisecond steps of head
/// training. A training step hands out a job every ~0.1 ms; the thread pool takes about as long to wake a worker, so a
/// 16-row chunk sent there was usually done by the caller before any helper arrived (measured: two threads trained no
/// faster than one). These workers spin for a moment between jobs, then sleep until the next one.
/// Which thread runs an item never changes a result: items write disjoint outputs, summed by the caller in item order.
/// </summary>
internal sealed class WorkerTeam : IDisposable
{
    private static readonly long SpinTicks = Stopwatch.Frequency / 500; // 2 ms

    private readonly Thread[] _threads;
    private readonly object _gate = new();
    private Job? _job;
    private int _sleepers;
    private volatile bool _stopping;

    /// <summary>Starts <paramref name="threads"/> − 1 workers; with one thread (or fewer) every item runs on the caller.</summary>
    public WorkerTeam(int threads)
    {
        _threads = new Thread[Math.Max(0, threads - 1)];
        for (var i = 0; i < _threads.Length; i++)
        {
            _threads[i] = new Thread(WorkerLoop) { IsBackground = true, Name = $"lamina-trainer-{i + 1}" };
            _threads[i].Start();
        }
    }

    /// <summary>The threads items run on, the caller included.</summary>
    public int Threads => _threads.Length + 1;

    /// <summary>Runs <paramref name="body"/> for items 0 to <paramref name="count"/> − 1 and returns when all are done; rethrows the first failure.</summary>
    public void Run(int count, Action<int> body)
    {
        if (_threads.Length == 0 || count < 2)
        {
            for (var i = 0; i < count; i++) body(i);
            return;
        }
        var job = new Job(body, count);
        // Publishing is a full fence, and so is a worker's announcing that it goes to sleep: either the worker then sees
        // this job, or this thread sees the sleeper and wakes it. No lock on the way of a spinning worker.
        Interlocked.Exchange(ref _job, job);
        if (Volatile.Read(ref _sleepers) > 0)
        {
            lock (_gate) Monitor.PulseAll(_gate);
        }
        job.Work();
        while (Volatile.Read(ref job.Pending) > 0) Pause();
        if (job.Failure is { } failure) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failure);
    }

    public void Dispose()
    {
        _stopping = true;
        lock (_gate) Monitor.PulseAll(_gate);
        foreach (var thread in _threads) thread.Join();
    }

    private void WorkerLoop()
    {
        Job? seen = null;
        while (!_stopping)
        {
            var job = Volatile.Read(ref _job);
            if (job != seen)
            {
                seen = job;
                job!.Work();
                continue;
            }
            var start = Stopwatch.GetTimestamp();
            while (Volatile.Read(ref _job) == seen && !_stopping && Stopwatch.GetTimestamp() - start < SpinTicks)
            {
                Pause();
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

    private sealed class Job(Action<int> body, int count)
    {
        private readonly int _count = count;
        public int Next;
        public int Pending = count;
        public Exception? Failure;

        public void Work()
        {
            int item;
            while ((item = Interlocked.Increment(ref Next) - 1) < _count)
            {
                try
                {
                    body(item);
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
}
