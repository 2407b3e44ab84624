using System.Text.Json;
using System.Text.Json.Nodes;
using Lamina.Core.Inference;

namespace Lamina.Core.Tests;

public sealed class LaminaJsonTests
{
    private enum Outcome { Completed, TimedOut }

    private sealed record Sample(Guid RunId, string TaskName, Outcome Outcome, double? MicronsPerPixel, IReadOnlyDictionary<string, double> FinalMetrics);

    private static readonly Sample Example = new(Guid.Parse("0c4d0b6e-8f8a-4b39-9d55-3f3d9a6b0c11"), "simple_train", Outcome.TimedOut, 0.5,
        new Dictionary<string, double> { ["val/Accuracy"] = 0.9 });

    [Fact]
    public void Options_WriteSnakeCaseKeysAndEnums_AndKeepDictionaryKeys()
    {
        var json = JsonNode.Parse(JsonSerializer.Serialize(Example, LaminaJson.Options))!.AsObject();

        Assert.Equal(["run_id", "task_name", "outcome", "microns_per_pixel", "final_metrics"], json.Select(p => p.Key));
        Assert.Equal("timed_out", json["outcome"]!.GetValue<string>());
        Assert.Equal(["val/Accuracy"], json["final_metrics"]!.AsObject().Select(p => p.Key));
    }

    [Fact]
    public void Options_KeepDigitsWithTheirWord()
    {
        var json = JsonNode.Parse(JsonSerializer.Serialize(new { CardSha256 = "a", CarcinomaMm2 = 1.5, provenance_sha256 = "b" }, LaminaJson.Options))!.AsObject();

        Assert.Equal(["card_sha256", "carcinoma_mm2", "provenance_sha256"], json.Select(p => p.Key));
    }

    [Fact]
    public void Indented_IsTheSameConventionOnSeveralLines()
    {
        var indented = JsonSerializer.Serialize(Example, LaminaJson.Indented);

        Assert.Contains('\n', indented);
        Assert.Equal(JsonSerializer.Serialize(Example, LaminaJson.Options), JsonNode.Parse(indented)!.ToJsonString());
    }

    [Theory]
    [InlineData("snake_case (today)", """{"run_id":"0c4d0b6e-8f8a-4b39-9d55-3f3d9a6b0c11","task_name":"simple_train","outcome":"timed_out","microns_per_pixel":0.5,"final_metrics":{"val/Accuracy":0.9}}""")]
    [InlineData("PascalCase (.NET defaults, before)", """{"RunId":"0c4d0b6e-8f8a-4b39-9d55-3f3d9a6b0c11","TaskName":"simple_train","Outcome":1,"MicronsPerPixel":0.5,"FinalMetrics":{"val/Accuracy":0.9}}""")]
    [InlineData("camelCase (--json, before)", """{"runId":"0c4d0b6e-8f8a-4b39-9d55-3f3d9a6b0c11","taskName":"simple_train","outcome":"timed_out","micronsPerPixel":0.5,"finalMetrics":{"val/Accuracy":0.9}}""")]
    public void Issue11_Read_AcceptsTodaysKeysAndTheOnesEarlierVersionsWrote(string written, string json)
    {
        var read = LaminaJson.Read<Sample>(json)!;

        Assert.True(read with { FinalMetrics = Example.FinalMetrics } == Example, written);
        Assert.Equal(Example.FinalMetrics, read.FinalMetrics);
    }

    [Fact]
    public void ModelCard_KeepsSnakeCaseKeys_AndLeavesNullsOut()
    {
        var card = new ModelCard
        {
            Name = "tumour",
            Kind = "imported",
            Input = new InputSpec(224, 0.5, null, 0, 3),
            Classes = ["other", "tumour"],
            Network = new PackageFile("network.onnx", new string('a', 64), 42),
            FinalMetrics = new Dictionary<string, double> { ["val/accuracy"] = 0.9 },
        };

        var json = JsonNode.Parse(card.ToJson())!.AsObject();

        Assert.Equal(["format", "name", "kind", "input", "preprocessing", "postprocessing", "classes", "network", "final_metrics", "best_metrics"],
            json.Select(p => p.Key));
        Assert.Equal(["tile_size", "microns_per_pixel", "overlap", "channels"], json["input"]!.AsObject().Select(p => p.Key));
        Assert.Equal(card.Name, ModelCard.Parse(card.ToJson(), "test").Name);
    }
}
