using System.Data.Common;
using Lamina.Core;
using Lamina.Core.Provenance;

namespace Lamina.Tracking;

/// <summary>Data sets, the inputs of runs, and the slide digest cache.</summary>
public abstract partial class RelationalTrackingStore
{
    private const string DatasetColumns = "id, name, created_at, run_id, slide_count, tile_count, summary";

    /// <inheritdoc />
    public Task<DatasetRecord> RegisterDatasetAsync(DatasetRecord dataset, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        if (!Sha256Digest.IsValid(dataset.Id))
        {
            throw new ArgumentException($"a data set id is a SHA-256 digest, not '{dataset.Id}'", nameof(dataset));
        }
        return ExecuteAsync(write: true, async (c, tx, ct) =>
        {
            await NonQueryAsync(c, tx, $"""
                INSERT INTO datasets ({DatasetColumns}) VALUES (@id, @name, @created, @run, @slides, @tiles, @summary)
                ON CONFLICT (id) DO NOTHING;
                """, ct,
                ("id", dataset.Id), ("name", dataset.Name), ("created", Format(dataset.CreatedAt)),
                ("run", dataset.RunId is { } run ? IdText(run) : null), ("slides", dataset.SlideCount),
                ("tiles", dataset.TileCount), ("summary", dataset.SummaryJson)).ConfigureAwait(false);
            return (await ReadDatasetsAsync(c, tx, $"SELECT {DatasetColumns} FROM datasets WHERE id = @id;", ct, ("id", dataset.Id))
                .ConfigureAwait(false)).Single();
        }, cancellationToken);
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<DatasetRecord>> ListDatasetsAsync(CancellationToken cancellationToken) =>
        ExecuteAsync<IReadOnlyList<DatasetRecord>>(write: false, async (c, tx, ct) =>
            await ReadDatasetsAsync(c, tx, $"SELECT {DatasetColumns} FROM datasets ORDER BY created_at DESC, id;", ct).ConfigureAwait(false),
            cancellationToken);

    /// <inheritdoc />
    public Task<DatasetRecord> ResolveDatasetAsync(string idOrPrefix, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(idOrPrefix);
        var prefix = idOrPrefix.Trim().ToLowerInvariant();
        if (prefix.Length < MinimumPrefixDigits || !prefix.All(Uri.IsHexDigit))
        {
            throw new TrackingException($"'{idOrPrefix}' is not a data set id: give at least {MinimumPrefixDigits} hex digits") { At = idOrPrefix, Kind = LaminaErrorKind.Usage };
        }
        return ExecuteAsync(write: false, async (c, tx, ct) =>
        {
            var matches = await ReadDatasetsAsync(c, tx,
                $"SELECT {DatasetColumns} FROM datasets WHERE substr(id, 1, length(@prefix)) = @prefix ORDER BY id LIMIT 6;", ct,
                ("prefix", prefix)).ConfigureAwait(false);
            return matches.Count switch
            {
                1 => matches[0],
                0 => throw new TrackingException($"no data set matches '{idOrPrefix}'") { At = idOrPrefix, Kind = LaminaErrorKind.NotFound },
                _ => throw new TrackingException(
                    $"'{idOrPrefix}' is ambiguous: it matches several data sets ({string.Join(", ", matches.Take(5).Select(m => m.Id[..16]))})") { At = idOrPrefix, Kind = LaminaErrorKind.Usage },
            };
        }, cancellationToken);
    }

    /// <inheritdoc />
    public Task RecordRunInputsAsync(Guid runId, IReadOnlyList<RunDataset> datasets, IReadOnlyList<SlideInput> slides, CancellationToken cancellationToken) =>
        ExecuteAsync(write: true, async (c, tx, ct) =>
        {
            await ReadMutableStatusAsync(c, tx, runId, "changed", ct).ConfigureAwait(false);
            foreach (var dataset in datasets)
            {
                await NonQueryAsync(c, tx, """
                    INSERT INTO run_datasets (run_id, dataset_id, role) VALUES (@run, @dataset, @role) ON CONFLICT DO NOTHING;
                    """, ct, ("run", IdText(runId)), ("dataset", dataset.DatasetId), ("role", dataset.Role)).ConfigureAwait(false);
            }
            foreach (var slide in slides)
            {
                await NonQueryAsync(c, tx, """
                    INSERT INTO run_slides (run_id, path, sha256, size) VALUES (@run, @path, @sha, @size)
                    ON CONFLICT (run_id, path) DO UPDATE SET sha256 = excluded.sha256, size = excluded.size;
                    """, ct, ("run", IdText(runId)), ("path", slide.Path), ("sha", slide.Sha256), ("size", slide.Size)).ConfigureAwait(false);
            }
            return true;
        }, cancellationToken);

    /// <inheritdoc />
    public Task<RunInputs> GetRunInputsAsync(Guid runId, CancellationToken cancellationToken) =>
        ExecuteAsync(write: false, async (c, tx, ct) =>
        {
            await ReadStatusAsync(c, tx, runId, ct).ConfigureAwait(false);
            var datasets = new List<RunDataset>();
            await using (var command = Command(c, tx, "SELECT dataset_id, role FROM run_datasets WHERE run_id = @id ORDER BY role, dataset_id;", ("id", IdText(runId))))
            await using (var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false))
            {
                while (await reader.ReadAsync(ct).ConfigureAwait(false))
                {
                    datasets.Add(new RunDataset(reader.GetString(0), reader.GetString(1)));
                }
            }
            var slides = new List<SlideInput>();
            await using (var command = Command(c, tx, "SELECT path, sha256, size FROM run_slides WHERE run_id = @id ORDER BY path;", ("id", IdText(runId))))
            await using (var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false))
            {
                while (await reader.ReadAsync(ct).ConfigureAwait(false))
                {
                    slides.Add(new SlideInput(reader.GetString(0), reader.GetString(1), reader.GetInt64(2)));
                }
            }
            var models = new List<RunModel>();
            await using (var command = Command(c, tx, "SELECT model_run_id, model_name, card_digest, role FROM run_models WHERE run_id = @id ORDER BY model_run_id, model_name;", ("id", IdText(runId))))
            await using (var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false))
            {
                while (await reader.ReadAsync(ct).ConfigureAwait(false))
                {
                    models.Add(new RunModel(Guid.ParseExact(reader.GetString(0), "D"), reader.GetString(1), reader.GetString(2), reader.GetString(3)));
                }
            }
            return new RunInputs(datasets, slides) { Models = models };
        }, cancellationToken);

    /// <inheritdoc />
    public Task RecordRunModelAsync(Guid runId, RunModel model, CancellationToken cancellationToken) =>
        ExecuteAsync(write: true, async (c, tx, ct) =>
        {
            await ReadMutableStatusAsync(c, tx, runId, "changed", ct).ConfigureAwait(false);
            await NonQueryAsync(c, tx, """
                INSERT INTO run_models (run_id, model_run_id, model_name, card_digest, role) VALUES (@run, @model_run, @name, @card, @role)
                ON CONFLICT DO NOTHING;
                """, ct, ("run", IdText(runId)), ("model_run", IdText(model.ModelRunId)), ("name", model.ModelName),
                ("card", model.CardDigest), ("role", model.Role)).ConfigureAwait(false);
            return true;
        }, cancellationToken);

    /// <inheritdoc />
    public Task<string?> FindSlideDigestAsync(string path, long size, DateTimeOffset modified, CancellationToken cancellationToken) =>
        ExecuteAsync(write: false, async (c, tx, ct) =>
            await ScalarAsync(c, tx, "SELECT sha256 FROM slide_digests WHERE path = @path AND size = @size AND modified = @modified;", ct,
                ("path", path), ("size", size), ("modified", Format(modified))).ConfigureAwait(false) as string,
            cancellationToken);

    /// <inheritdoc />
    public Task RememberSlideDigestAsync(string path, long size, DateTimeOffset modified, string sha256, CancellationToken cancellationToken) =>
        ExecuteAsync(write: true, async (c, tx, ct) =>
            await NonQueryAsync(c, tx, """
                INSERT INTO slide_digests (path, size, modified, sha256, hashed_at) VALUES (@path, @size, @modified, @sha, @now)
                ON CONFLICT (path) DO UPDATE SET size = excluded.size, modified = excluded.modified, sha256 = excluded.sha256, hashed_at = excluded.hashed_at;
                """, ct,
                ("path", path), ("size", size), ("modified", Format(modified)), ("sha", sha256), ("now", Format(_time.GetUtcNow())))
                .ConfigureAwait(false),
            cancellationToken);

    private protected static async Task<List<DatasetRecord>> ReadDatasetsAsync(DbConnection c, DbTransaction? tx, string sql, CancellationToken ct,
        params (string Name, object? Value)[] parameters)
    {
        var datasets = new List<DatasetRecord>();
        await using var command = Command(c, tx, sql, parameters);
        await using var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false);
        while (await reader.ReadAsync(ct).ConfigureAwait(false))
        {
            datasets.Add(new DatasetRecord(
                reader.GetString(0),
                reader.GetString(1),
                ParseTime(reader.GetString(2)),
                reader.IsDBNull(3) ? null : Guid.ParseExact(reader.GetString(3), "D"),
                checked((int)reader.GetInt64(4)),
                reader.GetInt64(5),
                reader.GetString(6)));
        }
        return datasets;
    }
}
