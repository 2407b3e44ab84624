using Lamina.Core;
using Lamina.Lab.Models;
using Lamina.Lab.Remote;
using Lamina.Lab.Tasks;
using Lamina.Tracking;

namespace Lamina.Lab.Reproduce;

/// <summary>One file of the original run's model packages, and what the reproduction made of it.</summary>
public sealed record ReproducedFile(string Name, string Original, string? Reproduced)
{
    public bool Matches => Original == Reproduced;
}

/// <summary>Something of the environment that differs between the original run and its reproduction.</summary>
public sealed record EnvironmentDifference(string What, string Recorded, string Reproduced);

/// <summary>
/// The outcome of a reproduction: the new run, every compared digest, and what differs between the two runs'
/// environments (Lamina version, .NET, processor), which explains a digest that differs.
/// </summary>
public sealed record Reproduction(Guid OriginalRun, RunOutcome Run, string WorkTree, IReadOnlyList<ReproducedFile> Files,
    IReadOnlyList<EnvironmentDifference> EnvironmentDifferences)
{
    public bool Identical => Run.Status == RunStatus.Completed && Files.Count > 0 && Files.All(f => f.Matches);
}

/// <summary>
/// Re-runs a completed run from what it recorded: a clean checkout of its commit, its uncommitted diff applied, its
/// effective configuration as the experiment file; data is found where the original run found it and checked by digest
/// (the data set id must come out the same). The reproduction is submitted as a new run and executed by id in that
/// checkout, as a worker executes a run. Then compares every model file digest with the original run's.
/// </summary>
public sealed class Reproducer(ITrackingStore store, IBlobStore blobs, RunSubmitter submitter, RunExecutor executor)
{
    /// <summary>Where the cached clones of repositories are kept (the Lamina home's <c>git-cache</c>); a folder in the work folder when null.</summary>
    public string? CacheDirectory { get; init; }

    public Task<Reproduction> ReproduceAsync(string runReference, string workDirectory, Action<string> report, CancellationToken cancellationToken) =>
        ReproduceAsync(runReference, workDirectory, [], report, cancellationToken);

    /// <summary>Reproduces a run; <paramref name="secrets"/> (<c>key.path=value</c>) give the secrets its record masked, and nothing else.</summary>
    public async Task<Reproduction> ReproduceAsync(string runReference, string workDirectory, IReadOnlyList<string> secrets, Action<string> report,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(secrets);
        var original = await store.ResolveRunAsync(runReference, cancellationToken);
        if (original.Status != RunStatus.Completed)
        {
            throw LabException.NotReproducible(original.Id, $"is {original.Status.ToString().ToLowerInvariant()}; only a completed run can be reproduced");
        }
        var details = await store.GetRunDetailsAsync(original.Id, cancellationToken);
        if (details.Git is not { Commit: not null } git)
        {
            throw LabException.NotReproducible(original.Id, "was not made in a git repository with a commit, so its code cannot be checked out again");
        }
        // A secret was recorded masked: it must be given again, and --set gives nothing else (the record is the configuration).
        var masked = Secrets.MaskedPaths(details.ConfigurationJson);
        if (secrets.FirstOrDefault(s => RunExecutor.MissingSecrets(details.ConfigurationJson, [s]).Count == masked.Count) is { } notASecret)
        {
            throw LabException.NotASecret(original.Id, notASecret, masked);
        }
        if (RunExecutor.MissingSecrets(details.ConfigurationJson, secrets) is { Count: > 0 } missing)
        {
            throw LabException.SecretsNotRecorded(original.Id, missing);
        }

        var work = Path.GetFullPath(workDirectory);
        var tree = Path.Combine(work, $"reproduce-{original.Id.ToString()[..8]}-{Guid.NewGuid().ToString()[..8]}");
        // The run's own repository, through the same cached checkout as a worker's.
        var checkout = new CodeCheckout(blobs, CacheDirectory ?? Path.Combine(work, $"lamina-git-cache-{Environment.UserName}"));
        await checkout.CheckoutAsync(details, sourceBundleDigest: null, tree, report, cancellationToken, repository: git.RepositoryRoot);

        // The effective configuration (after the original --set overrides) becomes the experiment file; JSON is YAML.
        var experimentFile = Path.Combine(tree, details.ExperimentFile);
        await File.WriteAllTextAsync(experimentFile, details.ConfigurationJson, cancellationToken);
        var dataDirectory = Path.GetDirectoryName(Path.Combine(git.RepositoryRoot, details.ExperimentFile))!;
        report($"running task '{original.TaskName}' with the recorded configuration; data from {dataDirectory}");
        var run = await submitter.SubmitAsync(
            new RunRequest(experimentFile, original.TaskName, secrets) { ExtraTags = ["reproduction", $"of:{original.Id}"], Origin = git }, cancellationToken);
        var outcome = await executor.ExecuteAsync(run.Id, new RunWorkspace(tree) { DataDirectory = dataDirectory, Secrets = secrets }, RunExecutor.ThisProcess,
            cancellationToken);

        var files = await CompareAsync(original.Id, outcome.RunId, cancellationToken);
        var reproducedEnvironment = (await store.GetRunDetailsAsync(outcome.RunId, cancellationToken)).Environment;
        return new Reproduction(original.Id, outcome, tree, files, Differences(details.Environment, reproducedEnvironment));
    }

    private static List<EnvironmentDifference> Differences(EnvironmentInfo recorded, EnvironmentInfo reproduced)
    {
        (string What, string Recorded, string Reproduced)[] compared =
        [
            ("Lamina", recorded.LaminaVersion, reproduced.LaminaVersion),
            (".NET", recorded.DotnetVersion, reproduced.DotnetVersion),
            ("processor", recorded.Cpu, reproduced.Cpu),
            ("architecture", recorded.Architecture, reproduced.Architecture),
            ("operating system", recorded.Os, reproduced.Os),
        ];
        return [.. compared.Where(c => c.Recorded != c.Reproduced).Select(c => new EnvironmentDifference(c.What, c.Recorded, c.Reproduced))];
    }

    private async Task<IReadOnlyList<ReproducedFile>> CompareAsync(Guid original, Guid reproduced, CancellationToken cancellationToken)
    {
        var models = await ModelPackages.ListAsync(store, blobs, cancellationToken);
        var before = models.Where(m => m.Record.RunId == original).ToList();
        var after = models.Where(m => m.Record.RunId == reproduced).ToDictionary(m => m.Record.Name);
        var files = new List<ReproducedFile>();
        foreach (var model in before)
        {
            after.TryGetValue(model.Record.Name, out var again);
            foreach (var file in model.Card.Files)
            {
                files.Add(new ReproducedFile($"{model.Record.Name}/{file.Name}", file.Sha256,
                    again?.Card.Files.FirstOrDefault(f => f.Name == file.Name)?.Sha256));
            }
            files.Add(new ReproducedFile($"{model.Record.Name}/data set", model.Card.Dataset ?? "", again?.Card.Dataset));
        }
        var inputsBefore = await store.GetRunInputsAsync(original, cancellationToken);
        var inputsAfter = await store.GetRunInputsAsync(reproduced, cancellationToken);
        foreach (var slide in inputsBefore.Slides)
        {
            files.Add(new ReproducedFile($"slide {Path.GetFileName(slide.Path)}", slide.Sha256,
                inputsAfter.Slides.FirstOrDefault(s => Path.GetFileName(s.Path) == Path.GetFileName(slide.Path))?.Sha256));
        }
        return files;
    }
}
