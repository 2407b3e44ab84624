using System.Text;
using Lamina.Core.Config;

namespace Lamina.Core.Tests.Config;

/// <summary>Issue 12: configuration input is bounded (size, nesting, aliases), text only, and numbers are finite.</summary>
public sealed class ConfigInputLimitsTests : IDisposable
{
    private readonly TemporaryDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    private static ConfigDiagnostic Single(DiagnosticBag bag) => Assert.Single(bag.Items);

    [Theory]
    [InlineData("[", "]")]
    [InlineData("{a: ", "}")]
    [InlineData("- ", "")]
    public void Read_NestingPastTheLimit_IsOneDiagnosticAtTheLevelPastIt_NotAStackOverflow(string open, string close)
    {
        // Given 20,000 levels, as the issue's hostile file
        var text = string.Concat(Enumerable.Repeat(open, 20_000)) + "1" + string.Concat(Enumerable.Repeat(close, 20_000));
        var bag = new DiagnosticBag();

        // When
        var root = YamlConfigReader.Read(text, "deep.yaml", bag);

        // Then
        Assert.Null(root);
        var diagnostic = Single(bag);
        Assert.Contains($"nested more than {YamlConfigReader.MaxDepth} levels deep", diagnostic.Message);
        Assert.Equal("deep.yaml", diagnostic.Location.File);
        Assert.True(diagnostic.Location.Line >= 1);
    }

    [Fact]
    public void Read_NestingAtTheLimit_IsRead()
    {
        var text = new string('[', YamlConfigReader.MaxDepth) + "1" + new string(']', YamlConfigReader.MaxDepth);
        var bag = new DiagnosticBag();

        var root = YamlConfigReader.Read(text, "deep.yaml", bag);

        Assert.Empty(bag.Items);
        Assert.IsType<ConfigSequence>(root);
    }

    [Fact]
    public void Read_AliasesThatExpandExponentially_AreRefusedAtTheLimit()
    {
        // Given a "billion laughs": nine levels of nine aliases each
        var text = new StringBuilder("a0: &a0 [x, x, x, x, x, x, x, x, x]\n");
        for (var i = 1; i < 10; i++)
        {
            text.Append($"a{i}: &a{i} [{string.Join(", ", Enumerable.Repeat($"*a{i - 1}", 9))}]\n");
        }
        var bag = new DiagnosticBag();

        var root = YamlConfigReader.Read(text.ToString(), "laughs.yaml", bag);

        Assert.Null(root);
        Assert.Contains("expands to more than 1,000,000 values", Single(bag).Message);
    }

    [Fact]
    public void Read_AnAliasInsideTheNodeItNames_IsRefused_NotALoop()
    {
        var bag = new DiagnosticBag();

        var root = YamlConfigReader.Read("a: &loop [1, *loop]\n", "loop.yaml", bag);

        Assert.Null(root);
        Assert.Contains("alias '*loop' refers to a node that contains it", Single(bag).Message);
    }

    [Fact]
    public void Read_AliasesDeepenTheNesting_AsWhatTheyRepeat()
    {
        var deep = new string('[', 40) + "1" + new string(']', 40);
        var bag = new DiagnosticBag();

        var root = YamlConfigReader.Read($"a: &deep {deep}\nb: {new string('[', 30)}*deep{new string(']', 30)}\n", "alias.yaml", bag);

        Assert.Null(root);
        Assert.Contains("nested more than 64 levels deep", Single(bag).Message);
    }

    [Fact]
    public void ReadFile_LargerThanTheLimit_IsRefusedSayingTheSizeAndTheLimit()
    {
        var path = _temp.Combine("huge.yaml");
        File.WriteAllText(path, "a: " + new string('x', YamlConfigReader.MaxFileBytes) + "\n");
        var bag = new DiagnosticBag();

        Assert.Null(YamlConfigReader.ReadFile(path, bag));

        var diagnostic = Single(bag);
        Assert.Equal(path, diagnostic.Location.File);
        Assert.Contains("1,048,580 bytes", diagnostic.Message);
        Assert.Contains("at most 1,048,576 bytes (1 MiB)", diagnostic.Message);
    }

    [Theory]
    [InlineData("/dev/zero")]
    [InlineData("/dev/urandom")]
    public void ReadFile_ADevice_IsRefusedAtOnce(string device)
    {
        if (!File.Exists(device)) return; // not a Unix system
        var bag = new DiagnosticBag();

        Assert.Null(YamlConfigReader.ReadFile(device, bag));

        Assert.Contains("not a regular file", Single(bag).Message);
    }

