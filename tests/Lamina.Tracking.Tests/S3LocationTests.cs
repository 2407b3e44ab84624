using Lamina.Core;

namespace Lamina.Tracking.Tests;

public sealed class S3LocationTests
{
    private static Func<string, string?> Environment(params (string Name, string Value)[] variables) =>
        name => variables.FirstOrDefault(v => v.Name == name).Value;

    [Theory]
    [InlineData("s3://lamina-models", "lamina-models", "")]
    [InlineData("s3://lamina-models/", "lamina-models", "")]
    [InlineData("s3://lamina.models/team/a/", "lamina.models", "team/a")]
    public void Parse_GivesTheBucketAndPrefix(string uri, string bucket, string prefix)
    {
        var location = S3Location.Parse(uri, Environment());

        Assert.Equal((bucket, prefix), (location.Bucket, location.Prefix));
        Assert.Equal(prefix.Length == 0 ? $"s3://{bucket}" : $"s3://{bucket}/{prefix}", location.Uri);
        Assert.Null(location.Endpoint);
        Assert.Equal("us-east-1", location.Region);
    }

    [Theory]
    [InlineData("https://bucket/x")]
    [InlineData("s3://")]
    [InlineData("s3://Bucket")]
    [InlineData("s3://ab")]
    [InlineData("s3://bucket/a//b")]
    [InlineData("s3://bucket/a/../b")]
    public void Parse_AMalformedUri_IsAUsageErrorNamingIt(string uri)
    {
        var error = Assert.ThrowsAny<TrackingException>(() => S3Location.Parse(uri, Environment()));

        Assert.Equal(LaminaErrorKind.Usage, error.Kind);
        Assert.Contains($"'{uri}' is not an S3 location", error.Message);
    }

    [Fact]
    public void ToString_NamesTheStoreAndEndpoint_AndNeverTheSecret()
    {
        var location = S3Location.Parse("s3://models/prod", Environment(
            ("LAMINA_S3_ENDPOINT", "http://minio.lab:9000"), ("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE"), ("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI"),
            ("AWS_SESSION_TOKEN", "tok3n"), ("AWS_DEFAULT_REGION", "eu-west-1")));

        Assert.Equal("s3://models/prod at http://minio.lab:9000", location.ToString());
        Assert.Equal("eu-west-1", location.Region);
        Assert.DoesNotContain("wJalrXUtnFEMI", location.ToString());
        Assert.DoesNotContain("tok3n", location.ToString());
        Assert.Equal("s3://models/prod/sha256/ab", location.Describe("sha256/ab"));
    }

    [Fact]
    public void Under_IsASubPrefixOfTheSameBucketAndEndpoint()
    {
        var location = S3Location.Parse("s3://team/lamina", Environment(("LAMINA_S3_ENDPOINT", "http://minio.lab:9000")));

        var blobs = location.Under("blobs/");

        Assert.Equal(("team", "lamina/blobs"), (blobs.Bucket, blobs.Prefix));
        Assert.Equal("s3://team/lamina/blobs at http://minio.lab:9000", blobs.ToString());
        Assert.Equal("s3://team/x", S3Location.Parse("s3://team", Environment()).Under("x").Uri);
    }

    [Theory]
    [InlineData("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")]
    [InlineData("AWS_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID")]
    public void Parse_HalfTheKeys_IsAUsageErrorNamingTheMissingOne(string given, string missing)
    {
        var error = Assert.ThrowsAny<TrackingException>(() => S3Location.Parse("s3://models", Environment((given, "x"))));

        Assert.Equal(LaminaErrorKind.Usage, error.Kind);
        Assert.Contains($"{missing} is not set", error.Message);
    }

    [Theory]
    [InlineData("minio:9000")]
    [InlineData("ftp://minio")]
    [InlineData("http://user:pw@minio:9000")]
    public void Parse_AnEndpointThatIsNotAnHttpUrl_IsAUsageError(string endpoint)
    {
        var error = Assert.ThrowsAny<TrackingException>(() => S3Location.Parse("s3://models", Environment(("LAMINA_S3_ENDPOINT", endpoint))));

        Assert.Equal(LaminaErrorKind.Usage, error.Kind);
        Assert.Contains(S3Location.EndpointVariable, error.Message);
    }

    [Fact]
    public void CreateClient_WithAProfileThatDoesNotExist_SaysSo()
    {
        var location = S3Location.Parse("s3://models", Environment(("AWS_PROFILE", "no-such-profile-lamina")));

        var error = Assert.ThrowsAny<TrackingException>(() => location.CreateClient());

        Assert.Equal("no-such-profile-lamina", location.Profile);
        Assert.Contains("'no-such-profile-lamina'", error.Message);
    }
}
