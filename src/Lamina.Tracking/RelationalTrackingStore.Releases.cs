using System.Data.Common;
using System.Text.Json;

namespace Lamina.Tracking;

/// <summary>Customer releases, and their copy between stores.</summary>
public abstract partial class RelationalTrackingStore : IReleaseStore
{
    private const string ReleaseColumns = """
        id, customer, version, image, image_digest, bundle_digest, base_image, base_digest, customer_commit, customer_remote,
        models, signing_key_id, signature_digest, attestation_digest, audit_anchor, created_at, created_by
        """;

    private static readonly JsonSerializerOptions ModelsJson = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    /// <inheritdoc />
    public Task<(ReleaseRecord Release, bool AlreadyRecorded)> RecordReleaseAsync(NewRelease release, CancellationToken cancellationToken)
    {
        ReleaseRecord.Validate(release);
        return AuditedAsync(async (c, tx, ct) =>
        {
            var existing = await ReadReleasesAsync(c, tx, $"SELECT {ReleaseColumns} FROM releases WHERE customer = @customer AND version = @version;", ct,
                ("customer", release.Customer), ("version", release.Version)).ConfigureAwait(false);
            if (existing.Count == 1)
            {
                return existing[0].ImageDigest == release.ImageDigest
                    ? (existing[0], true)
                    : throw new ReleaseConflictException(existing[0], release.ImageDigest);
            }

            var record = new ReleaseRecord(Guid.NewGuid(), release.Customer, release.Version, release.Image, release.ImageDigest,
                release.BundleDigest, release.BaseImage, release.BaseDigest, release.CustomerCommit,
                release.CustomerRemote is { } remote ? Secrets.RedactUris(remote) : null, [.. release.Models], release.SigningKeyId,
                release.SignatureDigest, release.AttestationDigest, release.AuditAnchor, _time.GetUtcNow(), release.CreatedBy);
            await InsertReleaseAsync(c, tx, record, ct).ConfigureAwait(false);
            await AppendAuditAsync(c, tx, record.CreatedBy, AuditLog.ReleaseBuilt, $"release/{record.Customer}/{record.Version}", null,
                JsonSerializer.Serialize(new Dictionary<string, object?>
                {
                    ["id"] = IdText(record.Id),
                    ["image"] = record.Image,
                    ["image_digest"] = record.ImageDigest,
                    ["bundle_digest"] = record.BundleDigest,
                    ["base_image"] = record.BaseImage,
                    ["base_digest"] = record.BaseDigest,
                    ["customer_commit"] = record.CustomerCommit,
                    ["models"] = record.Models.Select(m => $"{m.Run:D}/{m.Model}").ToArray(),
                    ["signing_key_id"] = record.SigningKeyId,
                }), null, ct).ConfigureAwait(false);
            return (record, false);
        }, cancellationToken);
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<ReleaseRecord>> ListReleasesAsync(string? customer, CancellationToken cancellationToken) =>
        ExecuteAsync<IReadOnlyList<ReleaseRecord>>(write: false, async (c, tx, ct) => await ReadReleasesAsync(c, tx,
            $"SELECT {ReleaseColumns} FROM releases WHERE @customer IS NULL OR customer = @customer ORDER BY created_at, customer, version;", ct,
            ("customer", customer)).ConfigureAwait(false), cancellationToken);

    /// <inheritdoc />
    public Task<IReadOnlyList<ReleaseRecord>> FindReleasesByImageDigestAsync(string imageDigest, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(imageDigest);
        return ExecuteAsync<IReadOnlyList<ReleaseRecord>>(write: false, async (c, tx, ct) => await ReadReleasesAsync(c, tx,
            $"SELECT {ReleaseColumns} FROM releases WHERE image_digest = @digest ORDER BY created_at, customer, version;", ct,
            ("digest", imageDigest)).ConfigureAwait(false), cancellationToken);
    }

    /// <inheritdoc />
    public Task<int> ImportReleasesAsync(IReadOnlyList<ReleaseRecord> releases, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(releases);
        return AuditedAsync(async (c, tx, ct) =>
        {
            var added = 0;
            foreach (var release in releases)
            {
                var held = await ReadReleasesAsync(c, tx, $"SELECT {ReleaseColumns} FROM releases WHERE customer = @customer AND version = @version;", ct,
                    ("customer", release.Customer), ("version", release.Version)).ConfigureAwait(false);
                if (held.Count == 1)
                {
                    if (!held[0].SameAs(release))
                    {
                        throw new TrackingException($"{StoreName} holds another release of {release.Customer} {release.Version} " +
                            $"({held[0].ImageDigest}, id {held[0].Id:D}) than the one copied ({release.ImageDigest}, id {release.Id:D}): a release is never overwritten")
                        { At = $"{release.Customer}:{release.Version}", Kind = Lamina.Core.LaminaErrorKind.Conflict };
                    }
                    continue;
                }
                await InsertReleaseAsync(c, tx, release, ct).ConfigureAwait(false);
                added++;
            }
            return added;
        }, cancellationToken);
    }

    private static Task<int> InsertReleaseAsync(DbConnection c, DbTransaction? tx, ReleaseRecord r, CancellationToken ct) =>
        NonQueryAsync(c, tx, $"""
            INSERT INTO releases ({ReleaseColumns})
            VALUES (@id, @customer, @version, @image, @image_digest, @bundle_digest, @base_image, @base_digest, @commit, @remote,
                    @models, @key, @signature, @attestation, @anchor, @created_at, @created_by);
            """, ct,
            ("id", IdText(r.Id)), ("customer", r.Customer), ("version", r.Version), ("image", r.Image), ("image_digest", r.ImageDigest),
            ("bundle_digest", r.BundleDigest), ("base_image", r.BaseImage), ("base_digest", r.BaseDigest), ("commit", r.CustomerCommit),
            ("remote", r.CustomerRemote), ("models", JsonSerializer.Serialize(r.Models, ModelsJson)), ("key", r.SigningKeyId),
            ("signature", r.SignatureDigest), ("attestation", r.AttestationDigest), ("anchor", r.AuditAnchor),
            ("created_at", Format(r.CreatedAt)), ("created_by", r.CreatedBy));

    private static async Task<List<ReleaseRecord>> ReadReleasesAsync(DbConnection c, DbTransaction? tx, string sql, CancellationToken ct,
        params (string Name, object? Value)[] parameters)
    {
        var releases = new List<ReleaseRecord>();
        await using var command = Command(c, tx, sql, parameters);
        await using var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false);
        while (await reader.ReadAsync(ct).ConfigureAwait(false))
        {
            releases.Add(new ReleaseRecord(Guid.ParseExact(reader.GetString(0), "D"), reader.GetString(1), reader.GetString(2), reader.GetString(3),
                reader.GetString(4), reader.GetString(5), reader.GetString(6), reader.GetString(7), NullableString(reader, 8), NullableString(reader, 9),
                JsonSerializer.Deserialize<List<ReleasedModel>>(reader.GetString(10), ModelsJson) ?? [], NullableString(reader, 11),
                NullableString(reader, 12), NullableString(reader, 13), NullableString(reader, 14), ParseTime(reader.GetString(15)), reader.GetString(16)));
        }
        return releases;
    }
}
