using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Lamina.Core.Provenance;

namespace Lamina.Tracking;

/// <summary>The audit log's actions, its canonical hashing, and the check of its chain.</summary>
public static partial class AuditLog
{
    public const string RunCreated = "run.created";
    public const string RunStarted = "run.started";
    public const string RunFinished = "run.finished";
    public const string RunFailed = "run.failed";
    public const string RunAborted = "run.aborted";
    public const string RunDeleted = "run.deleted";

    /// <summary>A failed or aborted run, or one whose executor was lost, queued again for another attempt.</summary>
    public const string RunRequeued = "run.requeued";

    /// <summary>A running run asked to abort: its executor stops it and records it aborted.</summary>
    public const string RunAbortRequested = "run.abort_requested";
    public const string ModelPublished = "model.published";
    public const string BundleBuilt = "bundle.built";

    /// <summary>A customer release was built and recorded (issue 16).</summary>
    public const string ReleaseBuilt = "release.built";

    /// <summary>A web UI token was made (issue 17): its object is the token's id, its new value owner, role and expiry (never the secret).</summary>
    public const string TokenCreated = "token.created";

    /// <summary>A web UI token was revoked: from then on it opens nothing.</summary>
    public const string TokenRevoked = "token.revoked";

    /// <summary>An entry of another store's chain, brought in by a copy: its new value holds the original, hash and all.</summary>
    public const string AuditImported = "audit.imported";

    /// <summary>A copy from another store ended: its object is the source, its new value the source chain's head.</summary>
    public const string StoreCopied = "store.copied";

    /// <summary>The <see cref="AuditEntry.PreviousHash"/> of the first entry.</summary>
    public static readonly string Genesis = new('0', 64);

    /// <summary>Who this process acts as: <c>user@host</c>.</summary>
    public static string CurrentActor => $"{Environment.UserName}@{Environment.MachineName}";

    /// <summary>
    /// SHA-256 (lowercase hex) over the canonical form of an entry: for each of seq (decimal), time, who, action, object,
    /// old value, new value, reason and previous hash in that order, <c>-\n</c> when null, else the UTF-8 byte count,
    /// <c>:</c>, the UTF-8 bytes and <c>\n</c>. Length prefixes make the form unambiguous whatever the fields hold.
    /// </summary>
    public static string ComputeHash(long seq, string time, string who, string action, string objectId, string? oldValue, string? newValue,
        string? reason, string previousHash)
    {
        var canonical = new StringBuilder();
        foreach (var field in (string?[])[seq.ToString(System.Globalization.CultureInfo.InvariantCulture), time, who, action, objectId,
                     oldValue, newValue, reason, previousHash])
        {
            if (field is null)
            {
                canonical.Append("-\n");
            }
            else
            {
                canonical.Append(Encoding.UTF8.GetByteCount(field)).Append(':').Append(field).Append('\n');
            }
        }
        return Sha256Digest.OfText(canonical.ToString()).Hex;
    }

    /// <summary>The hash an entry should have, from its other fields.</summary>
    public static string ComputeHash(AuditEntry e) =>
        ComputeHash(e.Seq, e.Time, e.Who, e.Action, e.ObjectId, e.OldValue, e.NewValue, e.Reason, e.PreviousHash);

    /// <summary>Recomputes the chain of entries given in stored order; reports the first entry that does not fit.</summary>
    public static AuditVerification Verify(IEnumerable<AuditEntry> entries)
    {
        ArgumentNullException.ThrowIfNull(entries);
        var previous = Genesis;
        var expectedSeq = 1L;
        var count = 0L;
        foreach (var entry in entries)
        {
            count++;
            if (entry.Seq != expectedSeq)
            {
                var missing = entry.Seq == expectedSeq + 1 ? $"entry {expectedSeq} is missing" : $"entries {expectedSeq}..{entry.Seq - 1} are missing";
                return new(count, previous, new AuditBreak(entry.Seq, entry.Seq > expectedSeq
                    ? $"{missing} (the sequence jumps from {expectedSeq - 1} to {entry.Seq}): entries were deleted"
                    : $"sequence number {entry.Seq} is out of order (expected {expectedSeq})"));
            }
            if (entry.PreviousHash != previous)
            {
                return new(count, previous, new AuditBreak(entry.Seq,
                    $"previous hash {entry.PreviousHash} is not the hash of entry {entry.Seq - 1} ({previous})"));
            }
            var recomputed = ComputeHash(entry);
            if (recomputed != entry.Hash)
            {
                return new(count, previous, new AuditBreak(entry.Seq,
                    $"stored hash {entry.Hash} differs from the hash of its fields {recomputed}: a field of entry {entry.Seq} ({entry.Action} {entry.ObjectId}) was changed"));
            }
            previous = entry.Hash;
            expectedSeq++;
        }
        return new(count, previous, null);
    }

