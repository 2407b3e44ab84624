using System.Diagnostics;
using Lamina.Core;
using Lamina.Lab.Tasks;

namespace Lamina.Lab.Demo;

/// <summary>What the demo did, for the command line to show.</summary>
public sealed record DemoResult(string ExperimentDirectory, bool GitRepository, RunOutcome Outcome);

/// <summary>
/// The main job: writes the sample experiment into a fresh folder, makes it a git repository with one commit and
/// one uncommitted change (as a data scientist's work in progress), and runs its custom task, tracked.
/// </summary>
public sealed class DemoRunner(TaskRunner runner)
{
    public const string Sample = "normalization-test";
    public const string Task = "check_normalization";

    public async Task<DemoResult> RunAsync(string outputDirectory, Action<string> report, CancellationToken cancellationToken)
    {
        var experiment = Path.Combine(Path.GetFullPath(outputDirectory), Sample);
        if (Directory.Exists(experiment) && Directory.EnumerateFileSystemEntries(experiment).Any())
        {
            throw new LaminaException($"'{experiment}' already exists and is not empty; choose another --out or remove it");
        }
        var files = SampleExperiments.WriteTo(Sample, experiment);
        report($"wrote the sample experiment ({files.Count} files) to {experiment}");

        var git = await TryCommitAsync(experiment, cancellationToken);
        if (git)
        {
            // A change not yet committed: the run must record it in its diff.
            var yaml = Path.Combine(experiment, "lamina.yaml");
            await File.WriteAllTextAsync(yaml, (await File.ReadAllTextAsync(yaml, cancellationToken)).Replace("tiles: 64", "tiles: 48"), cancellationToken);
            report("made it a git repository with one commit and one uncommitted change (tiles: 64 -> 48)");
        }
        else
        {
            report("git is not installed: the run records that there was no git");
        }

        var outcome = await runner.RunAsync(new RunRequest(Path.Combine(experiment, "lamina.yaml"), Task, []), cancellationToken);
        return new DemoResult(experiment, git, outcome);
    }

    private static async Task<bool> TryCommitAsync(string directory, CancellationToken cancellationToken)
    {
        try
        {
            await GitAsync(directory, cancellationToken, "init", "-q");
            await GitAsync(directory, cancellationToken, "add", "-A");
            await GitAsync(directory, cancellationToken, "-c", "user.name=Lamina demo", "-c", "user.email=demo@lamina.invalid",
                "commit", "-q", "-m", "Sample experiment from lamina demo");
            return true;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false;
        }
    }

    private static async Task GitAsync(string directory, CancellationToken cancellationToken, params string[] arguments)
    {
        var start = new ProcessStartInfo("git") { WorkingDirectory = directory, RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        using var process = Process.Start(start)!;
        var error = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.StandardOutput.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        if (process.ExitCode != 0)
        {
            throw new LaminaException($"git {string.Join(' ', arguments)} failed in {directory}: {(await error).Trim()}");
        }
    }
}
