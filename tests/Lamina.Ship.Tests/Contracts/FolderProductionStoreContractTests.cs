namespace Lamina.Ship.Tests.Contracts;

/// <summary>The production store contract on a folder.</summary>
public sealed class FolderProductionStoreContractTests : ProductionStoreContract, IDisposable
{
    private readonly TemporaryDirectory _directory = new();

    private FolderProductionStore Store => new(_directory.Combine("production"));

    protected override IProductionStore OpenStore() => Store;

    protected override Task TamperAsync(Guid run, string model, string file, Tampering tampering)
    {
        var path = Store.Describe(run, model, file);
        switch (tampering)
        {
            case Tampering.Altered:
                File.AppendAllText(path, "!");
                break;
            case Tampering.Missing:
                File.Delete(path);
                break;
            default:
                File.WriteAllText(path, "an extra file");
                break;
        }
        return Task.CompletedTask;
    }

    public void Dispose() => _directory.Dispose();
}
