using Lamina.Tracking;
using Lamina.Core.Analysis;
using Lamina.Core.Config;
using Lamina.Core.Inference;
using Lamina.Core.Plugins;
using Lamina.Core.Slides.Annotations;
using Lamina.Lab.Models;
using Lamina.Lab.Plugins;
using Lamina.Lab.Synthetic;
using Lamina.Lab.Training;

namespace Lamina.Lab.Tests.Analysis;

/// <summary>Scales tile values: the preprocessing the test models' cards name.</summary>
public sealed class TestScale(double factor) : IPreprocessing
{
    public ImageTensor Apply(ImageTensor image) => image.Map(v => (float)(v / factor));
}

/// <summary>A synthetic slide and two model packages (ResNet-18 backbone, a linear head with fixed weights), made once.</summary>
public sealed class AnalysisFixture : IDisposable
{
    private readonly TemporaryDirectory _temp = new();

    public AnalysisFixture()
    {
        SlidePath = _temp.Combine("slide.tif");
        Truth = SyntheticSlideGenerator.Generate(new SynthOptions(1536, 1536, Seed: 7), SlidePath, _temp.Combine("slide.geojson"));
        // Carcinoma everywhere (a strong positive bias), mitosis nowhere: what the engine does is then known exactly.
        CarcinomaPackage = WritePackage(_temp.Combine("models", "carcinoma_model"), "carcinoma_model", ["Other", "Carcinoma"], positiveBias: 6,
            new InputSpec(224, 0.5, null, 0, 3), [TestScalePreprocessing]);
        MitosisPackage = WritePackage(_temp.Combine("models", "mitosis_model"), "mitosis_model", ["Other", "Mitosis"], positiveBias: -6,
            new InputSpec(224, 0.25, null, 112, 3), [TestScalePreprocessing]);
    }

    public string SlidePath { get; }

    public SynthSummary Truth { get; }

    public string CarcinomaPackage { get; }

    public string MitosisPackage { get; }

    public string Root => _temp.Path;

    private static CardPlugin TestScalePreprocessing => new("TestScale", new System.Text.Json.Nodes.JsonObject { ["factor"] = 255.0 });

    /// <summary>
    /// Writes a model package whose head ignores its input (zero weights): every tile gets softmax([0, positiveBias]), so
    /// what an analysis finds with it is known whatever the slide.
    /// </summary>
    internal static string WritePackage(string folder, string name, IReadOnlyList<string> classes, float positiveBias, InputSpec input,
        IReadOnlyList<CardPlugin> preprocessing, Guid? trainingRun = null)
    {
        Directory.CreateDirectory(folder);
        var head = new HeadModel(new LinearHead().Layers(512, 2), seed: 1);
        foreach (var parameter in head.Parameters) Array.Clear(parameter.Values);
        head.Parameters.Single(p => p.Shape.Length == 1).Values[1] = positiveBias;
        var headBytes = HeadOnnxExporter.Export(head);
        File.WriteAllBytes(Path.Combine(folder, "head.onnx"), headBytes);
        var backboneBytes = File.ReadAllBytes(Path.Combine(Backbone.BuiltInDirectory, "resnet18", "ResNet18.onnx"));
        File.WriteAllBytes(Path.Combine(folder, "backbone.onnx"), backboneBytes);
        var card = new ModelCard
        {
            Name = name,
            Kind = "trained",
            Input = input,
            Preprocessing = preprocessing,
            Classes = classes,
            Backbone = new BackboneReference(Backbone.ResNet18, 512, ModelPackages.Describe("backbone.onnx", backboneBytes)),
            Network = ModelPackages.Describe("head.onnx", headBytes),
            TrainingRun = trainingRun,
        };
        File.WriteAllBytes(Path.Combine(folder, ModelPackage.CardFile), card.ToJson());
        return folder;
    }

    public void Dispose() => _temp.Dispose();
}

