using System.Text;
using Lamina.Core.Provenance;

namespace Lamina.Core.Tests.Provenance;

public sealed class Sha256DigestTests
{
    // SHA-256 of "abc", FIPS 180-2 appendix B.1.
    private const string Abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

    [Fact]
    public void Of_TextBytesStreamAndFile_GiveTheStandardDigest()
    {
        using var temp = new Lamina.Testing.TemporaryDirectory();
        var file = temp.Combine("abc.txt");
        File.WriteAllText(file, "abc");

        Assert.Equal(Abc, Sha256Digest.OfText("abc").Hex);
        Assert.Equal(Abc, Sha256Digest.Of(Encoding.ASCII.GetBytes("abc")).Hex);
        Assert.Equal(Abc, Sha256Digest.Of(new MemoryStream(Encoding.ASCII.GetBytes("abc"))).Hex);
        Assert.Equal((Sha256Digest.Parse(Abc), 3L), Sha256Digest.OfFile(file));
    }

    [Fact]
    public async Task CopyAsync_WritesEveryByte_AndHashesWhatItWrote()
    {
        var content = new byte[3_000_001];
        new Random(7).NextBytes(content);
        using var output = new MemoryStream();

        var (digest, size) = await Sha256Digest.CopyAsync(new MemoryStream(content), output, CancellationToken.None);

        Assert.Equal(content, output.ToArray());
        Assert.Equal(content.LongLength, size);
        Assert.Equal(Sha256Digest.Of(content), digest);
    }

    [Fact]
    public void Parse_AcceptsLowercaseHexAndThePrefixedForm_AndFormatsEveryForm()
    {
        var digest = Sha256Digest.Parse(Abc);

        Assert.Equal(digest, Sha256Digest.Parse("sha256:" + Abc));
        Assert.Equal(Abc, digest.ToString());
        Assert.Equal("ba7816bf8f01", digest.Short);
        Assert.Equal("sha256:" + Abc, digest.Prefixed);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD")]
    [InlineData("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015a")]
    [InlineData("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015adz")]
    [InlineData("sha512:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")]
    [InlineData("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f2001 ad")]
    public void Parse_RefusesAnythingButSixtyFourLowercaseHexDigits_NamingWhereItCameFrom(string? text)
    {
        Assert.False(Sha256Digest.TryParse(text, out _));

        var error = Assert.Throws<ProvenanceException>(() => Sha256Digest.Parse(text, "manifest.json: files[0].sha256"));

        Assert.StartsWith("manifest.json: files[0].sha256: ", error.Message);
        Assert.Contains("is not a SHA-256 digest", error.Message);
        Assert.Equal("manifest.json: files[0].sha256", error.At);
    }
}
