using Lamina.Core;

namespace Lamina.Tracking;

/// <summary>The base of every error the tracking store, the blob store and the capture of runs raise on purpose.</summary>
public class TrackingException : LaminaException
{
    private readonly bool _isTransient;

    public TrackingException(string message, Exception? inner = null, bool isTransient = false)
        : base(message, inner)
    {
        _isTransient = isTransient;
    }

    /// <inheritdoc />
    public override bool IsTransient => _isTransient;

    internal static TrackingException Busy(string databasePath, Exception inner) =>
        new($"the tracking database {databasePath} stayed busy (locked by another process); try again", inner, isTransient: true);

    internal static TrackingException SchemaTooNew(string databasePath, long version, int known) =>
        new($"the tracking database {databasePath} has schema version {version}, but this Lamina knows versions up to {known}; upgrade Lamina") { Kind = LaminaErrorKind.Conflict };

    internal static TrackingException PrefixTooShort(string prefix) =>
        new($"run id prefix '{prefix}' is too short: give at least 4 hex digits") { Kind = LaminaErrorKind.Usage };

    internal static TrackingException NotARunId(string text) =>
        new($"'{text}' is not a run id: use hex digits and '-' only") { Kind = LaminaErrorKind.Usage };

    internal static TrackingException GitFailed(string arguments, string directory, int exitCode, string stderr) =>
        new($"git {arguments} failed in {directory} (exit code {exitCode}): {stderr.Trim()}") { At = directory };

    internal static TrackingException ModelFileNotGiven(string model, string file) =>
        new($"model '{model}': the card names '{file}' but no such file was given") { At = $"{model}/{file}", Kind = LaminaErrorKind.NotFound };

    internal static TrackingException ModelFileDiffers(string model, string file, string digest, string expected) =>
        new($"model '{model}': '{file}' has digest {digest}, but the card says {expected}") { At = $"{model}/{file}", Kind = LaminaErrorKind.Integrity };

    internal static TrackingException BlobAltered(string digest, string actual, string what) =>
        new($"{what}: blob {digest} now has digest {actual}: the blob store was altered") { At = what, Kind = LaminaErrorKind.Integrity };

    internal static TrackingException DatabaseLost(string databasePath, bool exists, IReadOnlyList<string> storesWithContent) =>
        new($"the tracking database {databasePath} is {(exists ? "empty (zero bytes)" : "missing")}, but {string.Join(" and ", storesWithContent)} "
            + $"still {(storesWithContent.Count == 1 ? "holds" : "hold")} content it indexes: it was lost or damaged, and is not created afresh; restore tracking.db from a backup, "
            + $"or to start afresh point {LaminaHome.EnvironmentVariable} elsewhere (or move those stores away)") { At = databasePath, Kind = LaminaErrorKind.Integrity };

    internal static TrackingException Unreadable(string databasePath, string problem, Exception? inner = null) =>
        new($"the tracking database {databasePath} is not a readable SQLite database: {problem.TrimEnd('.')}; restore it from a backup", inner) { At = databasePath, Kind = LaminaErrorKind.Integrity };

    internal static TrackingException RunDiffers(Guid runId, string store, string how) =>
        new($"run {runId:D} is already in {store} with different content ({how}): it was changed in one of the stores after an earlier copy; nothing of it was copied")
        { At = runId.ToString("D"), Kind = LaminaErrorKind.Conflict };

    internal static TrackingException DatasetMissing(Guid runId, string datasetId) =>
        new($"run {runId:D} names data set {datasetId}, which the store does not hold: copy the data sets before the runs") { At = datasetId, Kind = LaminaErrorKind.Integrity };

    internal static TrackingException NotAPostgresUri(string redacted, string? problem = null) =>
        new($"'{redacted}' is not a PostgreSQL tracking store URI{(problem is null ? "" : $" ({problem})")}: write postgresql://USER[:PASSWORD]@HOST[:PORT]/DATABASE")
        { At = redacted, Kind = LaminaErrorKind.Usage };

    internal static TrackingException PostgresUnavailable(string store, Exception inner) =>
        new($"the tracking store {store} cannot be reached ({Reason(inner)}): check that the server is running and reachable at that host and port, then try again",
            inner, isTransient: true) { At = store };

