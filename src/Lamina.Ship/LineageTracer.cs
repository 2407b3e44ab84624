using System.Text.Json.Nodes;
using Lamina.Core.Analysis;
using Lamina.Core.Inference;
using Lamina.Core.Provenance;
using Lamina.Ship.Images;
using Lamina.Tracking;

namespace Lamina.Ship;

/// <summary>One step of a lineage: what it is, the digest that names it, and whether that digest still holds.</summary>
public sealed record LineageNode(string Label, string? Sha256 = null, DigestState State = DigestState.Unchecked, string? Detail = null)
{
    public List<LineageNode> Children { get; } = [];

    /// <summary>True when this node or one below it is altered or missing.</summary>
    public bool HasProblem => State is DigestState.Altered or DigestState.Missing or DigestState.Extra || Children.Exists(c => c.HasProblem);

    public LineageNode Add(LineageNode child)
    {
        Children.Add(child);
        return child;
    }

    public JsonObject ToJson() => new()
    {
        ["label"] = Label,
        ["sha256"] = Sha256,
        ["state"] = State.ToString().ToLowerInvariant(),
        ["detail"] = Detail,
        ["children"] = new JsonArray([.. Children.Select(c => (JsonNode?)c.ToJson())]),
    };
}

/// <summary>
/// <c>lamina trace</c>: walks back from an analysis report, a bundle, a model card digest or a run to the code commit,
/// data sets and slides it came from, checking every digest on the way against the files, the production store and the
/// blob store.
/// </summary>
public sealed class LineageTracer(ITrackingStore store, IBlobStore blobs, IProductionStore production)
{
    /// <summary>Opens the registry or layout an image reference names (<see cref="ImageStores"/> unless a test says otherwise).</summary>
    public Func<ImageReference, IImageStore> OpenImages { get; init; } = ImageStores.Open;

    /// <param name="id">
    /// A report (report.json or its folder), a bundle folder, an image (<c>HOST/REPO:TAG</c>, <c>…@sha256:HEX</c>,
    /// <c>oci:DIR:TAG</c>), a model card's SHA-256, or a run id or prefix.
    /// </param>
    public async Task<LineageNode> TraceAsync(string id, CancellationToken cancellationToken)
    {
        if (File.Exists(id) && Path.GetFileName(id) == AnalysisReport.ReportFile) return await ReportAsync(Path.GetFullPath(id), cancellationToken);
        if (Directory.Exists(id) && File.Exists(Path.Combine(id, AnalysisReport.ReportFile)))
        {
            return await ReportAsync(Path.GetFullPath(Path.Combine(id, AnalysisReport.ReportFile)), cancellationToken);
        }
        if (Directory.Exists(id) && File.Exists(Path.Combine(id, BundleProvenance.FileName))) return await BundleAsync(Path.GetFullPath(id), null, cancellationToken);
        if (AsImage(id) is { } image) return await ImageAsync(image, cancellationToken);
        if (OciDigest.IsValid(id)) return await ReleasedImageAsync(id, cancellationToken);
        if (id.Length == 64 && id.All(Uri.IsHexDigit)) return await CardAsync(id.ToLowerInvariant(), null, null, cancellationToken);
        var run = await store.ResolveRunAsync(id, cancellationToken);
        return await RunAsync(run.Id, withModels: true, cancellationToken);
    }

