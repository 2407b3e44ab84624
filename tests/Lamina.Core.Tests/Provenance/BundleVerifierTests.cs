using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Lamina.Core.Provenance;

namespace Lamina.Core.Tests.Provenance;

/// <summary>Core reads and verifies a bundle on its own, as the production service does (issue 11).</summary>
public sealed class BundleVerifierTests : IDisposable
{
    private readonly TemporaryDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    // A bundle as `lamina bundle` lays it out: the resolved file, its lock, a model and a plug-in, all pinned by provenance.json.
    private string Bundle()
    {
        var root = _temp.Combine("bundle");
        var files = new Dictionary<string, byte[]>
        {
            [BundleLayout.AnalysisFileName] = "version: 1\nanalyses: []\n"u8.ToArray(),
            ["models/m/model.json"] = "{}"u8.ToArray(),
            ["models/m/head.onnx"] = "head"u8.ToArray(),
            ["plugins/P.cs"] = "public sealed class P { }"u8.ToArray(),
        };
        string Sha(byte[] bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));
        files[LockFile.FileName] = new LockFile
        {
            AnalysisFile = "/release/analysis.yaml",
            AnalysisFileSha256 = new string('0', 64),
            ResolvedFile = BundleLayout.AnalysisFileName,
            ResolvedSha256 = Sha(files[BundleLayout.AnalysisFileName]),
            SourcesPath = ["plugins/"],
            Models = [new LockedModel("m", Guid.NewGuid(), "m", "run/m/", [
                new PublishedFile("model.json", Sha(files["models/m/model.json"]), 2), new PublishedFile("head.onnx", Sha(files["models/m/head.onnx"]), 4)])],
            Plugins = [new LockedPlugin("P.cs", Sha(files["plugins/P.cs"]), files["plugins/P.cs"].Length)],
        }.ToJson();
        foreach (var (name, bytes) in files)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(root, name))!);
            File.WriteAllBytes(Path.Combine(root, name), bytes);
        }
        var statement = new JsonObject
        {
            ["_type"] = BundleLayout.StatementType,
            ["subject"] = new JsonArray([.. files.OrderBy(f => f.Key, StringComparer.Ordinal)
                .Select(f => (JsonNode?)new JsonObject { ["name"] = f.Key, ["digest"] = new JsonObject { ["sha256"] = Sha(f.Value) } })]),
        };
        File.WriteAllText(Path.Combine(root, BundleLayout.ProvenanceFileName), statement.ToJsonString());
        return root;
    }

    [Fact]
    public void VerifyBundleOf_AnAnalysisFileInAnIntactBundle_VerifiesEveryFileAndReadsTheLock()
    {
        var bundle = Bundle();

        var verification = BundleVerifier.VerifyBundleOf(Path.Combine(bundle, BundleLayout.AnalysisFileName));

        Assert.NotNull(verification);
        Assert.True(verification.Ok);
        Assert.Equal(5, verification.Files.Count);
        Assert.Equal("m", Assert.Single(verification.Lock!.Models).Name);
        Assert.Equal(bundle, verification.ToReportProvenance()["bundle"]!.GetValue<string>());
    }

    [Fact]
    public void VerifyBundleOf_AnAnalysisFileOutsideABundle_IsNull()
    {
        var file = _temp.Combine("analysis.yaml");
        File.WriteAllText(file, "version: 1\n");

        Assert.Null(BundleVerifier.VerifyBundleOf(file));
    }

    [Fact]
    public void VerifyBundleOf_AnAlteredModelFile_FailsNamingIt()
    {
        var bundle = Bundle();
        var head = Path.Combine(bundle, "models", "m", "head.onnx");
        File.AppendAllText(head, "!");

        var error = Assert.Throws<BundleException>(() => BundleVerifier.VerifyBundleOf(Path.Combine(bundle, BundleLayout.AnalysisFileName)));

        Assert.StartsWith($"{head}: sha256 ", error.Message);
        Assert.Contains("the file was altered", error.Message);
    }

    [Fact]
    public void Inspect_AProvenanceRewrittenToMatchAnAlteredFile_StillDisagreesWithTheLock()
    {
        // Given a plug-in altered, and provenance.json rewritten to pin the altered bytes
        var bundle = Bundle();
        var plugin = Path.Combine(bundle, "plugins", "P.cs");
        File.AppendAllText(plugin, "// changed");
        var provenancePath = Path.Combine(bundle, BundleLayout.ProvenanceFileName);
        var statement = JsonNode.Parse(File.ReadAllText(provenancePath))!;
        var subject = statement["subject"]!.AsArray().Single(s => s!["name"]!.GetValue<string>() == "plugins/P.cs")!;
        subject["digest"]!["sha256"] = Sha256Digest.OfFile(plugin).Digest.Hex;
        File.WriteAllText(provenancePath, statement.ToJsonString());

        // When the bundle is inspected
        var verification = BundleVerifier.Inspect(bundle);

        // Then the lock's digest finds it
        Assert.False(verification.Ok);
        Assert.Equal(("plugins/P.cs", DigestState.Altered), (verification.FirstProblem!.Name, verification.FirstProblem.State));
    }
}
