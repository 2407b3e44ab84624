using System.Collections;
using System.Globalization;

namespace Lamina.Core.Config;

/// <summary>
/// Turns configuration nodes into CLR values of a declared type (plug-in parameters, typed keys of the
/// loaders), reporting every mismatch at the node at fault: <c>expected a number for 'factor', got a string ('abc')</c>.
/// </summary>
/// <remarks>
/// Supported: string, bool, the integer types (range-checked), float, double, decimal, enums (names matched
/// ignoring case and underscores), <see cref="TimeSpan"/>, <see cref="Nullable{T}"/>, object (plain values),
/// arrays, <c>List&lt;T&gt;</c> and its read-only interfaces (from a list only), and
/// <c>Dictionary&lt;string, T&gt;</c> and its read-only interface (from a mapping).
/// </remarks>
internal static class ConfigValueConverter
{
    private static readonly Dictionary<Type, (long Min, long Max)> IntegerRanges = new()
    {
        [typeof(sbyte)] = (sbyte.MinValue, sbyte.MaxValue),
        [typeof(byte)] = (byte.MinValue, byte.MaxValue),
        [typeof(short)] = (short.MinValue, short.MaxValue),
        [typeof(ushort)] = (ushort.MinValue, ushort.MaxValue),
        [typeof(int)] = (int.MinValue, int.MaxValue),
        [typeof(uint)] = (uint.MinValue, uint.MaxValue),
        [typeof(long)] = (long.MinValue, long.MaxValue),
        [typeof(ulong)] = (0, long.MaxValue),
    };

    /// <summary>
    /// Converts <paramref name="node"/> to <paramref name="type"/>; on failure adds diagnostics and returns false.
    /// </summary>
    /// <param name="name">How the value is named in messages (a parameter or key name).</param>
    /// <param name="allowNull">True when null is acceptable for a reference type (a nullable annotation).</param>
    public static bool TryConvert(ConfigNode node, Type type, string name, DiagnosticBag diagnostics, out object? value,
        bool allowNull = false)
    {
        var before = diagnostics.Items.Count;
        value = Convert(node, type, name, allowNull, diagnostics);
        return diagnostics.Items.Count == before;
    }

    /// <summary>Converts or throws <see cref="ConfigValidationException"/> with every problem found.</summary>
    public static object? Convert(ConfigNode node, Type type, string name, bool allowNull = false)
    {
        var diagnostics = new DiagnosticBag();
        var value = Convert(node, type, name, allowNull, diagnostics);
        diagnostics.ThrowIfAny();
        return value;
    }

    /// <summary>True when a configuration file can express a value of <paramref name="type"/>.</summary>
    public static bool IsSupported(Type type) => Expectation(type) is not null;

    /// <summary>What a value of the type looks like, for messages ("a number", "a list"); null when unsupported.</summary>
    public static string? Expectation(Type type)
    {
        if (Nullable.GetUnderlyingType(type) is { } underlying)
        {
            return Expectation(underlying) is { } inner ? inner + " or null" : null;
        }
        if (type == typeof(string)) return "a string";
        if (type == typeof(bool)) return "a boolean";
        if (IntegerRanges.ContainsKey(type)) return "an integer";
        if (type == typeof(float) || type == typeof(double) || type == typeof(decimal)) return "a number";
        if (type == typeof(TimeSpan)) return "a duration such as '00:01:30'";
        if (type == typeof(object)) return "a value";
        if (type.IsEnum) return "one of " + string.Join(", ", EnumNames(type).Select(n => $"'{n}'"));
        if (ListElement(type) is { } element) return IsSupported(element) ? "a list" : null;
        if (DictionaryValue(type) is { } item) return IsSupported(item) ? "a mapping" : null;
        return null;
    }

    /// <summary>How a node is named in "got ..." messages: <c>a string ('abc')</c>, <c>a list</c>, <c>null</c>.</summary>
    public static string Describe(ConfigNode node) => node switch
    {
        ConfigScalar { IsNull: true } => "null",
        ConfigScalar scalar => $"{scalar.KindName} ('{Shorten(scalar.Value)}')",
        _ => node.KindName,
    };

