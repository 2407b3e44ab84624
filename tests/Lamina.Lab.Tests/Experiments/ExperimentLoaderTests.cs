using Lamina.Core.Config;
using Lamina.Lab.Experiments;

namespace Lamina.Lab.Tests.Experiments;

public sealed class ExperimentLoaderTests : IDisposable
{
    private static readonly string ValidFile = Path.Combine(AppContext.BaseDirectory, "Experiments", "Valid", "lamina.yaml");

    private readonly string _cache = Directory.CreateTempSubdirectory("lamina-plugin-cache-").FullName;

    public void Dispose() => Directory.Delete(_cache, recursive: true);

    private ExperimentLoadResult Load(string path, params string[] overrides) =>
        ExperimentLoader.Load(path, overrides, _cache, [typeof(BinaryFocal).Assembly]);

    [Fact]
    public void Load_DesignNotesExample_IsValidWithTypedValues()
    {
        // When
        var result = Load(ValidFile);

        // Then
        Assert.Empty(result.Diagnostics);
        Assert.True(result.IsValid);
        var experiment = result.Experiment!;
        Assert.Equal(Path.GetFullPath(ValidFile), experiment.Path);
        Assert.Equal(1, experiment.Version);
        Assert.Equal("NormalizationTest", experiment.ProjectName);
        Assert.Equal([Path.GetFullPath(Path.Combine(experiment.Directory, "..", "Fixtures", "Plugins"))], experiment.SourcesPaths);

        var model = experiment.Models["my_class_model"];
        Assert.Equal("MyArchitecture", model.Architecture!.Cls);
        Assert.Equal("3", ((ConfigScalar)model.Architecture.Params!["n_layers"]!).Value);
        Assert.Equal("BinaryFocal", model.Loss!.Cls);
        Assert.Null(model.Loss.Params);
        Assert.Equal(["accuracy"], model.Metrics.Select(m => m.Cls));
        Assert.Equal(["Normalization"], model.Preprocessing.Select(p => p.Cls));
        Assert.Empty(model.Postprocessing);
        Assert.Empty(model.Augmentation);
        Assert.Equal("DiskLoader", experiment.Loaders["disk_loader"].Cls);

        var train = Assert.IsType<TrainingTaskSpec>(experiment.Tasks["simple_train"]);
        Assert.Equal(("SimpleTrain", "training", "Simple task for demo"), (train.Name, train.Type, train.Description));
        Assert.Equal(["demo"], train.Tags);
        Assert.Equal(new TrainingParams("my_class_model", 50, "disk_loader", 0.2, train.Params.Callbacks, 0, 32), train.Params);
        Assert.Equal(["MetricsLogger"], train.Params.Callbacks.Select(c => c.Cls));

        var custom = Assert.IsType<CustomTaskSpec>(experiment.Tasks["housekeeping"]);
        Assert.Equal(("housekeeping", "custom", "MyTask"), (custom.Name, custom.Type, custom.Plugin.Cls));
        Assert.Empty(custom.Tags);

        Assert.NotNull(result.Catalog!.Find("Normalization"));
        Assert.Equal(2, result.Plugins!.Files.Count);
    }

    [Fact]
    public void Load_WithSetEpochs_UsesTheOverriddenValue()
    {
        // When
        var result = Load(ValidFile, "tasks.simple_train.params.n_epochs=3", "tasks.simple_train.params.batch_size=8");

        // Then
        Assert.Empty(result.Diagnostics);
        var training = Assert.IsType<TrainingTaskSpec>(result.Experiment!.Tasks["simple_train"]).Params;
        Assert.Equal((3, 8), (training.Epochs, training.BatchSize));
        var epochs = ((ConfigMapping)((ConfigMapping)((ConfigMapping)result.Experiment.Root["tasks"]!)["simple_train"]!)["params"]!)["n_epochs"]!;
        Assert.Equal("tasks.simple_train.params.n_epochs", epochs.Path);
    }

    [Fact]
    public void Load_WithSetAddingMetrics_ValidatesAndKeepsThem()
    {
        // When
        var result = Load(ValidFile, "models.my_class_model.metrics=[{cls: accuracy}, {cls: accuracy}]");

        // Then
        Assert.Empty(result.Diagnostics);
        var metrics = result.Experiment!.Models["my_class_model"].Metrics;
        Assert.Equal(2, metrics.Count);
        Assert.Equal("models.my_class_model.metrics[1].cls", metrics[1].ClsNode.Path);
    }