public sealed class AnalysisEngineTests(AnalysisFixture fixture) : IClassFixture<AnalysisFixture>
{
    private static readonly PluginCatalog Catalog = PluginCatalog.Create(
        [typeof(IFeature).Assembly, typeof(LinearHead).Assembly, typeof(TestScale).Assembly], null, new DiagnosticBag());

    private static readonly ConfigNode Here = new ConfigMapping(new SourceLocation("test", 1, 1), "");

    private AnalysisDefinition Breast(double carcinomaThreshold) => new("breast", null,
        [
            new ModelReference("carcinoma_model", ModelSourcing.Manual, fixture.CarcinomaPackage, null, null, null, Here),
            new ModelReference("mitosis_model", ModelSourcing.Manual, fixture.MitosisPackage, null, null, null, Here),
        ],
        [
            Feature("Mitosis", new() { ["segmentation_model"] = "mitosis_model" }),
            Feature("Carcinoma", new() { ["classification_model"] = "carcinoma_model" }, $"threshold: {carcinomaThreshold.ToString(System.Globalization.CultureInfo.InvariantCulture)}"),
            Feature("TissueArea", []),
        ],
        Here);

    private static FeatureSpec Feature(string cls, Dictionary<string, string> models, string? parameters = null)
    {
        var diagnostics = new DiagnosticBag();
        var mapping = parameters is null ? null : (ConfigMapping?)YamlConfigReader.Read(parameters, "test", diagnostics);
        return new FeatureSpec(cls, new PluginSpec(cls, mapping, Here), models, Here);
    }

    private AnalysisFile File(AnalysisDefinition analysis) => new(Path.Combine(fixture.Root, "analysis.yaml"), new string('0', 64), [], [analysis]);

    [Fact]
    public async Task Analyze_SearchesMitosesOnlyInsideTheCarcinomaRegion_AndRecordsEveryModelDigest()
    {
        // Given models that call every tile carcinoma and no window a mitosis
        var analysis = Breast(carcinomaThreshold: 0.5);
        var engine = new AnalysisEngine(Catalog, new PackageFolderLocator());

        // When the analysis runs
        var result = await engine.RunAsync(File(analysis), analysis, fixture.SlidePath);

        // Then carcinoma ran first and covers the tissue tiles, and mitosis saw only windows inside that region
        var carcinoma = result.Features.Single(f => f.Name == "Carcinoma");
        var mitosis = result.Features.Single(f => f.Name == "Mitosis");
        double Figure(FeatureOutcome f, string name) => f.Figures.Single(x => x.Name == name).Value;
        Assert.Equal(Figure(carcinoma, "tiles"), Figure(carcinoma, "positive_tiles"));
        Assert.True(Figure(carcinoma, "area_mm2") > 0);
        var region = result.Regions.Single(r => r.Classification == "Carcinoma").Geometry;
        Assert.True(Figure(mitosis, "windows_seen") > 0);
        Assert.True(Figure(mitosis, "windows_seen") <= Figure(mitosis, "tissue_windows"));
        Assert.Equal(0, Figure(mitosis, "count"));
        Assert.Equal((long)Figure(mitosis, "windows_seen"), result.Models.Single(m => m.Name == "mitosis_model").TilesSeen);
        Assert.Equal((long)Figure(carcinoma, "tiles"), result.Models.Single(m => m.Name == "carcinoma_model").TilesSeen);
        Assert.True(Figure(result.Features.Single(f => f.Name == "TissueArea"), "area_mm2") > 0);

        // And the provenance names the slide and every model file by digest
        Assert.Equal(64, result.SlideSha256.Length);
        var files = result.Models.Single(m => m.Name == "carcinoma_model").Files;
        Assert.Equal(["model.json", "backbone.onnx", "head.onnx"], files.Select(f => f.Name));
        Assert.Equal(ModelPackages.Describe("x", System.IO.File.ReadAllBytes(Path.Combine(fixture.CarcinomaPackage, "head.onnx"))).Sha256, files[2].Sha256);
        Assert.Equal(2, result.Heatmaps.Count);
        Assert.False(region.IsEmpty);

        // And the output folder holds the report, the GeoJSON QuPath reads back, the pictures and the page
        using var output = new TemporaryDirectory();
        var report = AnalysisReport.Write(result, output.Path);
        var written = System.Text.Json.Nodes.JsonNode.Parse(System.IO.File.ReadAllText(Path.Combine(output.Path, "report.json")))!;
        Assert.Equal(result.SlideSha256, (string?)written["provenance"]!["slide_sha256"]);
        Assert.Equal(files[2].Sha256, (string?)written["provenance"]!["models"]!["carcinoma_model"]!["head.onnx"]);
        Assert.Equal(("cpu", "cpu"), ((string?)written["provenance"]!["execution_provider"], (string?)written["provenance"]!["device"]));
        Assert.Equal((double)Figure(carcinoma, "area_mm2"), (double)written["features"]!["Carcinoma"]!["figures"]!["area_mm2"]!["value"]!);
        var regions = QuPathGeoJson.Read(Path.Combine(output.Path, "results.geojson"));
        Assert.Equal(region.Area, regions.Where(r => r.ClassName == "Carcinoma").Sum(r => r.Geometry.Area), 6);
        foreach (var file in new[] { "heatmap-carcinoma.png", "overlay-carcinoma.tif", "heatmap-mitosis.png", "summary.png", "report.html" })
        {
            Assert.True(System.IO.File.Exists(Path.Combine(output.Path, file)), file);
        }
        Assert.Equal(report.ToJsonString(), written.ToJsonString());
    }

