using System.Text.RegularExpressions;
using Amazon;
using Amazon.Runtime;
using Amazon.Runtime.CredentialManagement;
using Amazon.S3;
using Lamina.Core;

namespace Lamina.Tracking;

/// <summary>
/// A bucket and key prefix of an S3-compatible store (<c>s3://bucket/prefix</c>), with the endpoint
/// (<c>LAMINA_S3_ENDPOINT</c>, for a server other than AWS) and the credentials of the standard AWS variables or profile.
/// <see cref="ToString"/> names the store for messages and never shows a secret.
/// </summary>
public sealed partial class S3Location
{
    /// <summary>The environment variable giving the endpoint of an S3-compatible server (MinIO, Ceph, s3rver); unset for AWS.</summary>
    public const string EndpointVariable = "LAMINA_S3_ENDPOINT";

    private const string DefaultRegion = "us-east-1";

    private readonly string? _accessKeyId;
    private readonly string? _secretAccessKey;
    private readonly string? _sessionToken;

    private S3Location(string bucket, string prefix, Uri? endpoint, string region, string? profile, string? accessKeyId, string? secretAccessKey, string? sessionToken)
    {
        Bucket = bucket;
        Prefix = prefix;
        Endpoint = endpoint;
        Region = region;
        Profile = profile;
        _accessKeyId = accessKeyId;
        _secretAccessKey = secretAccessKey;
        _sessionToken = sessionToken;
    }

    /// <summary>The bucket.</summary>
    public string Bucket { get; }

    /// <summary>The key prefix, without leading or trailing '/'; empty for the whole bucket.</summary>
    public string Prefix { get; }

    /// <summary>The endpoint of an S3-compatible server (path-style addressing); null for AWS itself.</summary>
    public Uri? Endpoint { get; }

    /// <summary>The region (<c>AWS_REGION</c>, <c>AWS_DEFAULT_REGION</c>, else us-east-1).</summary>
    public string Region { get; }

    /// <summary>The AWS profile the credentials come from (<c>AWS_PROFILE</c>) when no keys are given in the environment.</summary>
    public string? Profile { get; }

    /// <summary>The <c>s3://bucket/prefix</c> form.</summary>
    public string Uri => Prefix.Length == 0 ? $"s3://{Bucket}" : $"s3://{Bucket}/{Prefix}";

    /// <summary>Whether <paramref name="text"/> is meant as an S3 location (starts with <c>s3://</c>).</summary>
    public static bool IsS3Uri(string? text) => text is not null && text.StartsWith("s3://", StringComparison.OrdinalIgnoreCase);

    /// <summary>Parses <c>s3://bucket[/prefix]</c>, reading the endpoint, region and credentials from the process environment.</summary>
    public static S3Location Parse(string uri) => Parse(uri, Environment.GetEnvironmentVariable);

