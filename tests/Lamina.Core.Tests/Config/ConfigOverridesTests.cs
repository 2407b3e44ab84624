using Lamina.Core.Config;

namespace Lamina.Core.Tests.Config;

public sealed class ConfigOverridesTests
{
    private const string Yaml = """
        models:
          m:
            loss:
              cls: BinaryFocal
            metrics:
              - cls: accuracy
        tasks:
          t:
            name: Train
            params:
              n_epochs: 50
        """;

    private static (ConfigMapping Root, DiagnosticBag Bag) Apply(params string[] overrides)
    {
        var bag = new DiagnosticBag();
        var root = (ConfigMapping)YamlConfigReader.Read(Yaml, "lamina.yaml", bag)!;
        ConfigOverrides.Apply(root, overrides, bag);
        return (root, bag);
    }

    private static ConfigNode At(ConfigNode root, params object[] steps)
    {
        var node = root;
        foreach (var step in steps)
        {
            node = step is int index ? ((ConfigSequence)node).Items[index] : ((ConfigMapping)node)[(string)step]!;
        }
        return node;
    }

    [Fact]
    public void Apply_PlainInteger_ReplacesTheValueAsAnInteger()
    {
        var (root, bag) = Apply("tasks.t.params.n_epochs=3");

        Assert.Empty(bag.Items);
        var value = Assert.IsType<ConfigScalar>(At(root, "tasks", "t", "params", "n_epochs"));
        Assert.True(value.TryGetInt64(out var epochs));
        Assert.Equal(3, epochs);
        Assert.Equal("tasks.t.params.n_epochs", value.Path);
        Assert.Equal(new SourceLocation("--set tasks.t.params.n_epochs=3", 1, 1), value.Location);
    }

    [Fact]
    public void Apply_QuotedValue_IsAString()
    {
        var (root, bag) = Apply("tasks.t.params.n_epochs='3'");

        Assert.Empty(bag.Items);
        var value = Assert.IsType<ConfigScalar>(At(root, "tasks", "t", "params", "n_epochs"));
        Assert.Equal("a string", value.KindName);
        Assert.Equal("3", value.Value);
    }

    [Fact]
    public void Apply_EmptyValue_IsTheEmptyString()
    {
        var (root, bag) = Apply("tasks.t.name=");

        Assert.Empty(bag.Items);
        var value = Assert.IsType<ConfigScalar>(At(root, "tasks", "t", "name"));
        Assert.Equal(("", false), (value.Value, value.IsNull));
    }

    [Fact]
    public void Apply_ValueWithEquals_SplitsAtTheFirstOne()
    {
        var (root, bag) = Apply("tasks.t.name=a=b");

        Assert.Empty(bag.Items);
        Assert.Equal("a=b", ((ConfigScalar)At(root, "tasks", "t", "name")).Value);
    }

    [Fact]
    public void Apply_FlowList_ReplacesTheSubtreeWithRerootedPaths()
    {
        var (root, bag) = Apply("models.m.metrics=[{cls: accuracy}, {cls: auc, params: {average: macro}}]");

        Assert.Empty(bag.Items);
        Assert.Equal("models.m.metrics", At(root, "models", "m", "metrics").Path);
        Assert.Equal("models.m.metrics[0]", At(root, "models", "m", "metrics", 0).Path);
        Assert.Equal("models.m.metrics[0].cls", At(root, "models", "m", "metrics", 0, "cls").Path);
        Assert.Equal("models.m.metrics[1].params.average", At(root, "models", "m", "metrics", 1, "params", "average").Path);
        var key = ((ConfigMapping)At(root, "models", "m", "metrics", 1)).Entries[1].Key;
        Assert.Equal("models.m.metrics[1].params", key.Path);
    }

    [Fact]
    public void Apply_ListItem_ReplacesOneItem()
    {
        var (root, bag) = Apply("models.m.metrics[0].cls=auc", "models.m.metrics[0]={cls: f1}");

        Assert.Empty(bag.Items);
        var metrics = (ConfigSequence)At(root, "models", "m", "metrics");
        var item = Assert.Single(metrics.Items);
        Assert.Equal("f1", ((ConfigScalar)At(item, "cls")).Value);
        Assert.Equal("models.m.metrics[0].cls", At(item, "cls").Path);
    }