    private async Task<LineageNode> ReportAsync(string path, CancellationToken cancellationToken)
    {
        var report = JsonNode.Parse(await File.ReadAllBytesAsync(path, cancellationToken))
            ?? throw new ShipException($"{path}: empty report");
        var provenance = report["provenance"] ?? throw new ShipException($"{path}: a report without provenance");
        var root = new LineageNode($"report {path}", Sha256Digest.OfFile(path).Digest.Hex, DigestState.Unchecked, $"analysis {report["analysis"]}");
        var slide = report["slide"]?["path"]?.GetValue<string>();
        root.Add(FileNode("slide", slide, provenance["slide_sha256"]?.GetValue<string>()));
        root.Add(FileNode("analysis file", provenance["analysis_file"]?.GetValue<string>(), provenance["analysis_file_sha256"]?.GetValue<string>()));
        if (provenance["bundle"]?.GetValue<string>() is { } bundle)
        {
            root.Add(await BundleAsync(bundle, provenance["bundle_provenance_sha256"]?.GetValue<string>(), cancellationToken));
            return root;
        }
        foreach (var (name, files) in provenance["models"]?.AsObject() ?? [])
        {
            var package = report["models"]?[name]?["package"]?.GetValue<string>();
            var model = root.Add(new LineageNode($"model {name}", Detail: package));
            foreach (var (file, sha) in files?.AsObject() ?? [])
            {
                if (file == ModelPackage.CardFile) continue;
                model.Add(FileNode(file, package is null ? null : Path.Combine(package, file), sha?.GetValue<string>()));
            }
            if (files?[ModelPackage.CardFile]?.GetValue<string>() is { } card)
            {
                var cardNode = FileNode("model card", package is null ? null : Path.Combine(package, ModelPackage.CardFile), card);
                model.Add(cardNode);
                await AddTrainingRunAsync(cardNode, card, cancellationToken);
            }
        }
        return root;
    }

    /// <summary>An image reference when <paramref name="id"/> reads as one that names where the image is (not a bare name).</summary>
    private static ImageReference? AsImage(string id)
    {
        if (!id.StartsWith(ImageReference.LayoutScheme, StringComparison.Ordinal) && !id.Contains('/', StringComparison.Ordinal)) return null;
        try
        {
            var reference = ImageReference.Parse(id);
            return reference.IsLayout || reference.IsRegistry ? reference : null;
        }
        catch (ImageException)
        {
            return null;
        }
    }

    /// <summary>An image: its manifest, config and layers checked, then the bundle it carries traced on.</summary>
    private async Task<LineageNode> ImageAsync(ImageReference image, CancellationToken cancellationToken)
    {
        var scratch = Path.Combine(Path.GetTempPath(), $"lamina-trace-{Guid.NewGuid():N}");
        try
        {
            var inspection = await ImageLineage.InspectAsync(OpenImages(image), image, scratch, cancellationToken);
            var root = inspection.Node;
            if (root.Sha256 is { } manifest)
            {
                foreach (var release in await store.FindReleasesByImageDigestAsync(OciDigest.FromHex(manifest), cancellationToken)) root.Add(ReleaseNode(release));
            }
            if (inspection.BundleDirectory is { } bundle)
            {
                var node = await BundleAsync(bundle, inspection.BundleDigest, cancellationToken);
                var named = new LineageNode($"bundle in {image.Repository}{(image.Tag is { } tag ? $":{tag}" : "")}", node.Sha256, node.State, node.Detail);
                named.Children.AddRange(node.Children);
                root.Add(named);
            }
            else if (inspection.BundleDigest is { } digest)
            {
                root.Add(new LineageNode("bundle", digest, DigestState.Missing, "its layers could not be read whole; nothing past them is traced"));
            }
            return root;
        }
        finally
        {
            if (Directory.Exists(scratch)) Directory.Delete(scratch, recursive: true);
        }
    }

