using System.Text.Json.Nodes;
using Lamina.Tracking;

namespace Lamina.Cli.Tests;

public sealed class StoreCopyCommandTests
{
    [Fact]
    public async Task StoreCopy_OfAHomeWithAPublishedModel_GivesAHomeThatVerifiesTracesAndRefusesDeletion_AndASecondCopyCopiesNothing()
    {
        // Given a laptop's home with a trained run published with `lamina publish`, and an empty home elsewhere
        using var temp = new TemporaryDirectory();
        var laptop = new LaminaHome(temp.Combine("laptop")).EnsureCreated();
        var run = await ShipCommandTests.StoreTrainedModelAsync(laptop);
        var onLaptop = new LaminaProcess(laptop.Root);
        var publish = await onLaptop.RunAsync(temp.Path, "publish", run.ToString(), "--reason", "release 1");
        Assert.True(publish.ExitCode == 0, publish.ToString());
        var team = temp.Combine("team");

        // When it is copied with `lamina store copy`
        var copy = await onLaptop.RunAsync(temp.Path, "store", "copy", "--from", laptop.Root, "--to", team, "--json");

        // Then the summary counts the run, its blobs, the published model and the audit entries
        Assert.True(copy.ExitCode == 0, copy.ToString());
        var summary = JsonNode.Parse(copy.Stdout)!;
        Assert.Equal(1, summary["runs_copied"]!.GetValue<int>());
        Assert.Equal(1, summary["models_copied"]!.GetValue<int>());
        Assert.True(summary["blobs_copied"]!.GetValue<int>() >= 2, copy.Stdout);
        Assert.Equal("verbatim", summary["audit_mode"]!.GetValue<string>());
        Assert.Contains("runs: 1 copied", copy.Stderr);

        // And the copy shows the same run and audit chain, verifies, traces, and refuses to delete the published run
        var onTeam = new LaminaProcess(team);
        Assert.Equal((await onLaptop.RunAsync(temp.Path, "runs", "show", run.ToString(), "--json")).Stdout,
            (await onTeam.RunAsync(temp.Path, "runs", "show", run.ToString(), "--json")).Stdout);
        var verifyLaptop = await onLaptop.RunAsync(temp.Path, "audit", "verify", "--json");
        var verifyTeam = await onTeam.RunAsync(temp.Path, "audit", "verify", "--json");
        Assert.True(verifyTeam.ExitCode == 0, verifyTeam.ToString());
        Assert.Equal(JsonNode.Parse(verifyLaptop.Stdout)!["head_hash"]!.GetValue<string>(), JsonNode.Parse(verifyTeam.Stdout)!["head_hash"]!.GetValue<string>());
        var trace = await onTeam.RunAsync(temp.Path, "trace", run.ToString());
        Assert.True(trace.ExitCode == 0, trace.ToString());
        Assert.Contains("published", trace.Stdout);
        var delete = await onTeam.RunAsync(temp.Path, "runs", "delete", run.ToString(), "--yes");
        Assert.True(delete.ExitCode == ExitCodes.Conflict, delete.ToString());
        Assert.Contains("is published", delete.Stderr);

        // And a second copy copies nothing
        var again = await onLaptop.RunAsync(temp.Path, "store", "copy", "--from", laptop.Root, "--to", team, "--json");
        Assert.True(again.ExitCode == 0, again.ToString());
        var second = JsonNode.Parse(again.Stdout)!;
        Assert.False(second["copied_anything"]!.GetValue<bool>(), again.Stdout);
        Assert.Equal(1, second["runs_skipped"]!.GetValue<int>());
    }

    [Fact]
    public async Task StoreCopy_OfATamperedBlob_ExitsWithIntegrityNamingTheBlob_AndTheTargetHasNoRun()
    {
        // Given a home one of whose blobs was altered
        using var temp = new TemporaryDirectory();
        var laptop = new LaminaHome(temp.Combine("laptop")).EnsureCreated();
        await ShipCommandTests.StoreTrainedModelAsync(laptop);
        var blob = Directory.EnumerateFiles(laptop.BlobsPath, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal).First();
        var digest = Path.GetFileName(Path.GetDirectoryName(blob)) + Path.GetFileName(blob);
        File.WriteAllText(blob, "altered");
        var team = temp.Combine("team");

        // When it is copied
        var copy = await new LaminaProcess(laptop.Root).RunAsync(temp.Path, "store", "copy", "--from", laptop.Root, "--to", team);

        // Then it fails as an integrity error naming the blob, and the target shows no run
        Assert.True(copy.ExitCode == ExitCodes.Integrity, copy.ToString());
        Assert.Contains(digest, copy.Stderr);
        var runs = await new LaminaProcess(team).RunAsync(temp.Path, "runs", "list", "--json");
        Assert.Equal("[]", runs.Stdout.Trim());
    }

    [Fact]
    public async Task StoreCopy_WithoutEveryTargetStore_OrWithAStoreItCannotOpen_IsAUsageError()
    {
        // Given a home
        using var temp = new TemporaryDirectory();
        var laptop = new LaminaHome(temp.Combine("laptop")).EnsureCreated();
        var lamina = new LaminaProcess(laptop.Root);

        // When the target names only its tracking store, or a kind of store this build cannot open, or the source itself
        var partial = await lamina.RunAsync(temp.Path, "store", "copy", "--to-tracking", "sqlite:" + temp.Combine("t.db"));
        var unknown = await lamina.RunAsync(temp.Path, "store", "copy", "--to-tracking", "mysql://db/lamina",
            "--to-artifacts", temp.Combine("blobs"), "--to-production", temp.Combine("production"));
        var itself = await lamina.RunAsync(temp.Path, "store", "copy", "--to", laptop.Root);

        // Then each is refused as a usage error that names what is wrong
        Assert.True(partial.ExitCode == ExitCodes.Usage, partial.ToString());
        Assert.Contains("--to-artifacts", partial.Stderr);
        Assert.True(unknown.ExitCode == ExitCodes.Usage, unknown.ToString());
        Assert.Contains("mysql://db/lamina", unknown.Stderr);
        Assert.True(itself.ExitCode == ExitCodes.Usage, itself.ToString());
        Assert.Contains("onto itself", itself.Stderr);
    }
}