    internal static TrackingException PostgresLostAtCommit(string store, Exception inner) =>
        new($"the connection to the tracking store {store} was lost while a change was being committed ({Reason(inner)}): it may or may not have been recorded; "
            + "check with 'lamina runs show' and try again", inner, isTransient: true) { At = store };

    internal static TrackingException PostgresAuthenticationFailed(string store, string? user, Exception inner) =>
        new($"the tracking store {store} refused user '{user ?? Environment.UserName}': wrong or missing password; "
            + "give it in the URI, in PGPASSWORD or in ~/.pgpass", inner) { At = store };

    internal static TrackingException PostgresDatabaseMissing(string store, string database, Exception inner) =>
        new($"the tracking store {store} does not exist (the server has no database '{database}'): create it (createdb {database}), then run 'lamina store migrate --tracking URI'",
            inner) { At = store, Kind = LaminaErrorKind.NotFound };

    internal static TrackingException PostgresSchemaTooOld(string store, long version, int known) =>
        new(version == 0
            ? $"the tracking store {store} has no Lamina schema yet (this Lamina needs schema {known}): run 'lamina store migrate --tracking URI' first"
            : $"the tracking store {store} has schema {version}, older than this Lamina's {known}: run 'lamina store migrate --tracking URI' first")
        { At = store, Kind = LaminaErrorKind.Conflict };

    internal static TrackingException PostgresSchemaTooNew(string store, long version, int known) =>
        new($"the tracking store {store} was written by a newer Lamina (schema {version}, this one knows {known}): upgrade Lamina")
        { At = store, Kind = LaminaErrorKind.Conflict };

    internal static TrackingException PostgresFailed(string store, Npgsql.PostgresException inner) =>
        new($"the tracking store {store} refused the change: {inner.MessageText} (SQLSTATE {inner.SqlState})", inner) { At = store };

    // The server's or the socket's own words, on one line; Npgsql never puts the password in them.
    private static string Reason(Exception e)
    {
        var innermost = e;
        while (innermost.InnerException is { } inner && innermost is not Npgsql.PostgresException) innermost = inner;
        var text = innermost is Npgsql.PostgresException p ? p.MessageText : innermost.Message;
        return text.ReplaceLineEndings(" ").Trim().TrimEnd('.');
    }

    internal static TrackingException BadQueueName(string name) =>
        new($"'{name}' is not a queue name: use 1 to 100 letters, digits, '.', '_' or '-'") { At = name, Kind = LaminaErrorKind.Usage };

    internal static TrackingException BadMaxAttempts(string queue, int maxAttempts, int limit) =>
        new($"queue '{queue}': {maxAttempts} is not a number of attempts: give 1 to {limit}") { At = queue, Kind = LaminaErrorKind.Usage };

    internal static TrackingException RunHasNoQueue(Guid runId) =>
        new($"run {runId:D} was executed where it was made and has no queue: name the queue to run it on") { At = runId.ToString("D"), Kind = LaminaErrorKind.Usage };

    internal static TrackingException WorkerIdTaken(string id, string host, long pid, DateTimeOffset lastHeartbeat) =>
        new($"worker id '{id}' is held by a live worker (host {host}, pid {pid}, last heartbeat {lastHeartbeat.ToUniversalTime():yyyy-MM-dd HH:mm:ss} UTC): "
            + "give this worker another id, or stop that one first") { At = id, Kind = LaminaErrorKind.Conflict };

    internal static TrackingException TokenNotFound(string id) =>
        new($"no web UI token has id '{id}' (lamina tokens list shows them)") { At = id, Kind = LaminaErrorKind.NotFound };

    internal static TrackingException GitMissing() => new("git is not installed (Debian package: git)");
}

/// <summary>A blob that the store does not hold was asked for.</summary>
public sealed class BlobNotFoundException : TrackingException
{
    public BlobNotFoundException(string digest, string blobsPath)
        : base($"blob {digest} not found in {blobsPath}")
    {
        Digest = digest;
        Kind = LaminaErrorKind.Integrity;
    }

    /// <summary>The SHA-256 (lowercase hex) that was asked for.</summary>
    public string Digest { get; }
}

/// <summary>No run has the given id, or no run id starts with the given prefix.</summary>
public sealed class RunNotFoundException : TrackingException
{
    public RunNotFoundException(string message) : base(message) => Kind = LaminaErrorKind.NotFound;

