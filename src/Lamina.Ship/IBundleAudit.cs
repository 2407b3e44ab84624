using Lamina.Tracking;

namespace Lamina.Ship;

/// <summary>
/// Where Ship records a change of state (<c>bundle.built</c>) in the audit trail, and where it reads the trail's head to
/// anchor a bundle's provenance. <see cref="TrackingStoreAudit"/> is the tracking store's append-only audit log;
/// tests and offline tools pass <see cref="NoAudit"/>.
/// </summary>
public interface IBundleAudit
{
    /// <summary>Appends one entry: what was done to which object, its old and new state, and why.</summary>
    Task AppendAsync(string action, string subject, string? oldValue, string? newValue, string? reason, CancellationToken cancellationToken);

    /// <summary>The trail's head after checking its chain, or null when there is no trail (or it is empty).</summary>
    /// <exception cref="ShipException">The chain is broken: no release is built on a tampered trail.</exception>
    Task<AuditAnchor?> HeadAsync(CancellationToken cancellationToken);
}

/// <summary>Records nothing, anchors nothing.</summary>
public sealed class NoAudit : IBundleAudit
{
    public static readonly NoAudit Instance = new();

    public Task AppendAsync(string action, string subject, string? oldValue, string? newValue, string? reason, CancellationToken cancellationToken) =>
        Task.CompletedTask;

    public Task<AuditAnchor?> HeadAsync(CancellationToken cancellationToken) => Task.FromResult<AuditAnchor?>(null);
}

/// <summary>The tracking store's audit log.</summary>
public sealed class TrackingStoreAudit(IAuditStore store) : IBundleAudit
{
    public Task AppendAsync(string action, string subject, string? oldValue, string? newValue, string? reason, CancellationToken cancellationToken) =>
        store.AppendAuditAsync(action, subject, oldValue, newValue, reason, cancellationToken);

    public async Task<AuditAnchor?> HeadAsync(CancellationToken cancellationToken)
    {
        var verification = await store.VerifyAuditAsync(cancellationToken);
        if (verification.FirstBreak is { } broken)
        {
            throw new ShipException(
                $"the audit trail is broken at entry {broken.Seq}: {broken.Problem}; no bundle is built on a tampered store (see lamina audit verify)");
        }
        return verification.Count == 0 ? null : new AuditAnchor(verification.Count, verification.HeadHash);
    }
}
