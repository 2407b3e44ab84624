using System.Security.Cryptography;
using Lamina.Core.Analysis;
using Lamina.Core.Config;
using Lamina.Core.Tests.Plugins;

namespace Lamina.Core.Tests.Analysis;

public sealed class AnalysisFileReaderTests
{
    private static string Valid(string name) => Path.Combine(AppContext.BaseDirectory, "Analysis", "Valid", name);

    [Fact]
    public void Load_ShortForm_ReadsModelsByRunIdAndFeaturesWithTheirRoles()
    {
        // Given
        var path = Valid("short.yaml");

        // When
        var file = AnalysisFileReader.Load(path, AnalysisCatalog.Create());

        // Then
        Assert.Equal(path, file.Path);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path))), file.Sha256);
        Assert.Empty(file.SourcesPaths);
        Assert.Equal(["breast", "lung"], file.Analyses.Select(a => a.Name));
        var breast = file.Analyses[0];
        Assert.Null(breast.Tissue);
        Assert.Collection(breast.Models,
            m =>
            {
                Assert.Equal(("carcinoma_model", ModelSourcing.Auto), (m.Name, m.Sourcing));
                Assert.Equal("a957f623-e6d3-4159-a07a-ec1b8323eb54", m.Reference);
                Assert.Equal("my_class_model", m.Model);
                Assert.Null(m.Preprocessing);
                Assert.Null(m.Postprocessing);
            },
            m => Assert.Equal(("mitosis_model", "3fcf", (string?)null), (m.Name, m.Reference, m.Model)));
        Assert.Equal(["carcinoma", "PairedFeature", "AreaFeature"], breast.Features.Select(f => f.Name));
        Assert.Equal("CountingFeature", breast.Features[0].Plugin.Cls);
        Assert.Equal(new Dictionary<string, string> { ["classification_model"] = "carcinoma_model" }, breast.Features[0].Models);
        Assert.Equal("mitosis_model", breast.Features[1].Models["segmentation_model"]);
        Assert.Empty(breast.Features[2].Models);
        Assert.Equal("otsu", file.Analyses[1].Tissue?.Cls);
    }

    [Fact]
    public void Load_VerboseForm_ResolvesPackageFoldersAndSpellsOutProcessing()
    {
        // Given
        var path = Valid("verbose.yaml");
        var folder = Path.GetDirectoryName(path)!;

        // When
        var file = AnalysisFileReader.Load(path, AnalysisCatalog.Create());

        // Then
        Assert.Equal([folder], file.SourcesPaths.Select(p => p.TrimEnd(Path.DirectorySeparatorChar)));
        var models = file.Select(null).Models;
        Assert.Equal(ModelSourcing.Manual, models[0].Sourcing);
        Assert.Equal(Path.Combine(folder, "models", "carcinoma") + Path.DirectorySeparatorChar, models[0].Reference);
        Assert.Equal(Path.GetFullPath(Path.Combine(folder, "..", "common", "mitosis")), models[1].Reference);
        Assert.Equal(["Scaling"], models[0].Preprocessing!.Select(p => p.Cls));
        Assert.Equal("255.0", ((ConfigScalar)models[0].Preprocessing![0].Params!["factor"]!).Value);
        Assert.Equal(["Thresholding"], models[0].Postprocessing!.Select(p => p.Cls));
        Assert.Null(models[1].Preprocessing);
    }

    [Fact]
    public void Read_MissingFile_NamesThePath()
    {
        var diagnostics = new DiagnosticBag();

        var file = AnalysisFileReader.Read("no/such/analysis.yaml", diagnostics);

        Assert.Null(file);
        var diagnostic = Assert.Single(diagnostics.Items);
        Assert.Equal($"no/such/analysis.yaml: no analysis file at '{Path.GetFullPath("no/such/analysis.yaml")}'", diagnostic.ToString());
    }

    [Fact]
    public void Read_GoodFile_DoesNotNeedTheCatalog()
    {
        var diagnostics = new DiagnosticBag();

        var file = AnalysisFileReader.Read(Valid("short.yaml"), diagnostics);

        Assert.Empty(diagnostics.Items);
        Assert.NotNull(file);
    }

    [Fact]
    public void Select_WithoutNameAndSeveralAnalyses_ListsTheirNames()
    {
        var file = AnalysisFileReader.Load(Valid("short.yaml"), AnalysisCatalog.Create());

        var e = Assert.Throws<AnalysisException>(() => file.Select(null));

        Assert.Equal($"{file.Path} defines 2 analyses (breast, lung); name the one to run", e.Message);
    }

    [Fact]
    public void Select_ByName_FindsItOrSuggestsTheNearest()
    {
        var file = AnalysisFileReader.Load(Valid("short.yaml"), AnalysisCatalog.Create());

        Assert.Equal("lung", file.Select("lung").Name);
        Assert.Equal($"no analysis named 'brest' in {file.Path}; did you mean 'breast'?",
            Assert.Throws<AnalysisException>(() => file.Select("brest")).Message);
        Assert.Equal($"no analysis named 'prostate' in {file.Path}; it defines: breast, lung",
            Assert.Throws<AnalysisException>(() => file.Select("prostate")).Message);
    }

    [Fact]
    public void LoadWithPlugins_CompilesFeaturesFromSourcesPath()
    {
        // Given a feature written by the user next to the analysis file
        using var folder = new TempFolder();
        folder.Write("features/Ki67.cs", """
            using Lamina.Core.Analysis;

            namespace Customer;

            public sealed class Ki67(int minCells = 10) : IFeature
            {
                public IReadOnlyList<string> ModelRoles => ["nuclei_model"];
                public IReadOnlyList<string> Requires => [];
                public IReadOnlyList<string> Provides => [];
                public Task RunAsync(IFeatureContext context, CancellationToken cancellationToken) => Task.CompletedTask;
            }
            """);
        var path = folder.Write("analysis.yaml", """
            version: 1
            sources_path: [features]
            analyses:
              - name: ki67
                models:
                  nuclei: {sourcing: auto, reference: 0badcafe}
                features:
                  - cls: Ki67
                    params: {min_cells: 20}
                    models: {nuclei_model: nuclei}
            """);

        // When
        var loaded = AnalysisFileReader.LoadWithPlugins(path, folder.Cache);

        // Then
        Assert.Equal([Path.Combine(folder.Root, "features")], loaded.File.SourcesPaths);
        Assert.Equal(["features/Ki67.cs"], loaded.Plugins.Compiled.Files.Select(f => f.RelativePath));
        Assert.NotNull(loaded.Plugins.Catalog.Find("Ki67"));
        Assert.NotNull(loaded.Plugins.Catalog.Find("otsu"));
    }

    [Fact]
    public void LoadWithPlugins_CompileError_IsReportedOnceWithoutACascadeOfUnknownFeatures()
    {
        // Given
        using var folder = new TempFolder();
        folder.Write("features/Ki67.cs", "public sealed class Ki67 : Lamina.Core.Analysis.IFeature { oops }");
        var path = folder.Write("analysis.yaml", """
            version: 1
            sources_path: features
            analyses:
              - name: ki67
                features:
                  - cls: Ki67
                  - cls: Ki68
            """);

        // When
        var e = Assert.Throws<ConfigValidationException>(() => AnalysisFileReader.LoadWithPlugins(path, folder.Cache));

        // Then the compile errors are there, Ki67's use is not reported, the typo Ki68 is
        Assert.Contains(e.Diagnostics, d => d.Location.File.EndsWith("Ki67.cs", StringComparison.Ordinal));
        Assert.DoesNotContain(e.Diagnostics, d => d.KeyPath.StartsWith("analyses[0].features[0]", StringComparison.Ordinal));
        Assert.Contains(e.Diagnostics, d => d.KeyPath == "analyses[0].features[1].cls" && d.Message.StartsWith("no plug-in named 'Ki68'", StringComparison.Ordinal));
    }
}