    private static object? Convert(ConfigNode node, Type type, string name, bool allowNull, DiagnosticBag diagnostics)
    {
        var underlying = Nullable.GetUnderlyingType(type);
        if (node is ConfigScalar { IsNull: true })
        {
            if (underlying is not null || type == typeof(object) || (allowNull && !type.IsValueType))
            {
                return null;
            }
            return Fail(node, type, name, diagnostics);
        }
        var target = underlying ?? type;
        if (target == typeof(object))
        {
            return node.ToPlain();
        }
        if (ListElement(target) is { } element)
        {
            return ConvertList(node, target, element, name, diagnostics);
        }
        if (DictionaryValue(target) is { } item)
        {
            return ConvertDictionary(node, target, item, name, diagnostics);
        }
        if (Expectation(target) is null)
        {
            diagnostics.Add(node, $"'{name}' has type {Naming.Display(type)}, which a configuration file cannot express");
            return null;
        }
        if (node is not ConfigScalar scalar)
        {
            return Fail(node, type, name, diagnostics);
        }
        if (target == typeof(string))
        {
            return scalar.Value;
        }
        if (target == typeof(bool))
        {
            return scalar.TryGetBoolean(out var flag) ? flag : Fail(node, type, name, diagnostics);
        }
        if (IntegerRanges.TryGetValue(target, out var range))
        {
            if (!scalar.TryGetInt64(out var integer))
            {
                return Fail(node, type, name, diagnostics);
            }
            if (integer < range.Min || integer > range.Max)
            {
                diagnostics.Add(node, $"expected an integer between {range.Min} and {range.Max} for '{name}', got {integer}");
                return null;
            }
            return System.Convert.ChangeType(integer, target, CultureInfo.InvariantCulture);
        }
        if (target == typeof(double))
        {
            if (!scalar.TryGetDouble(out var number))
            {
                return Fail(node, type, name, diagnostics);
            }
            return double.IsFinite(number) ? number : NotFinite(scalar, name, diagnostics);
        }
        if (target == typeof(float))
        {
            if (!scalar.TryGetDouble(out var number))
            {
                return Fail(node, type, name, diagnostics);
            }
            if (!double.IsFinite(number))
            {
                return NotFinite(scalar, name, diagnostics);
            }
            if (Math.Abs(number) > float.MaxValue)
            {
                diagnostics.Add(node, $"{scalar.Value} is too large for '{name}' ({Naming.Display(type)})");
                return null;
            }
            return (float)number;
        }
        if (target == typeof(decimal))
        {
            return !scalar.IsQuoted && decimal.TryParse(scalar.Value, NumberStyles.Float, CultureInfo.InvariantCulture, out var number)
                ? number
                : Fail(node, type, name, diagnostics);
        }
        if (target == typeof(TimeSpan))
        {
            return TimeSpan.TryParse(scalar.Value, CultureInfo.InvariantCulture, out var span) ? span : Fail(node, type, name, diagnostics);
        }
        if (target.IsEnum)
        {
            var wanted = Naming.Loose(scalar.Value);
            foreach (var member in Enum.GetNames(target))
            {
                if (Naming.Loose(member) == wanted)
                {
                    return Enum.Parse(target, member);
                }
            }
            diagnostics.Add(node, $"expected {Expectation(type)} for '{name}', got {Describe(node)}{Suggestions.Hint(scalar.Value, EnumNames(target))}");
            return null;
        }
        return Fail(node, type, name, diagnostics);
    }

    private static object? ConvertList(ConfigNode node, Type target, Type element, string name, DiagnosticBag diagnostics)
    {
        if (!IsSupported(element))
        {
            diagnostics.Add(node, $"'{name}' has type {Naming.Display(target)}, which a configuration file cannot express");
            return null;
        }
        if (node is not ConfigSequence sequence)
        {
            return Fail(node, target, name, diagnostics);
        }
        var items = sequence.Items;
        if (target.IsArray)
        {
            var array = Array.CreateInstance(element, items.Count);
            for (var i = 0; i < items.Count; i++)
            {
                if (Convert(items[i], element, $"{name}[{i}]", false, diagnostics) is { } item)
                {
                    array.SetValue(item, i);
                }
            }
            return array;
        }
        var list = (IList)Activator.CreateInstance(typeof(List<>).MakeGenericType(element), items.Count)!;
        for (var i = 0; i < items.Count; i++)
        {
            // A failed item is reported and left out; the list is not used once there are diagnostics.
            var item = Convert(items[i], element, $"{name}[{i}]", false, diagnostics);
            if (item is not null || !element.IsValueType)
            {
                list.Add(item);
            }
        }
        return list;
    }

    private static object? ConvertDictionary(ConfigNode node, Type target, Type item, string name, DiagnosticBag diagnostics)
    {
        if (!IsSupported(item))
        {
            diagnostics.Add(node, $"'{name}' has type {Naming.Display(target)}, which a configuration file cannot express");
            return null;
        }
        if (node is not ConfigMapping mapping)
        {
            return Fail(node, target, name, diagnostics);
        }
        var dictionary = (IDictionary)Activator.CreateInstance(
            typeof(Dictionary<,>).MakeGenericType(typeof(string), item), StringComparer.Ordinal)!;
        foreach (var (key, value) in mapping.Entries)
        {
            var converted = Convert(value, item, $"{name}.{key.Value}", false, diagnostics);
            if (converted is not null || !item.IsValueType)
            {
                dictionary[key.Value] = converted;
            }
        }
        return dictionary;
    }

    // NaN and the infinities are YAML numbers, but no parameter means them: they would only fail later, far from the file.
    private static object? NotFinite(ConfigScalar scalar, string name, DiagnosticBag diagnostics)
    {
        diagnostics.Add(scalar, $"expected a finite number for '{name}', got {ConfigReading.DescribeNonFinite(scalar)}");
        return null;
    }

    private static object? Fail(ConfigNode node, Type type, string name, DiagnosticBag diagnostics)
    {
        diagnostics.Add(node, $"expected {Expectation(type)} for '{name}', got {Describe(node)}");
        return null;
    }

    private static Type? ListElement(Type type)
    {
        if (type.IsArray)
        {
            return type.GetArrayRank() == 1 ? type.GetElementType() : null;
        }
        if (!type.IsGenericType)
        {
            return null;
        }
        var definition = type.GetGenericTypeDefinition();
        return definition == typeof(List<>) || definition == typeof(IReadOnlyList<>) || definition == typeof(IList<>)
               || definition == typeof(IReadOnlyCollection<>) || definition == typeof(ICollection<>)
               || definition == typeof(IEnumerable<>)
            ? type.GetGenericArguments()[0]
            : null;
    }

    private static Type? DictionaryValue(Type type)
    {
        if (!type.IsGenericType)
        {
            return null;
        }
        var definition = type.GetGenericTypeDefinition();
        var arguments = type.GetGenericArguments();
        return (definition == typeof(Dictionary<,>) || definition == typeof(IReadOnlyDictionary<,>) || definition == typeof(IDictionary<,>))
               && arguments[0] == typeof(string)
            ? arguments[1]
            : null;
    }

    private static IEnumerable<string> EnumNames(Type type) => Enum.GetNames(type).Select(Naming.SnakeCase);

    private static string Shorten(string text) => text.Length <= 40 ? text : text[..37] + "...";
}