    /// <summary>
    /// Checks entries (in stored order) against anchors written down outside the store: each anchored entry must still be
    /// there with the same hash. The chain alone cannot show a history rewritten from some entry on, hashes recomputed;
    /// an anchor taken before can. Returns the first anchor that does not hold, or null.
    /// </summary>
    public static AuditBreak? CheckAnchors(IReadOnlyList<AuditEntry> entries, IEnumerable<AuditAnchor> anchors)
    {
        ArgumentNullException.ThrowIfNull(entries);
        ArgumentNullException.ThrowIfNull(anchors);
        foreach (var anchor in anchors.OrderBy(a => a.Seq))
        {
            var entry = entries.FirstOrDefault(e => e.Seq == anchor.Seq);
            if (entry is null)
            {
                return new AuditBreak(anchor.Seq, $"anchor {anchor}: there is no entry {anchor.Seq} any more (the log has {entries.Count}): it was cut short");
            }
            if (entry.Hash != anchor.Hash)
            {
                return new AuditBreak(anchor.Seq,
                    $"anchor {anchor}: entry {anchor.Seq} now has hash {entry.Hash}: the history up to it was rewritten");
            }
        }
        return null;
    }

    /// <summary>
    /// Decides how a source's audit entries (its whole chain, in order) come into a target's: verbatim when the target's
    /// is empty or a prefix of the source's (the copy then equals the source); otherwise appended, leaving out the source
    /// entries the target already holds, verbatim or as <see cref="AuditImported"/> entries (a second copy brings nothing twice).
    /// </summary>
    public static AuditImportPlan PlanImport(IReadOnlyList<AuditEntry> target, IReadOnlyList<AuditEntry> source)
    {
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(source);
        if (target.Count <= source.Count && target.Select((e, i) => e == source[i]).All(same => same))
        {
            return new AuditImportPlan(AuditImportMode.Verbatim, [.. source.Skip(target.Count)], target.Count);
        }
        var held = target.Select(e => e.Hash)
            .Concat(target.Where(e => e.Action == AuditImported).Select(ReadImported).OfType<AuditEntry>().Select(e => e.Hash))
            .ToHashSet(StringComparer.Ordinal);
        var missing = source.Where(e => !held.Contains(e.Hash)).ToList();
        return new AuditImportPlan(AuditImportMode.Appended, missing, source.Count - missing.Count);
    }

    /// <summary>The new value of an <see cref="AuditImported"/> entry: every field of the original, so its hash can be recomputed.</summary>
    public static string ImportedValue(AuditEntry original)
    {
        ArgumentNullException.ThrowIfNull(original);
        return JsonSerializer.Serialize(original, Core.LaminaJson.Options);
    }

    /// <summary>The original entry an <see cref="AuditImported"/> entry holds; null for any other entry or a value that is not one.</summary>
    public static AuditEntry? ReadImported(AuditEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        if (entry.Action != AuditImported || entry.NewValue is null) return null;
        try
        {
            return JsonSerializer.Deserialize<AuditEntry>(entry.NewValue, Core.LaminaJson.Options);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>The new value of a <see cref="StoreCopied"/> entry: the source, how many entries came, and the source chain's head.</summary>
    public static string StoreCopiedValue(string source, int imported, AuditEntry? sourceHead) =>
        JsonSerializer.Serialize(new Dictionary<string, object?>
        {
            ["source"] = source,
            ["imported"] = imported,
            ["source_head_seq"] = sourceHead?.Seq,
            ["source_head_hash"] = sourceHead?.Hash,
        });

    /// <summary>Checks an action name (<c>noun.verb</c>) and that old and new values are JSON text.</summary>
    internal static void Validate(string action, string objectId, string? oldValue, string? newValue)
    {
        if (!ActionPattern().IsMatch(action))
        {
            throw new ArgumentException($"'{action}' is not an audit action: use lowercase 'noun.verb', e.g. '{BundleBuilt}'", nameof(action));
        }
        ArgumentException.ThrowIfNullOrWhiteSpace(objectId);
        foreach (var (value, name) in new[] { (oldValue, nameof(oldValue)), (newValue, nameof(newValue)) })
        {
            if (value is null) continue;
            try
            {
                using var _ = JsonDocument.Parse(value);
            }
            catch (JsonException e)
            {
                throw new ArgumentException($"the audit entry's {name} must be JSON text or null: {e.Message}", name, e);
            }
        }
    }

    [GeneratedRegex("^[a-z][a-z_]*(\\.[a-z][a-z_]*)+$")]
    private static partial Regex ActionPattern();
}
