using Lamina.Core.Inference;
using Lamina.Core.Plugins;
using Lamina.Lab.Models;
using Lamina.Lab.Plugins;
using Lamina.Lab.Tasks;
using Lamina.Lab.Training;
using Lamina.Tracking;

namespace Lamina.Lab.Tests.Training;

/// <summary>The parts of fine-tuning that need no slides: weighted rows, a parent's head read back and checked, labels of compared models.</summary>
public sealed class FineTuningUnitTests
{
    private static readonly TrainerOptions Options = new(Epochs: 15, BatchSize: 16, Seed: 5, new OptimizerOptions("adam", LearningRate: 0.05), Threads: 1);

    /// <summary>Two groups of rows at the same points with opposite labels: base says 0, customer says 1.</summary>
    private static (float[][] X, int[] Y) Conflicting(int perGroup)
    {
        var (x, _) = Toy.Separable(perGroup, 9);
        return ([.. x, .. x.Select(r => (float[])r.Clone())], [.. Enumerable.Repeat(0, perGroup), .. Enumerable.Repeat(1, perGroup)]);
    }

    private static (HeadModel Model, TrainingResult Result) Train((float[][] X, int[] Y) data, TrainerOptions options)
    {
        var model = new HeadModel(new LinearHead().Layers(2, 2), seed: 1);
        var result = new HeadTrainer().Train(data.X, data.Y, data.X, data.Y, 2, model, new CrossEntropy(), [new Accuracy()], [], run: null, options);
        return (model, result);
    }

    [Fact]
    public void Train_WithRowWeights_LeansToTheHeavierRows_Deterministically()
    {
        // Given rows that contradict each other, the customer's (label 1) weighted 3 and the base's 1
        var data = Conflicting(100);
        double[] weights = [.. Enumerable.Repeat(1.0, 100), .. Enumerable.Repeat(3.0, 100)];
        var weighted = Options with { RowWeights = weights };

        // When trained with the weights (twice), and with the weights the other way round
        var (model, _) = Train(data, weighted);
        var (again, _) = Train(data, weighted);
        var (reversed, _) = Train(data, Options with { RowWeights = [.. weights.Reverse()] });

        // Then the head predicts the heavier group's label, the same bits every time
        var customer = HeadTrainer.Predict(model, data.X, threads: 1);
        var other = HeadTrainer.Predict(reversed, data.X, threads: 1);
        var ones = Enumerable.Range(0, data.X.Length).Count(i => customer[2 * i + 1] > customer[2 * i]);
        var zeros = Enumerable.Range(0, data.X.Length).Count(i => other[2 * i + 1] < other[2 * i]);
        Assert.True(ones > 0.9 * data.X.Length, $"{ones} of {data.X.Length} rows predicted as the customer's label");
        Assert.True(zeros > 0.9 * data.X.Length, $"{zeros} of {data.X.Length} rows predicted as the base's label when the base weighs more");
        Assert.Equal(model.Sha256(), again.Sha256());
    }

    [Fact]
    public void Train_WithEqualRowWeights_GivesTheUnweightedWeights_BitForBit()
    {
        var data = Toy.Separable(120, 4);
        var (plain, _) = Train(data, Options);
        var (equal, _) = Train(data, Options with { RowWeights = [.. Enumerable.Repeat(2.5, 120)] });
        Assert.Equal(plain.Sha256(), equal.Sha256());
    }

    [Fact]
    public void Train_WithRowWeightsOfTheWrongCount_SaysSo()
    {
        var data = Toy.Separable(20, 4);
        var error = Assert.ThrowsAny<Exception>(() => Train(data, Options with { RowWeights = [1.0, 2.0] }));
        Assert.Contains("row weights must be 20 positive finite numbers", error.Message);
    }

    private static readonly string Backbone = new('b', 64);