    [Fact]
    public void Apply_MissingIntermediateMappings_AreCreated()
    {
        var (root, bag) = Apply("models.m.loss.params.gamma=1.5", "data.loaders.disk.cls=DiskLoader");

        Assert.Empty(bag.Items);
        var parameters = Assert.IsType<ConfigMapping>(At(root, "models", "m", "loss", "params"));
        Assert.Equal("models.m.loss.params", parameters.Path);
        Assert.Equal(ConfigOverrides.Location, parameters.Location);
        Assert.Equal("1.5", ((ConfigScalar)At(parameters, "gamma")).Value);
        Assert.Equal("data.loaders.disk.cls", At(root, "data", "loaders", "disk", "cls").Path);
        Assert.Equal(["models", "tasks", "data"], root.Keys);
    }

    [Fact]
    public void Apply_NullValueOnTheWay_BecomesAMapping()
    {
        var bag = new DiagnosticBag();
        var root = (ConfigMapping)YamlConfigReader.Read("loss:\n  cls: X\n  params:\n", "f", bag)!;

        ConfigOverrides.Apply(root, ["loss.params.gamma=2"], bag);

        Assert.Empty(bag.Items);
        Assert.Equal("2", ((ConfigScalar)At(root, "loss", "params", "gamma")).Value);
    }

    [Theory]
    [InlineData("models.m.loss.cls.x=1", "--set: models.m.loss.cls.x: cannot set a key inside a string")]
    [InlineData("tasks.t.name.first.second=1", "--set: tasks.t.name.first.second: cannot set a key inside a string")]
    [InlineData("models.m.metrics.cls=auc", "--set: models.m.metrics.cls: cannot set a key inside a list")]
    [InlineData("models.m.metrics[1].cls=auc", "--set: models.m.metrics[1].cls: index 1 is out of range; 'models.m.metrics' has 1 item(s)")]
    [InlineData("models.m.metrics[5]=x", "--set: models.m.metrics[5]: index 5 is out of range; 'models.m.metrics' has 1 item(s)")]
    [InlineData("models[0]=x", "--set: models[0]: cannot index into a mapping")]
    [InlineData("tasks.t.params.n_epochs", "--set: 'tasks.t.params.n_epochs' is not of the form key.path=value")]
    [InlineData("=3", "--set: '=3' has an empty key path")]
    [InlineData("models..m=3", "--set: models..m: the key path has an empty segment")]
    [InlineData("models.m.metrics[x]=3", "--set: models.m.metrics[x]: 'metrics[x]' is not a key or a list item such as 'name[2]'")]
    public void Apply_BadEntry_ReportsItAndChangesNothing(string entry, string expected)
    {
        var (root, bag) = Apply(entry);

        var diagnostic = Assert.Single(bag.Items);
        Assert.Equal(expected, diagnostic.ToString());
        Assert.Equal(ConfigOverrides.Location, diagnostic.Location);
        Assert.Equal(["models", "tasks"], root.Keys);
        Assert.Equal("BinaryFocal", ((ConfigScalar)At(root, "models", "m", "loss", "cls")).Value);
    }

    [Fact]
    public void Apply_BadYamlValue_ReportsASyntaxErrorAtTheOverride()
    {
        var (root, bag) = Apply("tasks.t.name=[unclosed");

        var diagnostic = Assert.Single(bag.Items);
        Assert.Equal("--set tasks.t.name=[unclosed", diagnostic.Location.File);
        Assert.StartsWith("YAML syntax error", diagnostic.Message, StringComparison.Ordinal);
        Assert.Equal("Train", ((ConfigScalar)At(root, "tasks", "t", "name")).Value);
    }

    [Fact]
    public void Apply_SeveralEntries_AppliesThemInOrder()
    {
        var (root, bag) = Apply("tasks.t.params.n_epochs=3", "tasks.t.params.n_epochs=4", "tasks.t.params=7", "oops");

        Assert.Single(bag.Items);
        Assert.Equal("7", ((ConfigScalar)At(root, "tasks", "t", "params")).Value);
    }
}
