using Lamina.Core.Config;

namespace Lamina.Core.Tests.Config;

public sealed class YamlConfigReaderTests
{
    [Fact]
    public void Read_Nodes_HaveOneBasedLocationsAndKeyPaths()
    {
        var bag = new DiagnosticBag();

        var root = (ConfigMapping)YamlConfigReader.Read("version: 1\nmodels:\n  m:\n    metrics:\n      - cls: accuracy\n", "lamina.yaml", bag)!;

        Assert.Empty(bag.Items);
        Assert.Equal(new SourceLocation("lamina.yaml", 1, 1), root.Location);
        Assert.Equal(new SourceLocation("lamina.yaml", 1, 10), root["version"]!.Location);
        var item = (ConfigMapping)((ConfigSequence)((ConfigMapping)((ConfigMapping)root["models"]!)["m"]!)["metrics"]!).Items[0];
        Assert.Equal("models.m.metrics[0]", item.Path);
        var cls = item["cls"]!;
        Assert.Equal(new SourceLocation("lamina.yaml", 5, 14), cls.Location);
        Assert.Equal("models.m.metrics[0].cls", cls.Path);
        Assert.Equal(new SourceLocation("lamina.yaml", 5, 9), item.Entries[0].Key.Location);
    }

    [Fact]
    public void Read_DuplicateKey_ReportsBothLinesAndKeepsTheFirst()
    {
        var bag = new DiagnosticBag();

        var root = (ConfigMapping)YamlConfigReader.Read("a: 1\nb: 2\na: 3\n", "f.yaml", bag)!;

        var diagnostic = Assert.Single(bag.Items);
        Assert.Equal("f.yaml:3:1: a: duplicate key 'a' (first defined at line 1)", diagnostic.ToString());
        Assert.Equal("1", ((ConfigScalar)root["a"]!).Value);
    }

    [Fact]
    public void Read_UnclosedFlowList_IsADiagnosticNotAnException()
    {
        var bag = new DiagnosticBag();

        var root = YamlConfigReader.Read("a: [1, 2\nb: 3\n", "f.yaml", bag);

        Assert.Null(root);
        var diagnostic = Assert.Single(bag.Items);
        Assert.Equal(new SourceLocation("f.yaml", 1, 6), diagnostic.Location);
        Assert.StartsWith("YAML syntax error: ", diagnostic.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Read_SyntaxError_IsADiagnosticAtItsPosition()
    {
        var bag = new DiagnosticBag();

        var root = YamlConfigReader.Read("a: 1\nb: [1, 2\n", "f.yaml", bag);

        Assert.Null(root);
        var diagnostic = Assert.Single(bag.Items);
        Assert.Equal(3, diagnostic.Location.Line);
        Assert.StartsWith("YAML syntax error: ", diagnostic.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("x: 3", "an integer")]
    [InlineData("x: '3'", "a string")]
    [InlineData("x: 2.5", "a number")]
    [InlineData("x: true", "a boolean")]
    [InlineData("x: ~", "null")]
    [InlineData("x: [1]", "a list")]
    [InlineData("x: {a: 1}", "a mapping")]
    public void Read_Values_HaveTheirKindNames(string yaml, string kind)
    {
        var root = (ConfigMapping)YamlConfigReader.Read(yaml, "f", new DiagnosticBag())!;

        Assert.Equal(kind, root["x"]!.KindName);
    }
}
