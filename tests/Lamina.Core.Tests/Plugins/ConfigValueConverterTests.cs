using Lamina.Core.Config;

namespace Lamina.Core.Tests.Plugins;

public sealed class ConfigValueConverterTests
{
    private static ConfigNode Value(string yaml)
    {
        var diagnostics = new DiagnosticBag();
        var root = (ConfigMapping)YamlConfigReader.Read("v: " + yaml + "\n", "t.yaml", diagnostics)!;
        return root["v"]!;
    }

    private static (object? Value, IReadOnlyList<ConfigDiagnostic> Diagnostics) Convert(string yaml, Type type, bool allowNull = false)
    {
        var diagnostics = new DiagnosticBag();
        ConfigValueConverter.TryConvert(Value(yaml), type, "v", diagnostics, out var value, allowNull);
        return (value, diagnostics.Items);
    }

    [Theory]
    [InlineData("42", typeof(int), 42)]
    [InlineData("42", typeof(long), 42L)]
    [InlineData("42", typeof(double), 42.0)]
    [InlineData("2.5", typeof(float), 2.5f)]
    [InlineData("true", typeof(bool), true)]
    [InlineData("42", typeof(string), "42")]
    [InlineData("'text'", typeof(string), "text")]
    [InlineData("~", typeof(int?), null)]
    [InlineData("7", typeof(int?), 7)]
    public void Convert_Scalars_FollowTheTargetType(string yaml, Type type, object? expected)
    {
        // When
        var (value, diagnostics) = Convert(yaml, type);

        // Then
        Assert.Empty(diagnostics);
        Assert.Equal(expected, value);
    }

    [Fact]
    public void Convert_DecimalAndTimeSpan_ParseInvariantText()
    {
        // When
        var (amount, _) = Convert("0.1", typeof(decimal));
        var (span, _) = Convert("00:01:30", typeof(TimeSpan));

        // Then
        Assert.Equal(0.1m, amount);
        Assert.Equal(TimeSpan.FromSeconds(90), span);
    }

    [Theory]
    [InlineData("3000000000", typeof(int), "expected an integer between -2147483648 and 2147483647 for 'v', got 3000000000")]
    [InlineData("1.5", typeof(int), "expected an integer for 'v', got a number ('1.5')")]
    [InlineData("'true'", typeof(bool), "expected a boolean for 'v', got a string ('true')")]
    [InlineData("~", typeof(int), "expected an integer for 'v', got null")]
    [InlineData("~", typeof(string), "expected a string for 'v', got null")]
    [InlineData("5", typeof(int[]), "expected a list for 'v', got an integer ('5')")]
    [InlineData("[1, 2]", typeof(double), "expected a number for 'v', got a list")]
    public void Convert_Mismatch_SaysWhatWasExpectedAndWhatWasGiven(string yaml, Type type, string message)
    {
        // When
        var (_, diagnostics) = Convert(yaml, type);

        // Then
        Assert.Equal(message, Assert.Single(diagnostics).Message);
    }

    [Fact]
    public void Convert_NullForANullableReference_IsAccepted()
    {
        // When
        var (value, diagnostics) = Convert("null", typeof(string), allowNull: true);

        // Then
        Assert.Empty(diagnostics);
        Assert.Null(value);
    }

    [Fact]
    public void Convert_Collections_BuildListsArraysAndDictionaries()
    {
        // When
        var (list, _) = Convert("[a, b]", typeof(IReadOnlyList<string>));
        var (array, _) = Convert("[1.5, 2]", typeof(double[]));
        var (map, mapErrors) = Convert("{tumor: 2, stroma: 1}", typeof(IReadOnlyDictionary<string, int>));

        // Then
        Assert.Equal(["a", "b"], (IReadOnlyList<string>)list!);
        Assert.Equal([1.5, 2.0], (double[])array!);
        Assert.Empty(mapErrors);
        Assert.Equal(2, ((IReadOnlyDictionary<string, int>)map!)["tumor"]);
    }

    [Fact]
    public void Convert_MistypedDictionaryValue_IsNamedByItsKey()
    {
        // When
        var (_, diagnostics) = Convert("{tumor: high}", typeof(Dictionary<string, double>));

        // Then
        var error = Assert.Single(diagnostics);
        Assert.Equal("expected a number for 'v.tumor', got a string ('high')", error.Message);
        Assert.Equal("v.tumor", error.KeyPath);
    }
}
