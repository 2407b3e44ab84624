namespace Lamina.Tracking.Tests.Contracts;

/// <summary>The store transfer contract on SQLite: two database files per test.</summary>
public sealed class SqliteStoreTransferContractTests : StoreTransferContract
{
    private readonly TemporaryDirectory _directory = new();

    protected override async Task<ITrackingStore> OpenStoreAsync(string name, TimeProvider time, string actor) =>
        await SqliteTrackingStore.OpenAsync(_directory.Combine(name, "tracking.db"), time, CancellationToken.None, actor);

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        _directory.Dispose();
    }
}
