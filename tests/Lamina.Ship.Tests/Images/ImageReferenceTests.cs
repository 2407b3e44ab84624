using Lamina.Ship.Images;

namespace Lamina.Ship.Tests.Images;

public sealed class ImageReferenceTests
{
    private const string Digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    [Theory]
    [InlineData("localhost:5000/customers/hospital-a:1.2", "localhost:5000", "customers/hospital-a", "1.2", null)]
    [InlineData("registry.example.org/lamina-serve", "registry.example.org", "lamina-serve", null, null)]
    [InlineData("lamina-serve:0.1", null, "lamina-serve", "0.1", null)]
    [InlineData("127.0.0.1:5000/a/b@" + Digest, "127.0.0.1:5000", "a/b", null, Digest)]
    [InlineData("localhost/a:v1@" + Digest, "localhost", "a", "v1", Digest)]
    public void Parse_RegistryAndBareNames_SplitsTheirParts(string text, string? registry, string repository, string? tag, string? digest)
    {
        var reference = ImageReference.Parse(text);

        Assert.Equal(registry, reference.Registry);
        Assert.Equal(repository, reference.Repository);
        Assert.Equal(tag, reference.Tag);
        Assert.Equal(digest, reference.Digest);
        Assert.Equal(text, reference.ToString());
    }

    [Fact]
    public void Parse_Layout_TakesTheFolderAndTheTag()
    {
        var reference = ImageReference.Parse("oci:/tmp/images:hospital-a-1.0");

        Assert.True(reference.IsLayout);
        Assert.Equal("/tmp/images", reference.Layout);
        Assert.Equal("hospital-a-1.0", reference.Tag);
        Assert.Null(ImageReference.Parse("oci:/tmp/images").Tag);
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData("localhost:5000/Upper:1", "not a repository name")]
    [InlineData("localhost:5000/a:-bad", "not a tag")]
    [InlineData("localhost:5000/a@sha256:123", "not a sha256 digest")]
    [InlineData("oci:", "name the layout folder")]
    public void Parse_Nonsense_SaysWhatIsWrongAndWhere(string text, string problem)
    {
        var error = Assert.Throws<ImageException>(() => ImageReference.Parse(text, "--base"));

        Assert.StartsWith("--base", error.Message, StringComparison.Ordinal);
        Assert.Contains(problem, error.Message, StringComparison.Ordinal);
    }
}