    [Fact]
    public void Load_WithSetNamingAnUnknownPlugin_ReportsItAtTheOverride()
    {
        // When
        var entry = "models.my_class_model.loss.cls=BinaryFocl";
        var result = Load(ValidFile, entry);

        // Then
        var diagnostic = Assert.Single(result.Diagnostics);
        Assert.Equal(new SourceLocation($"--set {entry}", 1, 1), diagnostic.Location);
        Assert.Equal("models.my_class_model.loss.cls", diagnostic.KeyPath);
        Assert.Contains("'BinaryFocl'", diagnostic.Message, StringComparison.Ordinal);
        Assert.Null(result.Experiment);
    }

    [Fact]
    public void Load_WithSetIntoAString_ReportsTheBadPath()
    {
        // When
        var result = Load(ValidFile, "tasks.simple_train.name.first=x");

        // Then
        var diagnostic = Assert.Single(result.Diagnostics);
        Assert.Equal("--set: tasks.simple_train.name.first: cannot set a key inside a string", diagnostic.ToString());
        Assert.Null(result.Experiment);
    }

    [Fact]
    public void Load_WithSetBreakingTheSchema_ReportsTheSchemaError()
    {
        // When
        var result = Load(ValidFile, "tasks.simple_train.params.n_epochs=0");

        // Then
        var diagnostic = Assert.Single(result.Diagnostics);
        Assert.Equal("tasks.simple_train.params.n_epochs", diagnostic.KeyPath);
        Assert.Equal("must be at least 1, got 0", diagnostic.Message);
    }

    [Fact]
    public void Load_MissingFile_ReportsOneDiagnosticNamingIt()
    {
        // Given
        var path = Path.Combine(_cache, "no-such-lamina.yaml");

        // When
        var result = Load(path);

        // Then
        var diagnostic = Assert.Single(result.Diagnostics);
        Assert.Equal(path, diagnostic.Location.File);
        Assert.Contains(path, diagnostic.ToString(), StringComparison.Ordinal);
        Assert.Null(result.Experiment);
    }

    [Fact]
    public void Load_MinimalFileWithDefaultBuiltIns_IsValid()
    {
        // Given
        var path = Path.Combine(_cache, "lamina.yaml");
        File.WriteAllText(path, "version: 1\nproject:\n  project_name: Minimal\n");

        // When
        var result = ExperimentLoader.Load(path, [], _cache);

        // Then
        Assert.Empty(result.Diagnostics);
        var experiment = result.Experiment!;
        Assert.Equal(("Minimal", 0, 0, 0), (experiment.ProjectName, experiment.Models.Count, experiment.Tasks.Count, experiment.SourcesPaths.Count));
        Assert.Empty(result.Plugins!.Files);
    }

    [Fact]
    public void Load_FileWithCompileErrorAndTypos_ReportsBothWithoutCascade()
    {
        // Given: the broken sources define Normalization, which the file uses twice
        var path = Path.Combine(_cache, "lamina.yaml");
        var fixtures = Path.Combine(AppContext.BaseDirectory, "Experiments", "Fixtures", "Broken");
        File.WriteAllText(path, $$$"""
            version: 1
            project: {project_name: Broken, sources_path: '{{{fixtures}}}'}
            models:
              a:
                preprocessing: {cls: Normalization, params: {factor: 2}}
              b: {preprocessing: [{cls: Normalization}], loss: {cls: BinaryFocl}}
            """);

        // When
        var result = Load(path);

        // Then
        Assert.Collection(result.Diagnostics,
            d => Assert.Contains("CS0103", d.Message, StringComparison.Ordinal),
            d => Assert.Equal("models.b.loss.cls: no plug-in named 'BinaryFocl'; did you mean 'BinaryFocal'?", $"{d.KeyPath}: {d.Message}"));
    }

    [Fact]
    public void Load_ValidFileTwice_ReusesTheCompiledPlugins()
    {
        // When
        var first = Load(ValidFile);
        var second = Load(ValidFile);

        // Then
        Assert.True(first.IsValid && second.IsValid);
        Assert.Equal(first.Plugins!.Digest, second.Plugins!.Digest);
    }
}
