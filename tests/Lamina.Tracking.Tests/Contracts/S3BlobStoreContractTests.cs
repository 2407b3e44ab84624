namespace Lamina.Tracking.Tests.Contracts;

/// <summary>The blob store contract on a fresh bucket of the S3 test server (s3rver).</summary>
public sealed class S3BlobStoreContractTests : BlobStoreContract, IAsyncLifetime
{
    private S3Location? _location;

    public async Task InitializeAsync()
    {
        var server = await S3Server.SharedAsync();
        _location = S3Location.Parse($"s3://{await server.CreateBucketAsync()}/team/blobs", server.Environment);
    }

    public Task DisposeAsync() => Task.CompletedTask;

    protected override IBlobStore OpenStore() => new S3BlobStore(_location!);
}
