using System.Globalization;
using Lamina.Core.Config;

namespace Lamina.Lab.Experiments;

/// <summary>Typed reads of configuration nodes that report a diagnostic at the node when the type is wrong.</summary>
internal sealed class ConfigReading(DiagnosticBag diagnostics)
{
    public DiagnosticBag Diagnostics { get; } = diagnostics;

    public ConfigMapping? Mapping(ConfigNode node, string? hint = null)
    {
        if (node is ConfigMapping mapping)
        {
            return mapping;
        }
        Diagnostics.Add(node, $"expected a mapping{hint}, got {Describe(node)}");
        return null;
    }

    public ConfigSequence? Sequence(ConfigNode node)
    {
        if (node is ConfigSequence sequence)
        {
            return sequence;
        }
        Diagnostics.Add(node, $"expected a list, got {Describe(node)}");
        return null;
    }

    /// <summary>Any non-null scalar reads as its text: <c>name: 2024</c> is a fine name.</summary>
    public string? String(ConfigNode node, bool nonEmpty = false)
    {
        if (node is not ConfigScalar { IsNull: false } scalar)
        {
            Diagnostics.Add(node, $"expected a string, got {Describe(node)}");
            return null;
        }
        if (nonEmpty && string.IsNullOrWhiteSpace(scalar.Value))
        {
            Diagnostics.Add(node, "must not be empty");
            return null;
        }
        return scalar.Value;
    }

    public int? Integer(ConfigNode node, int minimum = int.MinValue)
    {
        if (node is not ConfigScalar scalar || !scalar.TryGetInt64(out var value))
        {
            Diagnostics.Add(node, $"expected an integer, got {Describe(node)}");
            return null;
        }
        if (value < minimum || value > int.MaxValue)
        {
            Diagnostics.Add(node, value < minimum
                ? $"must be at least {minimum.ToString(CultureInfo.InvariantCulture)}, got {scalar.Value}"
                : $"must be at most {int.MaxValue.ToString(CultureInfo.InvariantCulture)}, got {scalar.Value}");
            return null;
        }
        return (int)value;
    }

    public double? Number(ConfigNode node)
    {
        if (node is not ConfigScalar scalar || !scalar.TryGetDouble(out var value))
        {
            Diagnostics.Add(node, $"expected a number, got {Describe(node)}");
            return null;
        }
        return value;
    }

    /// <summary>A list of strings; a bad item is reported and left out.</summary>
    public IReadOnlyList<string>? Strings(ConfigNode node)
    {
        if (Sequence(node) is not { } sequence)
        {
            return null;
        }
        var values = new List<string>();
        foreach (var item in sequence.Items)
        {
            if (String(item) is { } value)
            {
                values.Add(value);
            }
        }
        return values;
    }

    /// <summary>Reports every key not in <paramref name="allowed"/>, at the key, with the nearest allowed one.</summary>
    public void OnlyKeys(ConfigMapping mapping, IReadOnlyList<string> allowed)
    {
        foreach (var (key, _) in mapping.Entries)
        {
            if (!allowed.Contains(key.Value, StringComparer.Ordinal))
            {
                Diagnostics.Add(key, $"unknown key '{key.Value}'{Suggestions.Hint(key.Value, allowed)}");
            }
        }
    }

    /// <summary>The value of a required key, or null after reporting it missing (at the mapping).</summary>
    public ConfigNode? Required(ConfigMapping mapping, string key)
    {
        if (mapping[key] is { } value)
        {
            return value;
        }
        Diagnostics.Add(mapping, $"missing required key '{key}'");
        return null;
    }

    /// <summary>The value of an optional key; an explicit null counts as absent.</summary>
    public static ConfigNode? Optional(ConfigMapping mapping, string key) =>
        mapping[key] is { } value and not ConfigScalar { IsNull: true } ? value : null;

    /// <summary>"a list", "null", or for scalars the kind and the text: "a string ('fifty')".</summary>
    public static string Describe(ConfigNode node) =>
        node is ConfigScalar { IsNull: false } scalar ? $"{scalar.KindName} ('{scalar.Value}')" : node.KindName;
}
