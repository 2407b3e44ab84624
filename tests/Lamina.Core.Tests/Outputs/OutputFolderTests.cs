using System.Diagnostics;
using Lamina.Core.Outputs;

namespace Lamina.Core.Tests.Outputs;

/// <summary>Issue 12: outputs are whole or absent, never written over without being asked, and leftovers are cleaned.</summary>
public sealed class OutputFolderTests : IDisposable
{
    private readonly TemporaryDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    private string Target => _temp.Combine("results");

    private string[] Entries() => [.. Directory.GetFileSystemEntries(_temp.Path).Select(p => Path.GetFileName(p)!).Order(StringComparer.Ordinal)];

    [Fact]
    public void Commit_MovesTheWholeFolderIntoPlace_AndDisposeBeforeCommitLeavesNothing()
    {
        using (var abandoned = OutputFolder.Begin(Target, force: false))
        {
            File.WriteAllText(Path.Combine(abandoned.Staging, "half.tif"), "half");
            Assert.False(Directory.Exists(Target));
        }
        Assert.Empty(Entries());

        using (var output = OutputFolder.Begin(Target, force: false))
        {
            File.WriteAllText(Path.Combine(output.Staging, "report.json"), "{}");
            output.Commit();
        }
        Assert.Equal(["results"], Entries());
        Assert.Equal("{}", File.ReadAllText(Path.Combine(Target, "report.json")));
    }

    [Fact]
    public void Begin_OnAFolderHoldingFiles_IsRefusedWithoutForce_AndForceReplacesItOnCommit()
    {
        Directory.CreateDirectory(Target);
        File.WriteAllText(Path.Combine(Target, "notes.txt"), "mine");

        var error = Assert.Throws<OutputException>(() => OutputFolder.Begin(Target, force: false));
        Assert.Equal($"{Target} already exists and is not empty: nothing was written; choose a new place, or add --force to replace it", error.Message);
        Assert.Equal(["results"], Entries());

        using (var output = OutputFolder.Begin(Target, force: true))
        {
            File.WriteAllText(Path.Combine(output.Staging, "report.json"), "{}");
            Assert.True(File.Exists(Path.Combine(Target, "notes.txt")), "the old output stays until the new one is whole");
            output.Commit();
        }
        Assert.Equal(["results"], Entries());
        Assert.Equal(["report.json"], Directory.GetFiles(Target).Select(Path.GetFileName));
    }

    [Fact]
    public void Commit_WhenSomethingAppearedMeanwhile_IsRefusedWithoutForce_AndKeepsIt()
    {
        using var output = OutputFolder.Begin(Target, force: false);
        Directory.CreateDirectory(Target);
        File.WriteAllText(Path.Combine(Target, "other.txt"), "another writer's");

        Assert.Throws<OutputException>(output.Commit);

        Assert.Equal("another writer's", File.ReadAllText(Path.Combine(Target, "other.txt")));
    }

    [Fact]
    public void Begin_UnderAFile_NamesTheFile()
    {
        File.WriteAllText(_temp.Combine("blocker"), "a file");

        var error = Assert.Throws<OutputException>(() => OutputFolder.Begin(_temp.Combine("blocker", "results"), force: true));

        Assert.StartsWith($"{_temp.Combine("blocker")} is a file, where a folder is needed", error.Message);
    }

    [Fact]
    public void Begin_RemovesLeftoversOfGoneProcesses_AndOldUnownedOnes_ButKeepsThoseOfRunningOnes()
    {
        // Given leftovers: of a process that is gone, of this running one, and unowned ones (earlier versions) old and new
        using var self = Process.GetCurrentProcess();
        var live = $"results.tmp-{Environment.ProcessId}-{new DateTimeOffset(self.StartTime.ToUniversalTime()).ToUnixTimeSeconds():x}-0badf00d";
        var oldUnowned = $"results.tmp-{Guid.NewGuid():N}";
        var newUnowned = $"results.tmp-{Guid.NewGuid():N}";
        foreach (var name in new[] { "results.tmp-2147483647-1-deadbeef", "results.old-2147483647-1-deadbeef", live, oldUnowned, newUnowned, "results.notes" })
        {
            Directory.CreateDirectory(_temp.Combine(name, "models"));
        }
        Directory.SetLastWriteTimeUtc(_temp.Combine(oldUnowned), DateTime.UtcNow.AddHours(-2));

        // When an output to the same place begins and is abandoned
        OutputFolder.Begin(Target, force: false).Dispose();

        // Then only the running process's, the recent unowned one and what is not a leftover remain
        Assert.Equal(new[] { live, newUnowned, "results.notes" }.Order(StringComparer.Ordinal), Entries());
    }

    [Fact]
    public void Files_AreRefusedOverExistingOnes_WrittenUnderATemporaryName_AndLeftoversRemoved()
    {
        var folder = _temp.Combine("slides");
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "slide-000.tif"), "mine");
        File.WriteAllText(Path.Combine(folder, ".slide-001.tmp-2147483647-1-deadbeef.tif"), "half");

        var error = Assert.Throws<OutputException>(() => OutputFiles.Prepare(folder, ["slide-000.tif"], force: false));
        Assert.StartsWith($"{Path.Combine(folder, "slide-000.tif")} already exists: nothing was written", error.Message);

        OutputFiles.Prepare(folder, ["slide-001.tif"], force: false);
        var staged = OutputFiles.StagingPath(Path.Combine(folder, "slide-001.tif"));
        Assert.EndsWith(".tif", staged);
        File.WriteAllText(staged, "whole");
        OutputFiles.MoveIntoPlace(staged, Path.Combine(folder, "slide-001.tif"), overwrite: false);

        Assert.Equal(["slide-000.tif", "slide-001.tif"], Directory.GetFiles(folder).Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }
}