    private static ParentModel Parent(HeadModel head, IReadOnlyList<string>? classes = null, string? backbone = null)
    {
        var card = new ModelCard
        {
            Name = "carcinoma",
            Kind = "trained",
            Input = new InputSpec(224, 0.5, null, 0, 3),
            Classes = classes ?? ["other", "Carcinoma"],
            Backbone = new BackboneReference("resnet18", head.Inputs, new PackageFile("backbone.onnx", backbone ?? Backbone, 1)),
            Network = new PackageFile("head.onnx", new string('h', 64), 1),
        };
        var record = new ModelRecord(Guid.Parse("3f2a0000-0000-0000-0000-000000000001"), "carcinoma", "trained", new string('c', 64), DateTimeOffset.UnixEpoch,
            "P", RunStatus.Completed);
        return new ParentModel(new StoredModel(record, card), ParentModel.ReadInitializers(HeadOnnxExporter.Export(head), "head.onnx"));
    }

    [Fact]
    public void InitialiseHead_CopiesTheParentsWeightsFromItsOnnx()
    {
        // Given a parent head with weights of its own (seed 7) and a child initialised from another seed
        var layers = new MlpHead(nLayers: 2, width: 16, dropout: 0.1).Layers(32, 2);
        var parentHead = new HeadModel(layers, seed: 7);
        var child = new HeadModel(layers, seed: 8);
        Assert.NotEqual(parentHead.Sha256(), child.Sha256());

        // When the child starts from the parent
        Parent(parentHead).InitialiseHead(child, "carcinoma", Backbone, ["other", "Carcinoma"]);

        // Then it holds the parent's weights exactly
        Assert.Equal(parentHead.Sha256(), child.Sha256());
    }

    [Fact]
    public void InitialiseHead_WithAnotherShape_ClassesOrBackbone_NamesBothSides()
    {
        var parent = Parent(new HeadModel(new MlpHead(nLayers: 2, width: 16).Layers(32, 2)));

        var shapes = Assert.Throws<LabException>(() => parent.InitialiseHead(new HeadModel(new MlpHead(nLayers: 2, width: 8).Layers(32, 2)), "child", Backbone, ["other", "Carcinoma"]));
        Assert.Contains("linear0.weight is [16, 32] in the parent, [8, 32] in 'child'", shapes.Message);
        Assert.Contains("3f2a0000/carcinoma", shapes.Message);

        var classes = Assert.Throws<LabException>(() => parent.InitialiseHead(new HeadModel(new MlpHead(nLayers: 2, width: 16).Layers(32, 2)), "child", Backbone, ["other", "Tumour"]));
        Assert.Contains("predicts [other, Carcinoma] but model 'child' is trained on [other, Tumour]", classes.Message);

        var backbone = Assert.Throws<LabException>(() => parent.InitialiseHead(new HeadModel(new MlpHead(nLayers: 2, width: 16).Layers(32, 2)), "child", new string('d', 64), ["other", "Carcinoma"]));
        Assert.Contains("backbone 'resnet18' sha256 bbbbbbbbbbbb", backbone.Message);
        Assert.Contains("sha256 dddddddddddd", backbone.Message);

        var layers = Assert.Throws<LabException>(() => parent.InitialiseHead(new HeadModel(new MlpHead(nLayers: 3, width: 16).Layers(32, 2)), "child", Backbone, ["other", "Carcinoma"]));
        Assert.Contains("linear2.weight [2, 16] is not in the parent's head", layers.Message);
    }

    [Fact]
    public void Labels_OfAListOfModels_AreTheirNames_OrTheirRunsWhenNamesRepeat()
    {
        var (a, b) = (Guid.Parse("aaaaaaaa-0000-0000-0000-000000000000"), Guid.Parse("bbbbbbbb-0000-0000-0000-000000000000"));
        Assert.Equal(["parent", "child"], ComparisonTestingTask.Labels([("parent", "m", a), ("child", "m", b)]));
        Assert.Equal(["tumour", "stroma"], ComparisonTestingTask.Labels([("", "tumour", a), ("", "stroma", b)]));
        Assert.Equal(["aaaaaaaa", "bbbbbbbb"], ComparisonTestingTask.Labels([("", "m", a), ("", "m", b)]));
        Assert.Equal(["aaaaaaaa.1", "aaaaaaaa.2"], ComparisonTestingTask.Labels([("", "m", a), ("", "m", a)]));
    }
}
