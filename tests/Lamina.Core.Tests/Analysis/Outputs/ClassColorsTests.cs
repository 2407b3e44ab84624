using Lamina.Core.Analysis.Outputs;

namespace Lamina.Core.Tests.Analysis.Outputs;

public sealed class ClassColorsTests
{
    [Fact]
    public void Of_KnownClasses_GiveTheirFixedColours()
    {
        var carcinoma = ClassColors.Of("Carcinoma");
        var mitosis = ClassColors.Of("Mitosis");
        var tissue = ClassColors.Of("Tissue");

        Assert.True(carcinoma.R > 180 && carcinoma.G < 80 && carcinoma.B < 80, $"red: {carcinoma}");
        Assert.True(mitosis.R + mitosis.G + mitosis.B < 150 && mitosis.B > mitosis.G, $"dark purple: {mitosis}");
        Assert.True(tissue.G > 120 && tissue.R < 80 && tissue.B < 100, $"green: {tissue}");
    }

    [Fact]
    public void Of_OtherClasses_DerivesAColourFromTheNameThatIsTheSameInEveryProcess()
    {
        var stroma = ClassColors.Of("Stroma");
        var necrosis = ClassColors.Of("Necrosis");

        // Pinned: a per-process hash (string.GetHashCode) would change these between runs.
        Assert.Equal(((byte)74, (byte)124, (byte)217), stroma);
        Assert.NotEqual(stroma, necrosis);
    }
}