    internal static RunNotFoundException ForId(Guid id) => new($"no run {id:D}") { At = id.ToString("D") };

    internal static RunNotFoundException ForPrefix(string prefix) => new($"no run matches '{prefix}'") { At = prefix };
}

/// <summary>A run made no model, or none of the given name, or several where one was asked for without a name.</summary>
public sealed class ModelNotFoundException : TrackingException
{
    public ModelNotFoundException(string message) : base(message) => Kind = LaminaErrorKind.NotFound;

    internal static ModelNotFoundException NoModel(Guid run) => new($"run {run} produced no model") { At = run.ToString() };

    internal static ModelNotFoundException NoSuchModel(Guid run, string name, IEnumerable<string> models) =>
        new($"run {run} has no model '{name}' (it has: {string.Join(", ", models)})") { At = $"{run}/{name}" };

    internal static ModelNotFoundException SeveralModels(Guid run, IEnumerable<string> models, string reference) =>
        new($"run {run} produced several models ({string.Join(", ", models)}): name one as {reference}/NAME") { At = run.ToString(), Kind = LaminaErrorKind.Usage };
}

/// <summary>A run id prefix matches several runs.</summary>
public sealed class AmbiguousRunIdException : TrackingException
{
    public AmbiguousRunIdException(string prefix, IReadOnlyList<Guid> matches)
        : base($"'{prefix}' is ambiguous: it matches {matches.Count} runs ({string.Join(", ", matches.Take(5).Select(m => m.ToString("D")))}{(matches.Count > 5 ? ", …" : "")})")
    {
        Prefix = prefix;
        Matches = matches;
        Kind = LaminaErrorKind.Usage;
    }

    public string Prefix { get; }

    /// <summary>Every run id that starts with the prefix.</summary>
    public IReadOnlyList<Guid> Matches { get; }
}

/// <summary>A run cannot make the asked change of status (for instance finishing a run that has already ended).</summary>
public sealed class RunStateException : TrackingException
{
    public RunStateException(Guid runId, RunStatus current)
        : base($"run {runId:D} is already {RunStatusNames.ToText(current)}")
    {
        RunId = runId;
        Current = current;
        Kind = LaminaErrorKind.Conflict;
    }

    private RunStateException(Guid runId, RunStatus current, string message)
        : base(message)
    {
        RunId = runId;
        Current = current;
        Kind = LaminaErrorKind.Conflict;
    }

    public Guid RunId { get; }

    public RunStatus Current { get; }

    internal static RunStateException Ended(Guid runId, RunStatus current, string refused) =>
        new(runId, current, $"run {runId:D} is already {RunStatusNames.ToText(current)}: it cannot be {refused}");

    internal static RunStateException NotRequeueable(Guid runId, RunStatus current) => new(runId, current, current switch
    {
        RunStatus.Queued => $"run {runId:D} is queued already: it waits for a worker",
        RunStatus.Running => $"run {runId:D} is running: abort it, then queue it again",
        _ => $"run {runId:D} is {RunStatusNames.ToText(current)}: only a failed or aborted run can be queued again",
    });

    internal static RunStateException NotRunning(Guid runId, RunStatus current) => current == RunStatus.Queued
        ? new(runId, current, $"run {runId:D} is queued: it has not started, so it cannot end")
        : new(runId, current);
}

/// <summary>A run with a published model is immutable: it cannot be deleted, and nothing of it can be changed or added.</summary>
public sealed class RunPublishedException : TrackingException
{
    public RunPublishedException(Guid runId, DateTimeOffset publishedAt, string refused)
        : base($"run {runId:D} is published (at {publishedAt.ToUniversalTime():yyyy-MM-dd HH:mm:ss} UTC): it cannot be {refused}")
    {
        RunId = runId;
        PublishedAt = publishedAt;
        Kind = LaminaErrorKind.Conflict;
    }

    public Guid RunId { get; }

    public DateTimeOffset PublishedAt { get; }
}

/// <summary>A model cannot be published, and why (the run did not complete, made no such model…).</summary>
public sealed class PublishRefusedException : TrackingException
{
    public PublishRefusedException(string message) : base(message) => Kind = LaminaErrorKind.Conflict;
}
