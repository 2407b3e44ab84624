using System.Globalization;

namespace Lamina.Tracking;

/// <summary>How a metric column of the runs table is summarised.</summary>
public enum MetricAggregate
{
    Last,
    Min,
    Max,
}

/// <summary>A metric column of the runs table: a metric by name and how it is summarised.</summary>
public sealed record MetricColumn(string Name, MetricAggregate Aggregate)
{
    /// <summary><c>NAME</c> (last), <c>NAME:last</c>, <c>NAME:min</c> or <c>NAME:max</c>, as URLs carry it.</summary>
    /// <exception cref="FormatException">The aggregate is none of last, min, max (the message names it).</exception>
    public static MetricColumn Parse(string text)
    {
        var colon = text.LastIndexOf(':');
        if (colon < 0) return new MetricColumn(text, MetricAggregate.Last);
        var aggregate = text[(colon + 1)..] switch
        {
            "last" => MetricAggregate.Last,
            "min" => MetricAggregate.Min,
            "max" => MetricAggregate.Max,
            var other => throw new FormatException($"metric column '{text}': '{other}' is not last, min or max"),
        };
        return new MetricColumn(text[..colon], aggregate);
    }

    public override string ToString() => $"{Name}:{Aggregate.ToString().ToLowerInvariant()}";
}

/// <summary>What the runs table is sorted by.</summary>
public enum RunSortField
{
    Created,
    Started,
    Ended,
    Duration,
    Status,
    Project,
    Task,
    User,
    /// <summary>A parameter (flattened configuration key) in <see cref="RunSort.Name"/>: numerically where both values are numbers.</summary>
    Parameter,
    /// <summary>A metric in <see cref="RunSort.Name"/>, summarised by <see cref="RunSort.Aggregate"/>.</summary>
    Metric,
}

/// <summary>
/// The order of the runs table. Runs that lack the sorted parameter or metric come last whichever the direction; ties
/// are broken by creation time, newest first, then id, so that paging is stable.
/// </summary>
public sealed record RunSort(RunSortField Field = RunSortField.Created, bool Descending = true, string? Name = null, MetricAggregate Aggregate = MetricAggregate.Last)
{
    public static RunSort Default { get; } = new();

    /// <summary>
    /// <c>created</c>, <c>started</c>, <c>ended</c>, <c>duration</c>, <c>status</c>, <c>project</c>, <c>task</c>,
    /// <c>user</c>, <c>param:KEY</c> or <c>metric:NAME[:last|min|max]</c>, with a leading <c>-</c> for descending.
    /// </summary>
    /// <exception cref="FormatException">Not one of those (the message names the text).</exception>
    public static RunSort Parse(string text)
    {
        var descending = text.StartsWith('-');
        var body = descending ? text[1..] : text;
        if (body.StartsWith("param:", StringComparison.Ordinal) && body.Length > 6)
        {
            return new RunSort(RunSortField.Parameter, descending, body[6..]);
        }
        if (body.StartsWith("metric:", StringComparison.Ordinal) && body.Length > 7)
        {
            var column = MetricColumn.Parse(body[7..]);
            return new RunSort(RunSortField.Metric, descending, column.Name, column.Aggregate);
        }
        var field = body switch
        {
            "created" => RunSortField.Created,
            "started" => RunSortField.Started,
            "ended" => RunSortField.Ended,
            "duration" => RunSortField.Duration,
            "status" => RunSortField.Status,
            "project" => RunSortField.Project,
            "task" => RunSortField.Task,
            "user" => RunSortField.User,
            _ => throw new FormatException($"cannot sort runs by '{text}': created, started, ended, duration, status, project, task, user, param:KEY or metric:NAME[:last|min|max], '-' first for descending"),
        };
        return new RunSort(field, descending);
    }

