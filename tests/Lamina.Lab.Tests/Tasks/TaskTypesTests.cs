using System.Text.RegularExpressions;
using Lamina.Core.Config;
using Lamina.Lab.Experiments;
using Lamina.Lab.Tasks;

namespace Lamina.Lab.Tests.Tasks;

/// <summary>Issue 11, item 7: the task types are listed once, and that list is what the schema reads, the runner runs and the docs show.</summary>
public sealed partial class TaskTypesTests
{
    [Fact]
    public void TheDocumentedTaskTypes_AreExactlyTheListedOnes()
    {
        var doc = File.ReadAllText(Path.Combine(RepositoryRoot(), "docs", "experiment-file.md"));
        var section = doc[doc.IndexOf("## Task types", StringComparison.Ordinal)..];

        var documented = TableRow().Matches(section).Select(m => m.Groups[1].Value);

        Assert.Equal(TaskTypes.Names.Order(), documented.Order());
    }

    [Fact]
    public void AnUnknownTaskType_IsReportedWithTheListedNamesToChooseFrom()
    {
        using var temp = new TemporaryDirectory();
        var file = temp.Combine("lamina.yaml");
        File.WriteAllText(file, """
            version: 1
            project: {project_name: Types}
            tasks:
              t: {type: trainnig, params: {}}
            """);

        var result = ExperimentLoader.Load(file, [], temp.Combine("cache"));

        var problem = Assert.Single(result.Diagnostics);
        Assert.Equal("tasks.t.type", problem.KeyPath);
        Assert.Contains("unknown task type 'trainnig'; did you mean 'training'?", problem.Message);
    }

    [Fact]
    public void EverySpecTheSchemaReads_BelongsToTheTypeThatReadIt()
    {
        using var temp = new TemporaryDirectory();
        var file = temp.Combine("lamina.yaml");
        File.WriteAllText(file, """
            version: 1
            project: {project_name: Types}
            models:
              m: {architecture: {cls: LinearHead}, loss: {cls: CrossEntropy}}
            data:
              loaders:
                tiles: {cls: DiskLoader, params: {wsi_path: slides/, labels_path: slides/}}
            tasks:
              build: {type: dataset, params: {loader: tiles}}
              train: {type: training, params: {model: m, n_epochs: 1, train_loader: tiles}}
              test: {type: testing, params: {model: train, loader: tiles}}
              whole: {type: testing, params: {analysis: analysis.yaml, slides: slides/}}
            """);

        var result = ExperimentLoader.Load(file, [], temp.Combine("cache"));

        Assert.DoesNotContain(result.Diagnostics, d => d.KeyPath.StartsWith("tasks.", StringComparison.Ordinal));
        var tasks = result.Experiment?.Tasks ?? throw new Xunit.Sdk.XunitException(string.Join("\n", result.Diagnostics.Select(d => d.ToString())));
        Assert.IsType<DatasetTaskSpec>(tasks["build"]);
        Assert.IsType<TrainingTaskSpec>(tasks["train"]);
        Assert.IsType<TestingTaskSpec>(tasks["test"]);
        Assert.IsType<AnalysisTestingTaskSpec>(tasks["whole"]);
        Assert.All(tasks.Values, spec => Assert.Equal(spec.Type, TaskTypes.Of(spec).Name));
    }

    [GeneratedRegex(@"^\| `([a-z_]+)` \|", RegexOptions.Multiline)]
    private static partial Regex TableRow();

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Lamina.slnx"))) return dir.FullName;
        }
        throw new InvalidOperationException($"no Lamina.slnx above {AppContext.BaseDirectory}");
    }
}
