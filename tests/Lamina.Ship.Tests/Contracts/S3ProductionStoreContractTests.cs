using Amazon.S3.Model;
using Lamina.Tracking;
using S3Location = Lamina.Tracking.S3Location;

namespace Lamina.Ship.Tests.Contracts;

/// <summary>The production store contract on a fresh bucket of the S3 test server (s3rver); tampering writes objects with the SDK.</summary>
public sealed class S3ProductionStoreContractTests : ProductionStoreContract, IAsyncLifetime
{
    private S3Location? _location;

    public async Task InitializeAsync()
    {
        var server = await S3Server.SharedAsync();
        _location = S3Location.Parse($"s3://{await server.CreateBucketAsync()}/production", server.Environment);
    }

    public Task DisposeAsync() => Task.CompletedTask;

    protected override IProductionStore OpenStore() => new S3ProductionStore(_location!);

    protected override async Task TamperAsync(Guid run, string model, string file, Tampering tampering)
    {
        using var client = _location!.CreateClient();
        var key = _location.Key($"{run}/{model}/{file}");
        switch (tampering)
        {
            case Tampering.Altered:
                using (var original = await client.GetObjectAsync(_location.Bucket, key))
                {
                    var text = await new StreamReader(original.ResponseStream).ReadToEndAsync();
                    await client.PutObjectAsync(new PutObjectRequest { BucketName = _location.Bucket, Key = key, ContentBody = text + "!", UseChunkEncoding = false });
                }
                break;
            case Tampering.Missing:
                await client.DeleteObjectAsync(_location.Bucket, key);
                break;
            default:
                await client.PutObjectAsync(new PutObjectRequest { BucketName = _location.Bucket, Key = key, ContentBody = "an extra file", UseChunkEncoding = false });
                break;
        }
    }
}
