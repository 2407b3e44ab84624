using System.Text.Json.Nodes;

namespace Lamina.Ship;

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
        DigestState.Extra => $"{Path.Combine(directory, Name)}: not in provenance.json: the bundle holds a file nobody pinned",
        _ => $"{Path.Combine(directory, Name)}: ok",
    };
}

/// <summary>A bundle checked against its <c>provenance.json</c> and lock.</summary>
public sealed record BundleVerification(string Directory, string ProvenanceSha256, LockFile? Lock, IReadOnlyList<FileCheck> Files)
{
    public bool Ok => Files.All(f => f.State == DigestState.Verified);

    public FileCheck? FirstProblem => Files.FirstOrDefault(f => f.State != DigestState.Verified);
}

/// <summary><c>lamina verify</c>: re-checks every file of a bundle against the subjects of its provenance and its lock.</summary>
public static class BundleVerifier
{
    /// <summary>Every file checked, in name order, each with its verdict; nothing thrown for altered or missing files.</summary>
    /// <exception cref="ShipException">The folder is not a bundle (no readable <c>provenance.json</c>).</exception>
    public static BundleVerification Inspect(string directory)
    {
        var root = Path.GetFullPath(directory);
        var provenancePath = Path.Combine(root, BundleProvenance.FileName);
        if (!File.Exists(provenancePath)) throw new ShipException($"{root} is not a bundle: it has no {BundleProvenance.FileName}");
        JsonNode statement;
        try
        {
            statement = JsonNode.Parse(File.ReadAllBytes(provenancePath)) ?? throw new ShipException($"{provenancePath}: empty");
        }
        catch (System.Text.Json.JsonException e)
        {
            throw new ShipException($"{provenancePath}: not JSON: {e.Message}", e);
        }
        var pinned = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var subject in BundleProvenance.Subjects(statement, provenancePath)) pinned[subject.Name] = subject.Sha256;

        var actual = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var path in Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories))
        {
            var name = Path.GetRelativePath(root, path).Replace('\\', '/');
            if (name != BundleProvenance.FileName) actual[name] = ProductionStore.Digest(path).Sha256;
        }

        var checks = new SortedDictionary<string, FileCheck>(StringComparer.Ordinal);
        foreach (var (name, sha) in pinned) checks[name] = Check(name, sha, actual);
        foreach (var name in actual.Keys.Where(n => !pinned.ContainsKey(n))) checks[name] = new FileCheck(name, null, actual[name], DigestState.Extra);

        // The lock pins the same files from the other side: a provenance rewritten to match altered files still disagrees with it.
        LockFile? lockFile = null;
        if (checks.TryGetValue(LockFile.FileName, out var lockCheck) && lockCheck.State == DigestState.Verified)
        {
            lockFile = LockFile.Read(Path.Combine(root, LockFile.FileName));
            var fromLock = lockFile.Models.SelectMany(m => m.Files.Select(f => ($"models/{m.Name}/{f.Name}", f.Sha256)))
                .Concat(lockFile.Plugins.Select(p => ($"plugins/{p.Name}", p.Sha256)))
                .Append((BundleBuilder.AnalysisFileName, lockFile.ResolvedSha256));
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
        return new BundleVerification(root, ProductionStore.Digest(provenancePath).Sha256, lockFile, [.. checks.Values]);
    }

    /// <summary>Checks a bundle and throws on the first problem.</summary>
    /// <exception cref="ShipException">The first file altered, missing or extra, named.</exception>
    public static BundleVerification Verify(string directory)
    {
        var verification = Inspect(directory);
        return verification.FirstProblem is { } problem ? throw new ShipException(problem.Describe(verification.Directory)) : verification;
    }

    private static FileCheck Check(string name, string sha, Dictionary<string, string> actual) =>
        !actual.TryGetValue(name, out var found) ? new FileCheck(name, sha, null, DigestState.Missing)
        : found == sha ? new FileCheck(name, sha, found, DigestState.Verified)
        : new FileCheck(name, sha, found, DigestState.Altered);
}
