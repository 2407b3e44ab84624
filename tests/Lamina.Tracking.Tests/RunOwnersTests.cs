using System.Diagnostics;

namespace Lamina.Tracking.Tests;

/// <summary>Issue 12: whether a run's owning process on this host has ended is seen at once, without waiting for its lease.</summary>
public sealed class RunOwnersTests
{
    [Fact]
    public void ThisProcess_IsAlive_AndNamesThisHostAndPid()
    {
        var owner = RunOwners.ThisProcess;

        Assert.Equal((Environment.MachineName, Environment.ProcessId), (owner.Host, owner.ProcessId));
        Assert.False(RunOwners.HasEnded(owner));
        Assert.Equal($"host {Environment.MachineName}, pid {Environment.ProcessId}", owner.ToString());
    }

    [Fact]
    public async Task AProcessThatExited_HasEnded()
    {
        // cat waits for its input, so its start time is read while it lives; closing the input ends it.
        using var process = Process.Start(new ProcessStartInfo("cat") { UseShellExecute = false, RedirectStandardInput = true })!;
        var owner = new RunOwner(Environment.MachineName, process.Id, process.StartTime.ToUniversalTime());
        process.StandardInput.Close();
        await process.WaitForExitAsync();

        Assert.True(RunOwners.HasEnded(owner));
    }

    [Fact]
    public void ALiveProcessStartedAtAnotherTime_HasEnded_ItsPidWasReused()
    {
        var reused = RunOwners.ThisProcess with { ProcessStartedAt = RunOwners.ThisProcess.ProcessStartedAt.AddHours(-1) };

        Assert.True(RunOwners.HasEnded(reused));
    }

    [Fact]
    public void AProcessOnAnotherHost_IsNotJudged_ItsLeaseDecides()
    {
        var elsewhere = new RunOwner(Environment.MachineName + "-elsewhere", 999_999, DateTimeOffset.UnixEpoch);

        Assert.False(RunOwners.HasEnded(elsewhere));
    }

    [Fact]
    public void AProcessOfAnotherPidNamespaceOrBoot_IsNotJudged_EvenUnderThisHostName()
    {
        // A container sharing this host's name: its pids are not this process table's.
        var container = new RunOwner(Environment.MachineName, 999_999, DateTimeOffset.UnixEpoch) { Scope = "another-boot/pid:[1]" };

        Assert.False(RunOwners.HasEnded(container));
        Assert.True(RunOwners.HasEnded(container with { Scope = RunOwners.ThisProcess.Scope }));
    }
}
