using System.Text.Json.Nodes;
using Lamina.Core.Analysis;
using Lamina.Tracking;

namespace Lamina.Ship;

/// <summary>
/// <c>provenance.json</c> of a bundle: an in-toto Statement v1 whose subjects are every other file of the bundle and
/// whose predicate is SLSA Provenance v1 (what was bundled from which analysis file, models, runs, commits and data).
/// Reading it back and checking a bundle is Core's (<see cref="BundleLayout"/>, <see cref="BundleVerifier"/>): production
/// verifies bundles with Core alone.
/// </summary>
public static class BundleProvenance
{
    public const string FileName = BundleLayout.ProvenanceFileName;

    public const string StatementType = BundleLayout.StatementType;

    public const string PredicateType = "https://slsa.dev/provenance/v1";

    /// <summary>The SLSA build type of <c>lamina bundle</c>.</summary>
    public const string BuildType = "https://lamina.dev/bundle/v1";

    /// <summary>The builder's id: the Lamina command line, with its version.</summary>
    public static string BuilderId => $"https://lamina.dev/cli@{AnalysisEngine.Version}";

    /// <summary>What the predicate records of one model's training run.</summary>
    public sealed record ModelLineage(LockedModel Model, RunDetails? Run, IReadOnlyList<string> Datasets);

    public static JsonObject Build(IReadOnlyList<BundleFile> subjects, LockFile lockFile, IReadOnlyList<ModelLineage> models,
        Guid invocationId, DateTimeOffset startedOn, DateTimeOffset finishedOn, AuditAnchor? auditAnchor = null)
    {
        var dependencies = new JsonArray();
        foreach (var (model, run, datasets) in models)
        {
            var git = run?.Git;
            dependencies.Add(new JsonObject
            {
                ["name"] = $"models/{model.Name}/model.json",
                ["uri"] = $"lamina:production/{model.Location}",
                ["digest"] = Digest(model.CardSha256),
                ["annotations"] = new JsonObject
                {
                    ["run"] = model.Run.ToString(),
                    ["model"] = model.Model,
                    ["run_status"] = run?.Run.Status.ToString().ToLowerInvariant(),
                    ["git_commit"] = git?.Commit,
                    ["git_branch"] = git?.Branch,
                    ["git_remote"] = Secrets.Redact(git)?.Remote,
                    ["git_dirty"] = git?.Dirty,
                    ["git_diff_sha256"] = git?.DiffDigest,
                    ["datasets"] = new JsonArray([.. datasets.Select(d => (JsonNode?)d)]),
                },
            });
            if (git?.Commit is { } commit)
            {
                dependencies.Add(new JsonObject
                {
                    ["uri"] = Secrets.Redact(git)?.Remote is { } remote ? $"git+{remote}@{commit}" : $"git+commit:{commit}",
                    ["digest"] = new JsonObject { ["gitCommit"] = commit },
                    ["annotations"] = new JsonObject { ["run"] = model.Run.ToString(), ["branch"] = git.Branch, ["dirty"] = git.Dirty },
                });
            }
            foreach (var dataset in datasets)
            {
                dependencies.Add(new JsonObject { ["uri"] = $"lamina:dataset/{dataset}", ["digest"] = Digest(dataset) });
            }
        }
        foreach (var plugin in lockFile.Plugins)
        {
            dependencies.Add(new JsonObject
            {
                ["name"] = $"plugins/{plugin.Name}",
                ["uri"] = plugin.Run is { } run ? $"lamina:run/{run}/plugin-source/{plugin.Name}" : $"file:{plugin.Source}",
                ["digest"] = Digest(plugin.Sha256),
            });
        }
        return new JsonObject
        {
            ["_type"] = StatementType,
            ["subject"] = new JsonArray([.. subjects.OrderBy(s => s.Name, StringComparer.Ordinal)
                .Select(s => (JsonNode?)new JsonObject { ["name"] = s.Name, ["digest"] = Digest(s.Sha256) })]),
            ["predicateType"] = PredicateType,
            ["predicate"] = new JsonObject
            {
                ["buildDefinition"] = new JsonObject
                {
                    ["buildType"] = BuildType,
                    ["externalParameters"] = new JsonObject
                    {
                        ["analysis_file"] = lockFile.AnalysisFile,
                        ["analysis_file_sha256"] = lockFile.AnalysisFileSha256,
                        ["resolved_file_sha256"] = lockFile.ResolvedSha256,
                    },
                    ["resolvedDependencies"] = dependencies,
                },
                ["runDetails"] = new JsonObject
                {
                    ["builder"] = new JsonObject
                    {
                        ["id"] = BuilderId,
                        ["version"] = new JsonObject { ["lamina"] = AnalysisEngine.Version },
                    },
                    ["metadata"] = new JsonObject
                    {
                        ["invocationId"] = invocationId.ToString(),
                        ["startedOn"] = startedOn.ToUniversalTime().ToString("yyyy-MM-ddTHH:mm:ss.fffZ", System.Globalization.CultureInfo.InvariantCulture),
                        ["finishedOn"] = finishedOn.ToUniversalTime().ToString("yyyy-MM-ddTHH:mm:ss.fffZ", System.Globalization.CultureInfo.InvariantCulture),
                    },
                    // The audit trail's head when the bundle was built (its chain checked): `lamina audit verify --expect
                    // SEQ:HASH` later shows whether the history the release came from was rewritten since.
                    ["byproducts"] = auditAnchor is null ? new JsonArray() : new JsonArray(new JsonObject
                    {
                        ["name"] = AuditAnchorName,
                        ["uri"] = $"lamina:audit/{auditAnchor.Seq}",
                        ["digest"] = Digest(auditAnchor.Hash),
                        ["annotations"] = new JsonObject { ["anchor"] = auditAnchor.ToString() },
                    }),
                },
            },
        };
    }

    /// <summary>
    /// An invocation id that the bundle's content decides (its files and the lock's resolved digest): the same resolved file
    /// bundled twice gets the same id, so a reproducible bundle has the same bytes.
    /// </summary>
    public static Guid ContentInvocationId(IReadOnlyList<BundleFile> files, LockFile lockFile)
    {
        var text = new System.Text.StringBuilder("lamina-bundle\n").Append(lockFile.ResolvedSha256).Append('\n');
        foreach (var file in files.OrderBy(f => f.Name, StringComparer.Ordinal)) text.Append(file.Sha256).Append(' ').Append(file.Name).Append('\n');
        var hash = System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(text.ToString()));
        // RFC 9562 version 8 (custom), variant 10: a well-formed UUID whose bits are the hash's.
        hash[6] = (byte)((hash[6] & 0x0F) | 0x80);
        hash[8] = (byte)((hash[8] & 0x3F) | 0x80);
        return new Guid(hash.AsSpan(0, 16), bigEndian: true);
    }

    /// <summary>The name of the byproduct that anchors the audit trail.</summary>
    public const string AuditAnchorName = "audit-anchor";

    /// <summary>The audit anchor a statement records, or null.</summary>
    public static AuditAnchor? AuditAnchorOf(JsonNode statement) =>
        statement["predicate"]?["runDetails"]?["byproducts"] is JsonArray byproducts
        && byproducts.FirstOrDefault(b => b?["name"]?.GetValue<string>() == AuditAnchorName)?["annotations"]?["anchor"]?.GetValue<string>() is { } text
            ? AuditAnchor.Parse(text)
            : null;

    private static JsonObject Digest(string sha256) => new() { ["sha256"] = sha256 };
}