    /// <summary>
    /// An image known by its digest alone: the releases that shipped it say where it was pushed; it is traced there, or,
    /// when it cannot be reached (a layout elsewhere, a registry down), from the release record's models.
    /// </summary>
    private async Task<LineageNode> ReleasedImageAsync(string digest, CancellationToken cancellationToken)
    {
        var releases = await store.FindReleasesByImageDigestAsync(digest, cancellationToken);
        if (releases.Count == 0)
        {
            throw new ImageNotFoundException($"no release of image {digest} is recorded in the tracking store: trace it by reference (HOST/REPO:TAG or oci:DIR:TAG)") { At = digest };
        }
        var release = releases[0];
        ImageReference? pushed = null;
        try
        {
            var named = ImageReference.Parse(release.Image);
            if (named.IsRegistry) pushed = named.WithDigest(digest);
        }
        catch (ImageException)
        {
            // A name that is no reference: traced from the record.
        }
        if (pushed is not null)
        {
            try
            {
                return await ImageAsync(pushed, cancellationToken);
            }
            catch (ImageException e) when (e is ImageNotFoundException || e.IsTransient)
            {
                var unreachable = new LineageNode($"image {release.Image}@{digest}", OciDigest.Hex(digest), DigestState.Missing, e.Message);
                return await WithReleaseModelsAsync(unreachable, releases, cancellationToken);
            }
        }
        var root = new LineageNode($"image {release.Image}@{digest}", OciDigest.Hex(digest), DigestState.Unchecked, "not in a registry: traced from its release record");
        return await WithReleaseModelsAsync(root, releases, cancellationToken);
    }

    private async Task<LineageNode> WithReleaseModelsAsync(LineageNode root, IReadOnlyList<ReleaseRecord> releases, CancellationToken cancellationToken)
    {
        foreach (var release in releases) root.Add(ReleaseNode(release));
        foreach (var model in releases[0].Models)
        {
            var node = root.Add(new LineageNode($"model {model.Name}", Detail: $"run {model.Run}, model {model.Model}"));
            node.Add(await CardAsync(model.CardSha256, model.Run, model.Model, cancellationToken));
        }
        return root;
    }

    private static LineageNode ReleaseNode(ReleaseRecord release) => new($"release {release.Customer} {release.Version}", Detail:
        $"customer commit {release.CustomerCommit ?? "(none)"}{(release.CustomerRemote is { } remote ? $" of {remote}" : "")}, base {release.BaseImage} ({release.BaseDigest[..Math.Min(19, release.BaseDigest.Length)]}), "
        + $"{(release.SigningKeyId is { } key ? $"signed by key {key[..Math.Min(12, key.Length)]}" : "unsigned")}, by {release.CreatedBy} on {release.CreatedAt:yyyy-MM-dd HH:mm}");

    private async Task<LineageNode> BundleAsync(string directory, string? provenanceSha, CancellationToken cancellationToken)
    {
        if (!Directory.Exists(directory)) return new LineageNode($"bundle {directory}", provenanceSha, DigestState.Missing);
        var verification = BundleVerifier.Inspect(directory);
        var state = provenanceSha is null ? DigestState.Verified : provenanceSha == verification.ProvenanceSha256 ? DigestState.Verified : DigestState.Altered;
        var root = new LineageNode($"bundle {verification.Directory}", verification.ProvenanceSha256, state, "provenance.json");
        var byName = verification.Files.ToDictionary(f => f.Name, StringComparer.Ordinal);
        foreach (var check in verification.Files.Where(f => !f.Name.StartsWith("models/", StringComparison.Ordinal)))
        {
            root.Add(new LineageNode(check.Name, check.Expected ?? check.Actual, check.State));
        }
        foreach (var model in verification.Lock?.Models ?? [])
        {
            var node = root.Add(new LineageNode($"model {model.Name}", Detail: $"published as {model.Location}"));
            foreach (var file in model.Files.Where(f => f.Name != ModelPackage.CardFile))
            {
                var check = byName.GetValueOrDefault($"models/{model.Name}/{file.Name}");
                node.Add(new LineageNode(file.Name, file.Sha256, check?.State ?? DigestState.Missing));
            }
            var inBundle = byName.GetValueOrDefault($"models/{model.Name}/{ModelPackage.CardFile}");
            var card = node.Add(await CardAsync(model.CardSha256, model.Run, model.Model, cancellationToken));
            if (inBundle?.State is { } bundled and not DigestState.Verified) card.Add(new LineageNode("model.json in the bundle", model.CardSha256, bundled));
        }
        return root;
    }

