using System.Text.Json.Nodes;
using Lamina.Core.Inference;

namespace Lamina.Ship.Tests;

public sealed class TraceTests
{
    private static IEnumerable<LineageNode> All(LineageNode node) => node.Children.SelectMany(All).Prepend(node);

    [Fact]
    public async Task Trace_OfARunPrefix_ShowsCommitPluginSourcesDatasetsAndModels()
    {
        // Given a trained, published run
        await using var stores = await ShipStores.CreateAsync();
        var (run, card) = await stores.TrainedAsync(datasetId: new string('d', 64));
        await stores.PublishAsync(run, card);

        // When it is traced by a prefix
        var lineage = await stores.Tracer().TraceAsync(run.ToString()[..8], CancellationToken.None);

        // Then the tree names the run, its commit, diff, plug-in source and models, the stored digests verified
        Assert.Equal($"run {run}", lineage.Label);
        Assert.Contains("completed, published", lineage.Detail);
        var nodes = All(lineage).ToList();
        Assert.Contains(nodes, n => n.Label == "git commit 0123456789abcdef0123456789abcdef01234567" && n.Detail!.Contains("branch main", StringComparison.Ordinal));
        Assert.Equal(DigestState.Verified, nodes.Single(n => n.Label == "uncommitted diff").State);
        Assert.Equal(DigestState.Verified, nodes.Single(n => n.Label == "plug-in source Normalization.cs").State);
        Assert.Equal(DigestState.Verified, nodes.Single(n => n.Label == "model carcinoma_model").State);
        // The data set's manifest is not in this blob store: reported missing, and the trace fails.
        Assert.Equal(DigestState.Missing, nodes.Single(n => n.Label.StartsWith("dataset ", StringComparison.Ordinal)).State);
        Assert.True(lineage.HasProblem);
    }

    [Fact]
    public async Task Trace_OfAReport_WalksTheBundleBackToTheTrainingRun_AndFlagsAnAlteredSlide()
    {
        // Given a bundle and a report of an analysis run from it
        await using var stores = await ShipStores.CreateAsync();
        var (run, card) = await stores.TrainedAsync();
        await stores.PublishAsync(run, card);
        var analysis = stores.WriteAnalysis($"""
            version: 1
            analyses:
              - name: breast
                models:
                  carcinoma_model:
                    sourcing: auto
                    reference: {run}
                features:
                  - cls: TissueArea
            """);
        var resolved = await stores.Resolver().ResolveAsync(analysis, stores.Temp.Combine("release", "resolved.yaml"), CancellationToken.None);
        var bundle = await stores.Builder().BuildAsync(resolved.ResolvedFile, stores.Temp.Combine("bundle"), CancellationToken.None);
        var slide = stores.Temp.Combine("slide.tif");
        File.WriteAllText(slide, "pixels");
        var output = stores.Temp.Combine("out");
        Directory.CreateDirectory(output);
        var config = Path.Combine(bundle.Directory, "analysis.yaml");
        File.WriteAllText(Path.Combine(output, "report.json"), new JsonObject
        {
            ["analysis"] = "breast",
            ["slide"] = new JsonObject { ["path"] = slide },
            ["provenance"] = new JsonObject
            {
                ["slide_sha256"] = Sha256Digest.OfFile(slide).Digest.Hex,
                ["analysis_file"] = config,
                ["analysis_file_sha256"] = Sha256Digest.OfFile(config).Digest.Hex,
                ["bundle"] = bundle.Directory,
                ["bundle_provenance_sha256"] = bundle.ProvenanceSha256,
            },
        }.ToJsonString());

        // When the report's folder is traced
        var lineage = await stores.Tracer().TraceAsync(output, CancellationToken.None);

        // Then it reaches the training run through the bundle and the model card, every digest verified
        var nodes = All(lineage).ToList();
        Assert.False(lineage.HasProblem, string.Join("\n", nodes.Select(n => $"{n.Label} {n.State}")));
        Assert.Equal(DigestState.Verified, nodes.Single(n => n.Label == $"slide {slide}").State);
        Assert.Equal(DigestState.Verified, nodes.Single(n => n.Label.StartsWith("bundle ", StringComparison.Ordinal)).State);
        var cardNode = nodes.Single(n => n.Label == "model card");
        Assert.Equal((card.ToJson() is var bytes ? Lamina.Tracking.ModelPackages.Describe("model.json", bytes).Sha256 : null, DigestState.Verified), (cardNode.Sha256, cardNode.State));
        Assert.Contains(cardNode.Children, n => n.Label == $"run {run}");

        // And once the slide changes, the trace says so
        File.AppendAllText(slide, "!");
        var altered = await stores.Tracer().TraceAsync(Path.Combine(output, "report.json"), CancellationToken.None);
        Assert.True(altered.HasProblem);
        Assert.Equal(DigestState.Altered, All(altered).Single(n => n.Label == $"slide {slide}").State);
    }