    [Fact]
    public void ReadFile_WithANulByte_IsRefusedAsBinary_AtItsLine()
    {
        var path = _temp.Combine("binary.yaml");
        File.WriteAllBytes(path, [.. "a: 1\nb: x"u8, 0, .. "y\n"u8]);
        var bag = new DiagnosticBag();

        Assert.Null(YamlConfigReader.ReadFile(path, bag));

        var diagnostic = Single(bag);
        Assert.Equal(new SourceLocation(path, 2, 5), diagnostic.Location);
        Assert.Contains("not a text file", diagnostic.Message);
    }

    [Fact]
    public void ReadFile_NotUtf8_IsRefusedNamingTheByte()
    {
        var path = _temp.Combine("latin1.yaml");
        File.WriteAllBytes(path, [.. "name: caf"u8, 0xE9, .. "\n"u8]);
        var bag = new DiagnosticBag();

        Assert.Null(YamlConfigReader.ReadFile(path, bag));

        Assert.Contains("the bytes are not UTF-8 (at byte 9)", Single(bag).Message);
    }

    [Fact]
    public void ReadFile_Utf8WithABomAndUtf16WithABom_AreRead()
    {
        var utf8 = _temp.Combine("bom8.yaml");
        var utf16 = _temp.Combine("bom16.yaml");
        File.WriteAllText(utf8, "name: café\n", new UTF8Encoding(true));
        File.WriteAllText(utf16, "name: café\n", Encoding.Unicode);
        var bag = new DiagnosticBag();

        var first = (ConfigMapping)YamlConfigReader.ReadFile(utf8, bag)!;
        var second = (ConfigMapping)YamlConfigReader.ReadFile(utf16, bag)!;

        Assert.Empty(bag.Items);
        Assert.Equal("café", ((ConfigScalar)first["name"]!).Value);
        Assert.Equal("café", ((ConfigScalar)second["name"]!).Value);
    }

    [Theory]
    [InlineData(".nan", "not a number")]
    [InlineData(".inf", "infinite")]
    [InlineData("-.inf", "infinite")]
    [InlineData("1e400", "infinite")]
    [InlineData("-1e400", "infinite")]
    public void Number_NotFinite_IsReportedAtTheKey(string yaml, string what)
    {
        var bag = new DiagnosticBag();
        var root = (ConfigMapping)YamlConfigReader.Read($"a: 1\nfactor: {yaml}\n", "lamina.yaml", bag)!;

        var value = new ConfigReading(bag).Number(root["factor"]!);

        Assert.Null(value);
        var diagnostic = Single(bag);
        Assert.Equal((2, "factor"), (diagnostic.Location.Line, diagnostic.KeyPath));
        Assert.Equal($"expected a finite number, got '{yaml}' ({what})", diagnostic.Message);
    }

    [Theory]
    [InlineData(".nan", typeof(double))]
    [InlineData("1e400", typeof(double))]
    [InlineData("-.inf", typeof(double?))]
    [InlineData(".inf", typeof(float))]
    [InlineData("[1, .nan]", typeof(double[]))]
    [InlineData("{a: .inf}", typeof(Dictionary<string, float>))]
    public void Convert_NotFinite_IsRefusedForEveryFloatingPointType(string yaml, Type type)
    {
        var bag = new DiagnosticBag();
        var root = (ConfigMapping)YamlConfigReader.Read($"factor: {yaml}\n", "lamina.yaml", bag)!;

        Assert.False(ConfigValueConverter.TryConvert(root["factor"]!, type, "factor", bag, out _));

        Assert.Contains("expected a finite number for 'factor", Single(bag).Message);
    }

    [Fact]
    public void ToPlain_NotFinite_StaysText_SoTheTreeSerialises()
    {
        var bag = new DiagnosticBag();
        var root = YamlConfigReader.Read("a: .nan\nb: 1e400\nc: 2.5\n", "lamina.yaml", bag)!;

        var json = System.Text.Json.JsonSerializer.Serialize(root.ToPlain());

        Assert.Equal("""{"a":".nan","b":"1e400","c":2.5}""", json);
    }

    [Fact]
    public void Overrides_NotFiniteOrTooDeep_AreReportedAtSet()
    {
        var bag = new DiagnosticBag();
        var root = (ConfigMapping)YamlConfigReader.Read("a: 1\n", "lamina.yaml", bag)!;

        ConfigOverrides.Apply(root, ["deep=" + new string('[', 5000)], bag);

        Assert.Contains("nested more than 64 levels deep", Single(bag).Message);
    }
}