    /// <summary>
    /// A model card by digest, then its run. A published model is checked in the production store (the copy that is
    /// shipped and analysed with): its card, every file against its manifest, and the manifest against the one recorded at
    /// publication; a model not published is checked in the blob store. The node's detail says which copy was checked.
    /// </summary>
    private async Task<LineageNode> CardAsync(string sha256, Guid? run, string? model, CancellationToken cancellationToken)
    {
        if (run is null || model is null)
        {
            // A card traced by its digest: the model it belongs to, when the tracking store knows it.
            var record = (await store.ListModelsAsync(cancellationToken)).FirstOrDefault(m => m.CardDigest == sha256);
            (run, model) = (record?.RunId, record?.Name);
        }
        var node = run is { } r && model is { } m && await production.ContainsAsync(r, m, cancellationToken)
            ? await ProductionCopyAsync(sha256, r, m, cancellationToken)
            : new LineageNode("model card", sha256, await BlobStateAsync(sha256, cancellationToken), "blob store copy (not published)");
        await AddTrainingRunAsync(node, sha256, cancellationToken);
        return node;
    }

    /// <summary>The production store's copy of a published model: its card, then each file that does not verify.</summary>
    private async Task<LineageNode> ProductionCopyAsync(string cardSha256, Guid run, string model, CancellationToken cancellationToken)
    {
        var found = await PublishedDigestAsync(run, model, ModelPackage.CardFile, cancellationToken);
        var node = new LineageNode("model card", cardSha256, Compare(cardSha256, found), $"production store copy {production.Describe(run, model)}");
        ProductionVerification verification;
        try
        {
            verification = await production.VerifyAsync(run, model, cancellationToken);
        }
        catch (ProductionStoreException e)
        {
            node.Add(new LineageNode(ProductionStore.ManifestFile, null, DigestState.Missing, e.Message));
            return node;
        }
        foreach (var problem in verification.Problems.Where(p => p.File != ModelPackage.CardFile || node.State == DigestState.Verified))
        {
            node.Add(new LineageNode($"{problem.File} in the production store", null, problem.State, problem.Message));
        }
        var publication = (await store.ListPublicationsAsync(run, cancellationToken)).FirstOrDefault(p => p.ModelName == model);
        if (publication is not null)
        {
            var manifest = await PublishedDigestAsync(run, model, ProductionStore.ManifestFile, cancellationToken);
            if (manifest != publication.ManifestSha256)
            {
                node.Add(new LineageNode($"{ProductionStore.ManifestFile} in the production store", publication.ManifestSha256, Compare(publication.ManifestSha256, manifest),
                    "differs from the manifest recorded at publication"));
            }
        }
        return node;
    }

    private async Task AddTrainingRunAsync(LineageNode node, string cardSha256, CancellationToken cancellationToken)
    {
        var record = (await store.ListModelsAsync(cancellationToken)).FirstOrDefault(m => m.CardDigest == cardSha256);
        node.Add(record is null
            ? new LineageNode("training run", null, DigestState.Missing, "no model with this card digest in the tracking store")
            : await RunAsync(record.RunId, withModels: false, cancellationToken));
    }

