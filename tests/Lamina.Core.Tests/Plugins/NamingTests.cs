using Lamina.Core.Config;

namespace Lamina.Core.Tests.Plugins;

public sealed class NamingTests
{
    [Theory]
    [InlineData("factor", "factor")]
    [InlineData("nLayers", "n_layers")]
    [InlineData("wsiPath", "wsi_path")]
    [InlineData("HTTPPort", "http_port")]
    [InlineData("labelsPath2D", "labels_path2d")]
    [InlineData("layer2Norm", "layer2_norm")]
    [InlineData("already_snake", "already_snake")]
    public void SnakeCase_ConstructorParameterNames_BecomeConfigurationKeys(string clr, string expected) =>
        Assert.Equal(expected, Naming.SnakeCase(clr));

    [Theory]
    [InlineData(typeof(float), "float")]
    [InlineData(typeof(int?), "int?")]
    [InlineData(typeof(string[]), "string[]")]
    [InlineData(typeof(IReadOnlyDictionary<string, double>), "IReadOnlyDictionary<string, double>")]
    public void Display_Types_ReadLikeCSharp(Type type, string expected) =>
        Assert.Equal(expected, Naming.Display(type));
}
