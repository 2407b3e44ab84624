using Lamina.Lab.Training;

namespace Lamina.Lab.Tests.Training;

public sealed class WorkerTeamTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(4)]
    public void RunPerThread_RunsEveryShareExactlyOnce_JobAfterJob(int threads)
    {
        // Given a team and many small jobs in a row (as a training step hands them out)
        using var team = new WorkerTeam(threads);
        var counts = new int[team.Threads];

        // When each job counts its shares
        for (var job = 0; job < 2_000; job++)
        {
            team.RunPerThread(t => Interlocked.Increment(ref counts[t]));
        }

        // Then every share ran once per job, and the team uses as many threads as asked, but no more than processors
        Assert.All(counts, c => Assert.Equal(2_000, c));
        Assert.Equal(Math.Min(threads, Environment.ProcessorCount), team.Threads);
    }

    [Fact]
    public void RunPerThread_RunsEachShareOnItsOwnThread_EveryTime()
    {
        // Given a team of (up to) two threads
        using var team = new WorkerTeam(2);

        // When many jobs record which managed thread ran each share
        var owners = new int[team.Threads];
        for (var job = 0; job < 500; job++)
        {
            team.RunPerThread(t =>
            {
                var id = Environment.CurrentManagedThreadId;
                if (job == 0) owners[t] = id;
                else if (owners[t] != id) owners[t] = -1;
            });
        }

        // Then share 0 always ran on the caller, and each share always on the same thread
        Assert.Equal(Environment.CurrentManagedThreadId, owners[0]);
        Assert.All(owners, o => Assert.NotEqual(-1, o));
        Assert.Equal(owners.Length, owners.Distinct().Count());
    }

    [Fact]
    public void RunPerThread_WhenAShareFails_RethrowsItAfterTheOthersHaveRun()
    {
        // Given a team and a job whose last share fails (a worker's, when the team has two threads)
        using var team = new WorkerTeam(2);
        var done = new int[team.Threads];
        var failing = team.Threads - 1;

        // When it runs
        var error = Assert.Throws<InvalidOperationException>(() => team.RunPerThread(t =>
        {
            if (t == failing) throw new InvalidOperationException($"share {t}");
            Interlocked.Increment(ref done[t]);
        }));

        // Then the failure comes back to the caller, every other share ran, and the team still works
        Assert.Equal($"share {failing}", error.Message);
        Assert.Equal(team.Threads - 1, done.Sum());
        var after = 0;
        team.RunPerThread(_ => Interlocked.Increment(ref after));
        Assert.Equal(team.Threads, after);
    }

    [Fact]
    public void RunPerThread_AfterTheWorkersHaveFallenAsleep_StillRunsOnThem()
    {
        // Given a team whose workers have waited past their spinning time
        using var team = new WorkerTeam(2);
        Thread.Sleep(50);

        // When a job runs whose shares each wait for the other to start
        using var bothStarted = new Barrier(team.Threads);
        var met = 0;
        team.RunPerThread(_ =>
        {
            if (bothStarted.SignalAndWait(TimeSpan.FromSeconds(10))) Interlocked.Increment(ref met);
        });

        // Then the shares ran at the same time, on two threads
        Assert.Equal(2, met);
    }
}