    [Fact]
    public async Task Analyze_WithNoCarcinoma_ShowsTheMitosisModelNoTile()
    {
        var analysis = Breast(carcinomaThreshold: 1.01);
        var result = await new AnalysisEngine(Catalog, new PackageFolderLocator()).RunAsync(File(analysis), analysis, fixture.SlidePath);

        Assert.Empty(result.Regions);
        Assert.Equal(0, result.Models.Single(m => m.Name == "mitosis_model").TilesSeen);
        Assert.Equal(0, result.Features.Single(f => f.Name == "Mitosis").Figures.Single(f => f.Name == "count").Value);
    }

    [Fact]
    public async Task Analyze_WithATamperedModelFile_FailsNamingTheFile()
    {
        using var temp = new TemporaryDirectory();
        var copy = temp.Combine("carcinoma_model");
        Directory.CreateDirectory(copy);
        foreach (var file in Directory.GetFiles(fixture.CarcinomaPackage)) System.IO.File.Copy(file, Path.Combine(copy, Path.GetFileName(file)));
        var head = Path.Combine(copy, "head.onnx");
        var bytes = System.IO.File.ReadAllBytes(head);
        bytes[^1] ^= 1;
        System.IO.File.WriteAllBytes(head, bytes);
        var analysis = Breast(0.5) with
        {
            Models = [new ModelReference("carcinoma_model", ModelSourcing.Manual, copy, null, null, null, Here),
                new ModelReference("mitosis_model", ModelSourcing.Manual, fixture.MitosisPackage, null, null, null, Here)],
        };

        var error = await Assert.ThrowsAsync<Lamina.Core.Inference.InferenceException>(() => new AnalysisEngine(Catalog, new PackageFolderLocator()).RunAsync(File(analysis), analysis, fixture.SlidePath));

        Assert.Contains(head, error.Message);
        Assert.Contains("does not match", error.Message);
    }

