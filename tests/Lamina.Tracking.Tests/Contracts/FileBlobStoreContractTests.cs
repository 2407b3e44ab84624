namespace Lamina.Tracking.Tests.Contracts;

/// <summary>The blob store contract on a folder.</summary>
public sealed class FileBlobStoreContractTests : BlobStoreContract, IDisposable
{
    private readonly TemporaryDirectory _directory = new();

    protected override IBlobStore OpenStore() => new FileBlobStore(_directory.Combine("blobs"));

    public void Dispose() => _directory.Dispose();
}