    [Theory]
    [InlineData("head.onnx")]
    [InlineData("model.json")]
    public async Task Trace_OfAPublishedModel_ChecksTheProductionCopy_AndFlagsAFileAlteredThere_Issue12(string file)
    {
        // Given a published model, traced clean by its card digest and by its run
        await using var stores = await ShipStores.CreateAsync();
        var (run, card) = await stores.TrainedAsync();
        await stores.PublishAsync(run, card);
        var cardSha = (await stores.Store.ListModelsAsync(CancellationToken.None)).Single().CardDigest;
        var clean = await stores.Tracer().TraceAsync(cardSha, CancellationToken.None);
        Assert.False(clean.HasProblem, string.Join("\n", All(clean).Select(n => $"{n.Label} {n.State} {n.Detail}")));
        Assert.Equal($"production store copy {stores.Production.Describe(run, card.Name)}", clean.Detail);

        // When a file of the production copy is altered (the blob store's copy is untouched)
        File.AppendAllText(stores.Production.Describe(run, card.Name, file), " ");
        var byCard = await stores.Tracer().TraceAsync(cardSha, CancellationToken.None);
        var byRun = await stores.Tracer().TraceAsync(run.ToString(), CancellationToken.None);

        // Then both traces fail, naming the file in the production store
        foreach (var lineage in new[] { byCard, byRun })
        {
            Assert.True(lineage.HasProblem);
            Assert.Contains(All(lineage), n => n.State == DigestState.Altered
                && (n.Label == $"{file} in the production store" || (file == "model.json" && n.Detail!.Contains("production store copy", StringComparison.Ordinal))));
        }
    }

    [Fact]
    public async Task Trace_OfAFineTunedModel_ShowsItsParentChain_ParentOfParentToo()
    {
        // Given a base model (published), a customer's model fine-tuned from it, and a second customer's from that one
        await using var stores = await ShipStores.CreateAsync();
        var (baseRun, baseCard) = await stores.TrainedAsync();
        await stores.PublishAsync(baseRun, baseCard);
        var digestOf = async (Guid run) => (await stores.Store.ListModelsAsync(CancellationToken.None)).Single(m => m.RunId == run).CardDigest;
        var (childRun, _) = await stores.TrainedAsync(parent: new ModelParent(baseRun, baseCard.Name, await digestOf(baseRun)));
        var (grandchildRun, _) = await stores.TrainedAsync(parent: new ModelParent(childRun, "carcinoma_model", await digestOf(childRun)));

        // When the last run is traced
        var lineage = await stores.Tracer().TraceAsync(grandchildRun.ToString(), CancellationToken.None);

        // Then its parent model leads to the child's run, whose parent model leads to the base run, every card verified
        var nodes = All(lineage).ToList();
        Assert.False(lineage.HasProblem, string.Join("\n", nodes.Select(n => $"{n.Label} {n.State} {n.Detail}")));
        var parent = lineage.Children.Single(n => n.Label == "parent model carcinoma_model");
        Assert.Contains($"init_from: run {childRun}", parent.Detail);
        var childCard = parent.Children.Single();
        Assert.Equal((await digestOf(childRun), DigestState.Verified), (childCard.Sha256, childCard.State));
        var child = childCard.Children.Single(n => n.Label == $"run {childRun}");
        var grandparent = child.Children.Single(n => n.Label == "parent model carcinoma_model");
        var baseCardNode = grandparent.Children.Single();
        Assert.Equal($"production store copy {stores.Production.Describe(baseRun, baseCard.Name)}", baseCardNode.Detail);
        Assert.Contains(baseCardNode.Children, n => n.Label == $"run {baseRun}");
        Assert.DoesNotContain(All(baseCardNode), n => n.Label.StartsWith("parent model", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Trace_OfAModelNotPublished_SaysItCheckedTheBlobStoreCopy()
    {
        await using var stores = await ShipStores.CreateAsync();
        var (_, _) = await stores.TrainedAsync();
        var cardSha = (await stores.Store.ListModelsAsync(CancellationToken.None)).Single().CardDigest;

        var lineage = await stores.Tracer().TraceAsync(cardSha, CancellationToken.None);

        Assert.Equal(("model card", DigestState.Verified, "blob store copy (not published)"), (lineage.Label, lineage.State, lineage.Detail));
    }
}