    /// <summary>Parses <c>s3://bucket[/prefix]</c>, reading the endpoint, region and credentials through <paramref name="environment"/>.</summary>
    /// <exception cref="TrackingException">The URI, the endpoint or the credentials are malformed (kind Usage).</exception>
    public static S3Location Parse(string uri, Func<string, string?> environment)
    {
        ArgumentNullException.ThrowIfNull(uri);
        ArgumentNullException.ThrowIfNull(environment);
        if (!IsS3Uri(uri)) throw S3Exceptions.NotAnS3Uri(uri, "it does not start with s3://");
        var rest = uri["s3://".Length..];
        var slash = rest.IndexOf('/', StringComparison.Ordinal);
        var bucket = slash < 0 ? rest : rest[..slash];
        var prefix = slash < 0 ? "" : rest[(slash + 1)..].TrimEnd('/');
        if (!BucketName().IsMatch(bucket)) throw S3Exceptions.NotAnS3Uri(uri, $"'{bucket}' is not a bucket name (3 to 63 lowercase letters, digits, '.' and '-')");
        if (prefix.Length > 0 && prefix.Split('/').Any(s => s.Length == 0 || s is "." or ".." || s.Any(char.IsControl)))
        {
            throw S3Exceptions.NotAnS3Uri(uri, $"the prefix '{prefix}' has an empty, '.' or '..' segment");
        }

        Uri? endpoint = null;
        if (Value(environment, EndpointVariable) is { } endpointText)
        {
            if (!System.Uri.TryCreate(endpointText, UriKind.Absolute, out endpoint) || endpoint.Scheme is not ("http" or "https") || endpoint.UserInfo.Length > 0)
            {
                throw S3Exceptions.BadEndpoint(endpointText);
            }
        }
        var region = Value(environment, "AWS_REGION") ?? Value(environment, "AWS_DEFAULT_REGION") ?? DefaultRegion;
        var keyId = Value(environment, "AWS_ACCESS_KEY_ID");
        var secret = Value(environment, "AWS_SECRET_ACCESS_KEY");
        if ((keyId is null) != (secret is null)) throw S3Exceptions.HalfCredentials(keyId is null ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY");
        var profile = keyId is null ? Value(environment, "AWS_PROFILE") : null;
        return new S3Location(bucket, prefix, endpoint, region, profile, keyId, secret, keyId is null ? null : Value(environment, "AWS_SESSION_TOKEN"));
    }

    /// <summary>The key of <paramref name="relative"/> under the prefix.</summary>
    public string Key(string relative) => Prefix.Length == 0 ? relative : $"{Prefix}/{relative}";

    /// <summary>The <c>s3://</c> form of <paramref name="relative"/> under the prefix, for messages.</summary>
    public string Describe(string relative) => $"s3://{Bucket}/{Key(relative)}";

    /// <summary>The location of a sub-prefix (<c>s3://bucket/prefix/sub</c>) with the same endpoint and credentials.</summary>
    public S3Location Under(string sub) =>
        new(Bucket, Key(sub.Trim('/')), Endpoint, Region, Profile, _accessKeyId, _secretAccessKey, _sessionToken);

    /// <summary>Builds a client for this location: path-style against an endpoint, checksums only where S3 requires them (third-party servers do not all read trailers).</summary>
    /// <exception cref="TrackingException">The named profile does not exist.</exception>
    public IAmazonS3 CreateClient()
    {
        var config = new AmazonS3Config
        {
            RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
            ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
            MaxErrorRetry = 2,
            Timeout = TimeSpan.FromMinutes(5),
        };
        if (Endpoint is not null)
        {
            config.ServiceURL = Endpoint.ToString();
            config.ForcePathStyle = true;
            config.AuthenticationRegion = Region;
        }
        else
        {
            config.RegionEndpoint = RegionEndpoint.GetBySystemName(Region);
        }

        if (_accessKeyId is not null)
        {
            AWSCredentials keys = _sessionToken is null
                ? new BasicAWSCredentials(_accessKeyId, _secretAccessKey)
                : new SessionAWSCredentials(_accessKeyId, _secretAccessKey, _sessionToken);
            return new AmazonS3Client(keys, config);
        }
        if (Profile is not null)
        {
            if (!new CredentialProfileStoreChain().TryGetAWSCredentials(Profile, out var fromProfile)) throw S3Exceptions.NoProfile(Profile, this);
            return new AmazonS3Client(fromProfile, config);
        }
        // The SDK's own chain: web identity, container and instance credentials.
        return new AmazonS3Client(config);
    }

    /// <summary>The store for messages: <c>s3://bucket/prefix</c>, and the endpoint when there is one. Never a secret.</summary>
    public override string ToString() => Endpoint is null ? Uri : $"{Uri} at {Endpoint.GetLeftPart(UriPartial.Path).TrimEnd('/')}";

    private static string? Value(Func<string, string?> environment, string name) => environment(name) is { Length: > 0 } value ? value.Trim() : null;

    [GeneratedRegex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")]
    private static partial Regex BucketName();
}

/// <summary>The errors of the S3 stores: each names the store and says what to do.</summary>
internal static class S3Exceptions
{
    public static TrackingException NotAnS3Uri(string uri, string why) =>
        new($"'{uri}' is not an S3 location: {why}; write s3://BUCKET or s3://BUCKET/PREFIX") { At = uri, Kind = LaminaErrorKind.Usage };

    public static TrackingException BadEndpoint(string endpoint) =>
        new($"{S3Location.EndpointVariable}='{endpoint}' is not an http:// or https:// URL without credentials (for example http://127.0.0.1:9000)")
        { At = S3Location.EndpointVariable, Kind = LaminaErrorKind.Usage };

    public static TrackingException HalfCredentials(string missing) =>
        new($"AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY go together, but {missing} is not set") { At = missing, Kind = LaminaErrorKind.Usage };

    public static TrackingException NoProfile(string profile, S3Location location) =>
        new($"the S3 store {location}: AWS_PROFILE names '{profile}', but no such profile is in ~/.aws/credentials or ~/.aws/config") { At = profile, Kind = LaminaErrorKind.Usage };

    public static TrackingException NoBucket(S3Location location, Exception inner) =>
        new($"the S3 store {location}: the bucket '{location.Bucket}' does not exist; create it, or point the store at an existing bucket", inner)
        { At = location.Uri, Kind = LaminaErrorKind.NotFound };

    public static TrackingException Unreachable(S3Location location, Exception inner) =>
        new($"the S3 store {location} cannot be reached ({Innermost(inner)}); check that the server runs and {S3Location.EndpointVariable} names it", inner, isTransient: true)
        { At = location.Uri };

    public static TrackingException Refused(S3Location location, string code, Exception inner) =>
        new($"the S3 store {location} refused the request ({code}); check the credentials (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE) and their rights on the bucket", inner)
        { At = location.Uri, Kind = LaminaErrorKind.Unavailable };

    public static TrackingException Failed(S3Location location, string what, Exception inner) =>
        new($"the S3 store {location}: {what} failed ({inner.Message.TrimEnd('.')})", inner, isTransient: inner is AmazonServiceException { StatusCode: >= System.Net.HttpStatusCode.InternalServerError })
        { At = location.Uri };

    public static TrackingException UploadNotVerified(S3Location location, string key, string etag, string expected) =>
        new($"the S3 store {location}: s3://{location.Bucket}/{key} was stored with ETag {etag}, but the MD5 of what was sent is {expected}; the upload is not trusted")
        { At = key, Kind = LaminaErrorKind.Integrity };

    public static TrackingException SizeDiffers(S3Location location, string key, long size, long expected) =>
        new($"the S3 store {location}: s3://{location.Bucket}/{key} holds {size} bytes, but its content has {expected}: the store was altered")
        { At = key, Kind = LaminaErrorKind.Integrity };

    public static TrackingException ContentDiffers(string where, string digest, long size, string expected, long expectedSize) =>
        new($"{where}: sha256 {digest} ({size} bytes) differs from {expected} ({expectedSize} bytes): the store was altered")
        { At = where, Kind = LaminaErrorKind.Integrity };

    private static string Innermost(Exception e)
    {
        while (e.InnerException is not null) e = e.InnerException;
        return e.Message.TrimEnd('.');
    }
}
