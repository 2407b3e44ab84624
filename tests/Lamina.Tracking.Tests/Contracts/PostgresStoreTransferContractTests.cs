namespace Lamina.Tracking.Tests.Contracts;

/// <summary>The store transfer contract on PostgreSQL: a fresh database per store, migrated first, on the test process's server.</summary>
public sealed class PostgresStoreTransferContractTests : StoreTransferContract
{
    private readonly Dictionary<string, string> _databases = new(StringComparer.Ordinal);

    protected override async Task<ITrackingStore> OpenStoreAsync(string name, TimeProvider time, string actor)
    {
        if (!_databases.TryGetValue(name, out var uri))
        {
            uri = await (await PostgresServer.SharedAsync()).CreateDatabaseAsync();
            await PostgresTrackingStore.MigrateAsync(uri, CancellationToken.None);
            _databases[name] = uri;
        }
        return await PostgresTrackingStore.OpenAsync(uri, time, CancellationToken.None, actor);
    }
}