    public override string ToString()
    {
        var body = Field switch
        {
            RunSortField.Parameter => $"param:{Name}",
            RunSortField.Metric => $"metric:{new MetricColumn(Name!, Aggregate)}",
            _ => Field.ToString().ToLowerInvariant(),
        };
        return Descending ? "-" + body : body;
    }
}

/// <summary>
/// A page of the runs table: filters (null: any), order, paging, and the parameter and metric columns to fill.
/// <paramref name="Text"/> matches, case-insensitively, a run's id (prefix), project, task, description, tags, user or error.
/// </summary>
public sealed record RunTableQuery(
    string? Project = null,
    string? Task = null,
    string? TaskType = null,
    RunStatus? Status = null,
    string? Tag = null,
    string? User = null,
    string? Queue = null,
    string? Text = null,
    RunSort? Sort = null,
    int Offset = 0,
    int Limit = 50,
    IReadOnlyList<string>? ParameterColumns = null,
    IReadOnlyList<MetricColumn>? MetricColumns = null)
{
    /// <summary>The most rows one page may ask for.</summary>
    public const int MaxLimit = 1000;
}

/// <summary>One row of the runs table: the run, the asked-for parameters (absent keys missing) and metric summaries (by name).</summary>
public sealed record RunRow(RunRecord Run, IReadOnlyDictionary<string, string> Parameters, IReadOnlyDictionary<string, MetricSummary> Metrics);

/// <summary>A page of runs and how many runs match the filters in all.</summary>
public sealed record RunPage(long Total, IReadOnlyList<RunRow> Rows);

/// <summary>
/// One point of a metric series as served to a chart. Downsampled, a point stands for a bucket of consecutive steps:
/// <see cref="Value"/> is the bucket's last value (at <see cref="Step"/>, <see cref="Time"/>), and <see cref="Min"/> and
/// <see cref="Max"/> its extremes, so that a spike is never hidden; not downsampled, all three are the value.
/// </summary>
public sealed record SeriesPoint(long Step, DateTimeOffset Time, double Value, double Min, double Max);

/// <summary>A run's metric series: <see cref="Count"/> points logged, <see cref="Points"/> served (fewer when downsampled).</summary>
public sealed record MetricSeries(Guid RunId, string Name, int Count, bool Downsampled, IReadOnlyList<SeriesPoint> Points);

/// <summary>What one run used that another run made.</summary>
public enum LineageInput
{
    /// <summary>A model made by the other run.</summary>
    Model,

    /// <summary>A data set built by the other run.</summary>
    Dataset,
}

/// <summary>
/// A run that used what another run made: a model (<see cref="Input"/> and <see cref="InputName"/> are its name) or a
/// data set (<see cref="Input"/> its id, <see cref="InputName"/> its name), in <see cref="Role"/>.
/// </summary>
public sealed record DownstreamRun(Guid RunId, string Project, string Task, string TaskType, RunStatus Status, LineageInput Kind, string Input,
    string InputName, string Role);

/// <summary>
/// What the web UI reads: the runs table over any number of runs (filtered, sorted and paged by the database, with
/// parameters and metric summaries kept in tables of their own as runs are created and metrics logged), metric series
/// downsampled by the database side, the names that columns can be chosen from, and lineage down from a run.
/// </summary>
public interface IRunBrowser
{
    /// <exception cref="ArgumentException">A limit outside 1..<see cref="RunTableQuery.MaxLimit"/> or a negative offset.</exception>
    Task<RunPage> BrowseRunsAsync(RunTableQuery query, CancellationToken cancellationToken);

    /// <summary>Every parameter key of the runs of <paramref name="project"/> (null: all runs), sorted.</summary>
    Task<IReadOnlyList<string>> ListParameterKeysAsync(string? project, CancellationToken cancellationToken);

    /// <summary>Every metric name of the runs of <paramref name="project"/> (null: all runs), sorted.</summary>
    Task<IReadOnlyList<string>> ListMetricNamesAsync(string? project, CancellationToken cancellationToken);

