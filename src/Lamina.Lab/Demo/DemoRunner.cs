using Lamina.Core;
using Lamina.Lab.Tasks;
using Lamina.Tracking;

namespace Lamina.Lab.Demo;

/// <summary>What the demo did, for the command line to show: every run, in order.</summary>
public sealed record DemoResult(string ExperimentDirectory, bool GitRepository, IReadOnlyList<RunOutcome> Runs)
{
    public RunOutcome Outcome => Runs.FirstOrDefault(r => r.Status != Tracking.RunStatus.Completed) ?? Runs[^1];
}

/// <summary>How much the demo synthesises and trains.</summary>
/// <param name="Slides">Synthetic slides to make.</param>
/// <param name="SlideSize">Side of each slide in pixels.</param>
/// <param name="Train">Whether to train the sample's models (the slides are made only when true).</param>
public sealed record DemoOptions(int Slides = 4, int SlideSize = 8192, bool Train = true, int Seed = 1);

/// <summary>
/// The main job: writes the sample experiment into a fresh folder, makes it a git repository with one commit and
/// one uncommitted change (as a data scientist's work in progress), runs its custom task, synthesises slides with
/// ground truth, and trains the carcinoma and mitosis models on them, every step tracked.
/// </summary>
public sealed class DemoRunner(TaskRunner runner)
{
    public const string Sample = "normalization-test";
    public const string Task = "check_normalization";
    public static readonly IReadOnlyList<string> TrainingTasks = ["simple_train", "train_mitosis"];

    public async Task<DemoResult> RunAsync(string outputDirectory, DemoOptions options, Action<string> report, CancellationToken cancellationToken)
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

        var file = Path.Combine(experiment, "lamina.yaml");
        var runs = new List<RunOutcome> { await runner.RunAsync(new RunRequest(file, Task, []), cancellationToken) };
        if (!options.Train || runs[^1].Status != Tracking.RunStatus.Completed)
        {
            return new DemoResult(experiment, git, runs);
        }

        // The slides sit in the experiment's slides/ folder, which its .gitignore keeps out of the recorded diff.
        var slides = Path.Combine(experiment, "slides");
        Directory.CreateDirectory(slides);
        for (var i = 0; i < options.Slides; i++)
        {
            var name = $"slide-{i:000}";
            var summary = Synthetic.SyntheticSlideGenerator.Generate(
                new Synthetic.SynthOptions(options.SlideSize, options.SlideSize, options.Seed + i),
                Path.Combine(slides, name + ".tif"), Path.Combine(slides, name + ".geojson"), cancellationToken: cancellationToken);
            report(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"synthesised {name}.tif ({options.SlideSize}², {summary.CarcinomaAreaMm2:0.###} mm² carcinoma, {summary.MitosisCount} mitoses)"));
        }
        foreach (var task in TrainingTasks)
        {
            report($"training: lamina run {task}");
            runs.Add(await runner.RunAsync(new RunRequest(file, task, []), cancellationToken));
            if (runs[^1].Status != Tracking.RunStatus.Completed) break;
        }
        return new DemoResult(experiment, git, runs);
    }

    private static async Task<bool> TryCommitAsync(string directory, CancellationToken cancellationToken)
    {
        if (!await GitCommand.TryRunAsync(directory, ["init", "-q"], cancellationToken))
        {
            return false;
        }
        await GitCommand.RunAsync(directory, ["add", "-A"], cancellationToken);
        await GitCommand.RunAsync(directory, ["-c", "user.name=Lamina demo", "-c", "user.email=demo@lamina.invalid",
            "commit", "-q", "-m", "Sample experiment from lamina demo"], cancellationToken);
        return true;
    }
}