    private async Task<LineageNode> RunAsync(Guid id, bool withModels, CancellationToken cancellationToken)
    {
        RunDetails details;
        try
        {
            details = await store.GetRunDetailsAsync(id, cancellationToken);
        }
        catch (RunNotFoundException)
        {
            return new LineageNode($"training run {id}", null, DigestState.Missing, "not in the tracking store");
        }
        var run = details.Run;
        var published = (await production.ListAsync(cancellationToken)).Any(p => p.Run == id);
        var node = new LineageNode($"run {run.Id}", Detail:
            $"{run.ProjectName}/{run.TaskName} ({run.TaskType}), {run.Status.ToString().ToLowerInvariant()}, {(published ? "published" : "not published")}");
        if (details.Git is { } git)
        {
            var commit = node.Add(new LineageNode($"git commit {git.Commit ?? "(none)"}", Detail:
                $"branch {git.Branch ?? "(detached)"}{(git.Remote is { } remote ? $", {Secrets.RedactUris(remote)}" : "")}, {(git.Dirty ? "dirty" : "clean")}"));
            commit.Add(new LineageNode("uncommitted diff", git.DiffDigest, await BlobStateAsync(git.DiffDigest, cancellationToken), $"{git.DiffSize} bytes"));
        }
        else
        {
            node.Add(new LineageNode("git", Detail: "not captured (not a git work tree)"));
        }
        foreach (var source in details.PluginSources)
        {
            node.Add(new LineageNode($"plug-in source {source.Path}", source.Sha256, await BlobStateAsync(source.Sha256, cancellationToken)));
        }
        var inputs = await store.GetRunInputsAsync(id, cancellationToken);
        foreach (var dataset in inputs.Datasets)
        {
            node.Add(new LineageNode($"dataset {dataset.DatasetId[..Math.Min(12, dataset.DatasetId.Length)]}", dataset.DatasetId,
                await BlobStateAsync(dataset.DatasetId, cancellationToken), dataset.Role));
        }
        foreach (var slide in inputs.Slides)
        {
            node.Add(FileNode("slide", slide.Path, slide.Sha256));
        }
        // A fine-tuned model's run starts from its parent's model: its card, then the run that trained it, and so up the chain.
        foreach (var parent in inputs.Models.Where(m => m.Role == "parent"))
        {
            var entry = node.Add(new LineageNode($"parent model {parent.ModelName}", Detail: $"init_from: run {parent.ModelRunId}, model {parent.ModelName}"));
            entry.Add(await CardAsync(parent.CardDigest, parent.ModelRunId, parent.ModelName, cancellationToken));
        }
        if (withModels)
        {
            foreach (var model in (await store.ListModelsAsync(cancellationToken)).Where(m => m.RunId == id))
            {
                if (await production.ContainsAsync(id, model.Name, cancellationToken))
                {
                    var copy = await ProductionCopyAsync(model.CardDigest, id, model.Name, cancellationToken);
                    var entry = node.Add(new LineageNode($"model {model.Name}", model.CardDigest, copy.State, $"published: {copy.Detail}"));
                    entry.Children.AddRange(copy.Children);
                }
                else
                {
                    node.Add(new LineageNode($"model {model.Name}", model.CardDigest, await BlobStateAsync(model.CardDigest, cancellationToken),
                        "not published: blob store copy"));
                }
            }
        }
        return node;
    }

    private static LineageNode FileNode(string what, string? path, string? sha256)
    {
        if (sha256 is null) return new LineageNode($"{what} {path}", null, DigestState.Unchecked, "no digest recorded");
        var found = path is not null && File.Exists(path) ? Sha256Digest.OfFile(path).Digest.Hex : null;
        return new LineageNode($"{what} {path}", sha256, Compare(sha256, found));
    }

    private async Task<DigestState> BlobStateAsync(string sha256, CancellationToken cancellationToken)
    {
        if (!await blobs.ExistsAsync(sha256, cancellationToken)) return DigestState.Missing;
        await using var stream = await blobs.OpenAsync(sha256, cancellationToken);
        return Compare(sha256, (await Sha256Digest.OfAsync(stream, cancellationToken)).Hex);
    }

    private async Task<string?> PublishedDigestAsync(Guid run, string model, string file, CancellationToken cancellationToken)
    {
        try
        {
            await using var stream = await production.OpenFileAsync(run, model, file, cancellationToken);
            return (await Sha256Digest.OfAsync(stream, cancellationToken)).Hex;
        }
        catch (PublishedFileNotFoundException)
        {
            return null;
        }
    }

    private static DigestState Compare(string expected, string? found) =>
        found is null ? DigestState.Missing : found == expected ? DigestState.Verified : DigestState.Altered;
}