    /// <summary>A run's parameters: its configuration flattened (<see cref="RunComparison.Flatten"/>), secrets redacted.</summary>
    /// <exception cref="RunNotFoundException">No such run.</exception>
    Task<IReadOnlyDictionary<string, string>> GetParametersAsync(Guid runId, CancellationToken cancellationToken);

    /// <summary>A run's metrics summarised (count, last, min, max), by name.</summary>
    Task<IReadOnlyList<MetricSummary>> GetMetricSummariesAsync(Guid runId, CancellationToken cancellationToken);

    /// <summary>
    /// The series of <paramref name="names"/> (null: every metric) of each run, in step order; a series of more than
    /// <paramref name="maxPoints"/> points is downsampled into that many buckets of consecutive steps (min and max kept).
    /// </summary>
    Task<IReadOnlyList<MetricSeries>> GetMetricSeriesAsync(IReadOnlyList<Guid> runIds, IReadOnlyList<string>? names, int maxPoints, CancellationToken cancellationToken);

    /// <summary>
    /// The other runs that used a model <paramref name="runId"/> made or a data set it built, one row per use, oldest run
    /// first; empty for a run nothing used (or no run).
    /// </summary>
    Task<IReadOnlyList<DownstreamRun>> ListRunsUsingOutputsOfAsync(Guid runId, CancellationToken cancellationToken);

    /// <summary>
    /// The audit entries of one action, oldest first, found by the database (not by reading the whole trail); with
    /// <paramref name="newValueContains"/>, only those whose new value contains that text (case-sensitive).
    /// </summary>
    Task<IReadOnlyList<AuditEntry>> ListAuditByActionAsync(string action, string? newValueContains, CancellationToken cancellationToken);
}

/// <summary>What a web UI token lets its holder do: viewers read, operators also abort and requeue runs, admins also manage tokens.</summary>
public enum AccessRole
{
    Viewer,
    Operator,
    Admin,
}

/// <summary>A web UI token as stored (its secret only as a SHA-256 hash).</summary>
/// <param name="Id">Short id, part of the secret (<c>lamina_ID_RANDOM</c>), for listing and revoking.</param>
/// <param name="Owner">Whom it was made for: what audit entries of writes made with it name (<c>ui:OWNER</c>).</param>
public sealed record AccessToken(string Id, string Owner, AccessRole Role, DateTimeOffset CreatedAt, DateTimeOffset ExpiresAt, string CreatedBy, DateTimeOffset? RevokedAt)
{
    public bool IsValidAt(DateTimeOffset now) => RevokedAt is null && now < ExpiresAt;
}

/// <summary>Web UI tokens, kept hashed in the tracking store; creating and revoking one is in the audit trail.</summary>
public interface IAccessTokenStore
{
    /// <summary>Makes a token; the secret is returned once and never stored.</summary>
    Task<(AccessToken Token, string Secret)> CreateTokenAsync(string owner, AccessRole role, DateTimeOffset expiresAt, CancellationToken cancellationToken);

    /// <summary>Every token, newest first, revoked and expired ones too.</summary>
    Task<IReadOnlyList<AccessToken>> ListTokensAsync(CancellationToken cancellationToken);

    /// <summary>Revokes a token by id (revoking one already revoked changes nothing).</summary>
    /// <exception cref="TrackingException">No token has that id.</exception>
    Task<AccessToken> RevokeTokenAsync(string id, string reason, CancellationToken cancellationToken);

    /// <summary>The token a secret belongs to when it is valid now (known, not revoked, not expired), else null.</summary>
    Task<AccessToken?> AuthenticateAsync(string secret, CancellationToken cancellationToken);
}

/// <summary>A store whose changes can be made in someone else's name: the web UI's writes name the token's owner in the audit trail.</summary>
public interface IActingStore
{
    /// <summary>
    /// The same store (same connection, same data), whose audit entries name <paramref name="actor"/>; disposing the
    /// returned view does not close the store.
    /// </summary>
    ITrackingStore ActingAs(string actor);
}
