using Lamina.Core.Slides;

namespace Lamina.Core.Tests.Slides;

public sealed class ColourConversionTests
{
    private static byte[] Reference(uint[] argb)
    {
        var rgb = new byte[argb.Length * 3];
        for (var i = 0; i < argb.Length; i++)
        {
            var p = argb[i];
            var a = (int)(p >> 24);
            // Premultiplied colour composited onto white: c + (255 - a), at most 255.
            rgb[i * 3] = (byte)Math.Min(255, (int)((p >> 16) & 0xFF) + 255 - a);
            rgb[i * 3 + 1] = (byte)Math.Min(255, (int)((p >> 8) & 0xFF) + 255 - a);
            rgb[i * 3 + 2] = (byte)Math.Min(255, (int)(p & 0xFF) + 255 - a);
        }
        return rgb;
    }

    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    [InlineData(5)]
    [InlineData(7)]
    [InlineData(256 * 256)]
    public void ToRgb_MatchesThePerPixelFormula_ForOpaqueTransparentAndPartialPixels(int count)
    {
        var random = new Random(count);
        var argb = new uint[count];
        for (var i = 0; i < count; i++)
        {
            var a = (uint)(i % 5 == 0 ? 0 : i % 3 == 0 ? random.Next(256) : 255);
            // Premultiplied: no channel above alpha.
            uint C() => (uint)random.Next((int)a + 1);
            argb[i] = a << 24 | C() << 16 | C() << 8 | C();
        }
        var rgb = new byte[count * 3];

        Slide.ToRgb(argb, rgb);

        Assert.Equal(Reference(argb), rgb);
    }

    [Fact]
    public void ToRgb_NeverWritesPastTheEndOfAnExactBuffer()
    {
        var argb = Enumerable.Range(0, 8).Select(i => 0xFF102030u).ToArray();
        var buffer = new byte[8 * 3 + 4];
        Array.Fill(buffer, (byte)0xAB);

        Slide.ToRgb(argb, buffer.AsSpan(0, 24));

        Assert.Equal([0xAB, 0xAB, 0xAB, 0xAB], buffer[24..]);
        Assert.Equal(Reference(argb), buffer[..24]);
    }
}