    [Fact]
    public void Plan_WithoutTheCarcinomaFeature_RejectsMitosisNamingTheMissingOutput()
    {
        var analysis = Breast(0.5) with { Features = [Feature("Mitosis", new() { ["segmentation_model"] = "mitosis_model" })] };

        var error = Assert.Throws<AnalysisException>(() => new AnalysisEngine(Catalog, new PackageFolderLocator()).Plan(analysis));

        Assert.Equal("analysis 'breast': feature 'Mitosis' requires 'carcinoma.region', which no feature of the analysis provides (provided: mitosis.points)", error.Message);
    }

    [Fact]
    public async Task Analyze_WithAFeatureWrittenInTheExperimentRepository_RunsItAfterWhatItRequires()
    {
        // Given a feature class in a folder of the analysis file's sources_path, reading the carcinoma region
        using var temp = new TemporaryDirectory();
        Directory.CreateDirectory(temp.Combine("features"));
        System.IO.File.WriteAllText(temp.Combine("features", "CarcinomaShare.cs"), """
            using Lamina.Core.Analysis;
            using Lamina.Core.Inference;
            using Lamina.Core.Plugins;
            using NetTopologySuite.Geometries;

            // The preprocessing the fixture's model cards name, as an experiment repository would hold it.
            public sealed class TestScale(double factor) : IPreprocessing
            {
                public ImageTensor Apply(ImageTensor image) => image.Map(v => (float)(v / factor));
            }

            public sealed class CarcinomaShare(double scale = 1.0) : IFeature
            {
                public IReadOnlyList<string> ModelRoles => [];
                public IReadOnlyList<string> Requires => ["carcinoma.region"];
                public IReadOnlyList<string> Provides => [];

                public Task RunAsync(IFeatureContext context, CancellationToken cancellationToken)
                {
                    var region = context.Input<Geometry>("carcinoma.region");
                    context.Figure("share_of_slide", scale * region.Area / (context.Slide.Width * (double)context.Slide.Height), "fraction");
                    return Task.CompletedTask;
                }
            }
            """);
        var path = temp.Combine("analysis.yaml");
        System.IO.File.WriteAllText(path, $"""
            version: 1
            sources_path: [features/]
            analyses:
              - name: breast
                models:
                  carcinoma_model: {"{"}sourcing: manual, reference: {fixture.CarcinomaPackage}{"}"}
                features:
                  - cls: CarcinomaShare
                    params: {"{"}scale: 2.0{"}"}
                  - cls: Carcinoma
                    models: {"{"}classification_model: carcinoma_model{"}"}
            """);

        // When the file is loaded with its plug-ins and analysed
        var loaded = AnalysisFileReader.LoadWithPlugins(path, temp.Combine("plugin-cache"), Lamina.Lab.Tasks.TaskRunner.BuiltInAssemblies);
        var result = await new AnalysisEngine(loaded.Plugins.Catalog, new PackageFolderLocator())
            .RunAsync(loaded.File, loaded.File.Select(null), fixture.SlidePath);

        // Then the user's feature ran after Carcinoma, on its region, with its params
        var area = result.Regions.Single(r => r.Classification == "Carcinoma").Geometry.Area;
        var share = result.Features.Single(f => f.Name == "CarcinomaShare").Figures.Single().Value;
        Assert.Equal(2.0 * area / (result.SlideWidth * (double)result.SlideHeight), share, 12);
    }

