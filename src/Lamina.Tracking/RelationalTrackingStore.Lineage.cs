namespace Lamina.Tracking;

/// <summary>
/// The web UI's lineage reads (<see cref="IRunBrowser"/>): the runs that used what a run made, and the audit entries of
/// one action (bundles built), each one query over indexed columns.
/// </summary>
public abstract partial class RelationalTrackingStore
{
    /// <summary>A condition that holds when the text <paramref name="column"/> contains the text parameter <paramref name="parameter"/>.</summary>
    private protected virtual string ContainsCondition(string column, string parameter) => $"instr({column}, {parameter}) > 0";

    /// <inheritdoc />
    public Task<IReadOnlyList<DownstreamRun>> ListRunsUsingOutputsOfAsync(Guid runId, CancellationToken cancellationToken) =>
        ExecuteAsync<IReadOnlyList<DownstreamRun>>(write: false, async (c, tx, ct) =>
        {
            var runs = new List<DownstreamRun>();
            await using var command = Command(c, tx, """
                SELECT r.id AS run_id, p.name, r.task_name, r.task_type, r.status, 'model' AS kind, u.model_name AS input, u.model_name, u.role,
                       r.created_at AS created
                FROM run_models u JOIN runs r ON r.id = u.run_id JOIN projects p ON p.id = r.project_id
                WHERE u.model_run_id = @run AND u.run_id <> @run
                UNION ALL
                SELECT r.id, p.name, r.task_name, r.task_type, r.status, 'dataset', d.id, d.name, u.role, r.created_at
                FROM datasets d JOIN run_datasets u ON u.dataset_id = d.id JOIN runs r ON r.id = u.run_id JOIN projects p ON p.id = r.project_id
                WHERE d.run_id = @run AND u.run_id <> @run
                ORDER BY created, run_id, kind, input, role;
                """, ("run", IdText(runId)));
            await using var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false);
            while (await reader.ReadAsync(ct).ConfigureAwait(false))
            {
                runs.Add(new DownstreamRun(Guid.ParseExact(reader.GetString(0), "D"), reader.GetString(1), reader.GetString(2), reader.GetString(3),
                    RunStatusNames.Parse(reader.GetString(4)), reader.GetString(5) == "model" ? LineageInput.Model : LineageInput.Dataset,
                    reader.GetString(6), reader.GetString(7), reader.GetString(8)));
            }
            return runs;
        }, cancellationToken);

    /// <inheritdoc />
    public Task<IReadOnlyList<AuditEntry>> ListAuditByActionAsync(string action, string? newValueContains, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(action);
        var (condition, parameters) = string.IsNullOrEmpty(newValueContains)
            ? ("action = @action", new (string, object?)[] { ("action", action) })
            : ($"action = @action AND {ContainsCondition("new_value", "@text")}", [("action", action), ("text", newValueContains)]);
        return ExecuteAsync<IReadOnlyList<AuditEntry>>(write: false, async (c, tx, ct) =>
            await ReadAuditEntriesAsync(c, tx, condition, ct, parameters).ConfigureAwait(false), cancellationToken);
    }
}
