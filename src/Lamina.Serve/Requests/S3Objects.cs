using System.Net;
using Amazon;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;

namespace Lamina.Serve.Requests;

/// <summary>An <c>s3://bucket/key</c> address.</summary>
internal sealed record S3Address(string Bucket, string Key)
{
    public static bool IsS3(string text) => text.StartsWith("s3://", StringComparison.Ordinal);

    /// <exception cref="RequestFailure">Not an s3://bucket/key address (invalid_request naming <paramref name="field"/>).</exception>
    public static S3Address Parse(string text, string field)
    {
        var rest = text["s3://".Length..];
        var slash = rest.IndexOf('/', StringComparison.Ordinal);
        var bucket = slash < 0 ? rest : rest[..slash];
        var key = slash < 0 ? "" : rest[(slash + 1)..];
        if (bucket.Length == 0) throw new RequestFailure(Contracts.FailureReasons.InvalidRequest, $"'{field}' {text}: no bucket");
        return new S3Address(bucket, key);
    }

    /// <summary>The key of <paramref name="name"/> under this prefix.</summary>
    public string Under(string name) => Key.Length == 0 ? name : $"{Key.TrimEnd('/')}/{name}";

    public override string ToString() => $"s3://{Bucket}/{Key}";
}

/// <summary>
/// The S3 client of the service, made once from its environment as Lamina's stores read it: <c>LAMINA_S3_ENDPOINT</c>
/// (a server other than AWS, path-style), <c>AWS_ACCESS_KEY_ID</c>/<c>AWS_SECRET_ACCESS_KEY</c> (else the SDK's chain),
/// <c>AWS_REGION</c> (default us-east-1).
/// </summary>
internal sealed class S3Objects : IDisposable
{
    private readonly Lazy<IAmazonS3> _client = new(Create);

    public IAmazonS3 Client => _client.Value;

    public async Task<bool> ExistsAsync(S3Address address, CancellationToken cancellationToken)
    {
        try
        {
            await Client.GetObjectMetadataAsync(address.Bucket, address.Key, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.NotFound)
        {
            return false;
        }
    }

    /// <summary>The object's bytes, or null when there is none.</summary>
    public async Task<byte[]?> ReadAsync(S3Address address, CancellationToken cancellationToken)
    {
        try
        {
            using var response = await Client.GetObjectAsync(address.Bucket, address.Key, cancellationToken).ConfigureAwait(false);
            using var buffer = new MemoryStream();
            await response.ResponseStream.CopyToAsync(buffer, cancellationToken).ConfigureAwait(false);
            return buffer.ToArray();
        }
        catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
    }

    public async Task<bool> AnyUnderAsync(S3Address prefix, CancellationToken cancellationToken)
    {
        var listed = await Client.ListObjectsV2Async(new ListObjectsV2Request { BucketName = prefix.Bucket, Prefix = prefix.Under(""), MaxKeys = 1 }, cancellationToken)
            .ConfigureAwait(false);
        return listed.S3Objects is { Count: > 0 };
    }

    public void Dispose()
    {
        if (_client.IsValueCreated) _client.Value.Dispose();
    }

    private static IAmazonS3 Create()
    {
        var region = Variable("AWS_REGION") ?? Variable("AWS_DEFAULT_REGION") ?? "us-east-1";
        var config = new AmazonS3Config
        {
            RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
            ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
            MaxErrorRetry = 3,
            Timeout = TimeSpan.FromMinutes(10),
        };
        if (Variable("LAMINA_S3_ENDPOINT") is { } endpoint)
        {
            config.ServiceURL = endpoint;
            config.ForcePathStyle = true;
            config.AuthenticationRegion = region;
        }
        else
        {
            config.RegionEndpoint = RegionEndpoint.GetBySystemName(region);
        }
        if (Variable("AWS_ACCESS_KEY_ID") is { } key)
        {
            var secret = Variable("AWS_SECRET_ACCESS_KEY") ?? "";
            AWSCredentials credentials = Variable("AWS_SESSION_TOKEN") is { } token ? new SessionAWSCredentials(key, secret, token) : new BasicAWSCredentials(key, secret);
            return new AmazonS3Client(credentials, config);
        }
        return new AmazonS3Client(config);
    }

    private static string? Variable(string name) => Environment.GetEnvironmentVariable(name) is { Length: > 0 } value ? value.Trim() : null;
}