    [Fact]
    public async Task Analyze_WithoutAThreshold_AppliesTheOperatingPointTheCardChoseOnValidation()
    {
        // Given a copy of the carcinoma model (every tile at softmax([0, 6]) = 0.9975) whose card chose 0.999 on validation
        var folder = AnalysisFixture.WritePackage(Path.Combine(fixture.Root, "models", "strict_carcinoma"), "strict_carcinoma", ["Other", "Carcinoma"], 6,
            new InputSpec(224, 0.5, null, 0, 3), [new CardPlugin("TestScale", new System.Text.Json.Nodes.JsonObject { ["factor"] = 255.0 })]);
        var cardPath = Path.Combine(folder, ModelPackage.CardFile);
        var card = ModelCard.Parse(System.IO.File.ReadAllBytes(cardPath), cardPath) with
        {
            OperatingPoint = new OperatingPoint(0.999, null, "f1", 0.9, 0.9, 0.9, "test"),
        };
        System.IO.File.WriteAllBytes(cardPath, card.ToJson());
        AnalysisDefinition Analysis(string? parameters) => new("breast", null,
            [new ModelReference("carcinoma_model", ModelSourcing.Manual, folder, null, null, null, Here)],
            [Feature("Carcinoma", new() { ["classification_model"] = "carcinoma_model" }, parameters)], Here);
        var engine = new AnalysisEngine(Catalog, new PackageFolderLocator());

        // When the analysis file gives no threshold, and when it gives one
        var byCard = await engine.RunAsync(File(Analysis(null)), Analysis(null), fixture.SlidePath);
        var byFile = await engine.RunAsync(File(Analysis("threshold: 0.5")), Analysis("threshold: 0.5"), fixture.SlidePath);

        // Then the card's threshold keeps every tile out, the file's lets them in, and each reports the threshold it used
        Figure Of(AnalysisResult result, string name) => result.Features.Single().Figures.Single(f => f.Name == name);
        Assert.Equal(0.999, Of(byCard, "threshold").Value);
        Assert.Equal(0, Of(byCard, "positive_tiles").Value);
        Assert.Equal(0.5, Of(byFile, "threshold").Value);
        Assert.Equal(Of(byFile, "tiles").Value, Of(byFile, "positive_tiles").Value);
    }

    [Fact]
    public async Task Analyze_CarcinomaWithAnOverlap_GivesEachTileTheSquareOfOneStrideAroundItsCentre()
    {
        var analysis = new AnalysisDefinition("breast", null,
            [new ModelReference("carcinoma_model", ModelSourcing.Manual, fixture.CarcinomaPackage, null, null, null, Here)],
            [Feature("Carcinoma", new() { ["classification_model"] = "carcinoma_model" }, "overlap: 112")], Here);

        var result = await new AnalysisEngine(Catalog, new PackageFolderLocator()).RunAsync(File(analysis), analysis, fixture.SlidePath);

        // Every tile is positive: the region is the union of stride squares (224 level-0 px: 112 px at 0.5 µm from 0.25 µm)
        var figures = result.Features.Single().Figures.ToDictionary(f => f.Name, f => f.Value);
        var region = result.Regions.Single().Geometry;
        Assert.Equal(figures["positive_tiles"] * 224 * 224, region.Area, 1);
        Assert.True(figures["tiles"] > 0);
    }

    [Fact]
    public void Suppress_KeepsTheStrongestOfNearbyDetectionsAtTheirWeightedCentre()
    {
        var kept = Core.Analysis.Features.Mitosis.Suppress([new(0, 0, 0.6), new(10, 0, 0.9), new(100, 0, 0.7), new(105, 3, 0.7)], radius: 20);

        // (0·0.6 + 10·0.9) / 1.5 = 6; the two equal scores meet halfway; each keeps its strongest score.
        Assert.Equal([(6.0, 0.0, 0.9), (102.5, 1.5, 0.7)], kept.Select(d => (Math.Round(d.X, 9), Math.Round(d.Y, 9), d.Score)));
    }

    [Fact]
    public void Suppress_MeasuresFromWhereADetectionWasFound_SoMergingNeverChains()
    {
        // 15 from the strongest merges; 30 from it does not, although it is within 20 of where the merged centre moves.
        var kept = Core.Analysis.Features.Mitosis.Suppress([new(0, 0, 0.9), new(15, 0, 0.9), new(30, 0, 0.5)], radius: 20);

        Assert.Equal([(7.5, 0.0, 0.9), (30.0, 0.0, 0.5)], kept.Select(d => (Math.Round(d.X, 9), Math.Round(d.Y, 9), d.Score)));
    }
}
