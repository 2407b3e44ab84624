using System.Text.Json.Nodes;

namespace Lamina.Core.Provenance;

/// <summary>How a digest compared: as pinned, altered, missing, a file nobody pinned, or nothing to compare against.</summary>
public enum DigestState
{
    Verified,
    Altered,
    Missing,
    Extra,
    Unchecked,
}

/// <summary>One file of a bundle checked: the digest pinned for it, the digest found (null when missing), and the verdict.</summary>
public sealed record FileCheck(string Name, string? Expected, string? Actual, DigestState State)
{
    public string Describe(string directory) => State switch
    {
        DigestState.Altered => $"{Path.Combine(directory, Name)}: sha256 {Actual} differs from the pinned {Expected}: the file was altered",
        DigestState.Missing => $"{Path.Combine(directory, Name)}: missing (pinned sha256 {Expected})",
        DigestState.Extra => $"{Path.Combine(directory, Name)}: not in {BundleLayout.ProvenanceFileName}: the bundle holds a file nobody pinned",
        _ => $"{Path.Combine(directory, Name)}: ok",
    };
}

/// <summary>A bundle checked against its <c>provenance.json</c> and lock.</summary>
public sealed record BundleVerification(string Directory, string ProvenanceSha256, LockFile? Lock, IReadOnlyList<FileCheck> Files)
{
    public bool Ok => Files.All(f => f.State == DigestState.Verified);

    public FileCheck? FirstProblem => Files.FirstOrDefault(f => f.State != DigestState.Verified);

    /// <summary>What an analysis report's <c>provenance</c> records of the bundle it ran from: its folder and its provenance's digest.</summary>
    public JsonObject ToReportProvenance() => new() { ["bundle"] = Directory, ["bundle_provenance_sha256"] = ProvenanceSha256 };
}

/// <summary>
/// Re-checks every file of a bundle against the subjects of its provenance and its lock: what <c>lamina verify</c>
/// reports, and what an analysis of a bundle does before anything runs.
/// </summary>
public static class BundleVerifier
{
    /// <summary>Every file checked, in name order, each with its verdict; nothing thrown for altered or missing files.</summary>
    /// <exception cref="BundleException">The folder is not a bundle (no readable <c>provenance.json</c>).</exception>
    public static BundleVerification Inspect(string directory)
    {
        var root = Path.GetFullPath(directory);
        var provenancePath = Path.Combine(root, BundleLayout.ProvenanceFileName);
        if (!File.Exists(provenancePath))
        {
            throw new BundleException(Directory.Exists(root) ? $"{root} is not a bundle: it has no {BundleLayout.ProvenanceFileName}" : $"no bundle folder {root}")
            {
                At = root,
                Kind = Directory.Exists(root) ? LaminaErrorKind.Integrity : LaminaErrorKind.NotFound,
            };
        }
        JsonNode statement;
        try
        {
            statement = JsonNode.Parse(File.ReadAllBytes(provenancePath)) ?? throw new BundleException($"{provenancePath}: empty");
        }
        catch (System.Text.Json.JsonException e)
        {
            throw new BundleException($"{provenancePath}: not JSON: {e.Message}", e);
        }
        var pinned = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var subject in BundleLayout.Subjects(statement, provenancePath)) pinned[subject.Name] = subject.Sha256;

        var actual = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var path in System.IO.Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories))
        {
            var name = Path.GetRelativePath(root, path).Replace('\\', '/');
            if (name != BundleLayout.ProvenanceFileName) actual[name] = Sha256Digest.OfFile(path).Digest.Hex;
        }

        var checks = new SortedDictionary<string, FileCheck>(StringComparer.Ordinal);
        foreach (var (name, sha) in pinned) checks[name] = Check(name, sha, actual);
        foreach (var name in actual.Keys.Where(n => !pinned.ContainsKey(n))) checks[name] = new FileCheck(name, null, actual[name], DigestState.Extra);

        // The lock pins the same files from the other side: a provenance rewritten to match altered files still disagrees with it.
        LockFile? lockFile = null;
        if (checks.TryGetValue(LockFile.FileName, out var lockCheck) && lockCheck.State == DigestState.Verified)
        {
            lockFile = LockFile.Read(Path.Combine(root, LockFile.FileName));
            var fromLock = lockFile.Models.SelectMany(m => m.Files.Select(f => (BundleLayout.ModelFile(m.Name, f.Name), f.Sha256)))
                .Concat(lockFile.Plugins.Select(p => (BundleLayout.PluginFile(p.Name), p.Sha256)))
                .Append((BundleLayout.AnalysisFileName, lockFile.ResolvedSha256));
            foreach (var (name, sha) in fromLock)
            {
                var check = Check(name, sha, actual);
                if (!checks.TryGetValue(name, out var existing) || existing.State == DigestState.Verified && check.State != DigestState.Verified)
                {
                    checks[name] = check;
                }
            }
        }
        else if (!checks.ContainsKey(LockFile.FileName))
        {
            checks[LockFile.FileName] = new FileCheck(LockFile.FileName, null, null, DigestState.Missing);
        }
        return new BundleVerification(root, Sha256Digest.OfFile(provenancePath).Digest.Hex, lockFile, [.. checks.Values]);
    }

    /// <summary>Checks a bundle and throws on the first problem.</summary>
    /// <exception cref="BundleException">Not a bundle, or the first file altered, missing or extra, named.</exception>
    public static BundleVerification Verify(string directory)
    {
        var verification = Inspect(directory);
        return verification.FirstProblem is { } problem ? throw new BundleException(problem.Describe(verification.Directory)) : verification;
    }

    /// <summary>
    /// For an analysis file inside a bundle (<c>provenance.json</c> beside it): the bundle, verified whole before
    /// anything runs; null for any other file.
    /// </summary>
    /// <exception cref="BundleException">The bundle does not verify: the first file altered, missing or extra, named.</exception>
    public static BundleVerification? VerifyBundleOf(string analysisFile)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(analysisFile))!;
        return BundleLayout.IsBundle(directory) ? Verify(directory) : null;
    }

    private static FileCheck Check(string name, string sha, Dictionary<string, string> actual) =>
        !actual.TryGetValue(name, out var found) ? new FileCheck(name, sha, null, DigestState.Missing)
        : found == sha ? new FileCheck(name, sha, found, DigestState.Verified)
        : new FileCheck(name, sha, found, DigestState.Altered);
}
