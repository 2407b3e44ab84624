namespace Lamina.Ship;

/// <summary>
/// Where Ship records a change of state (<c>bundle.built</c>) in the audit trail. The CLI wires it to the tracking
/// store's append-only audit log; tests and offline tools pass <see cref="NoAudit"/>.
/// </summary>
public interface IBundleAudit
{
    /// <summary>Appends one entry: what was done to which object, its old and new state, and why.</summary>
    Task AppendAsync(string action, string subject, string? oldValue, string? newValue, string? reason, CancellationToken cancellationToken);
}

/// <summary>Records nothing.</summary>
public sealed class NoAudit : IBundleAudit
{
    public static readonly NoAudit Instance = new();

    public Task AppendAsync(string action, string subject, string? oldValue, string? newValue, string? reason, CancellationToken cancellationToken) =>
        Task.CompletedTask;
}
