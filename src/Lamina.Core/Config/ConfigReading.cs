using System.Globalization;
using Lamina.Core.Plugins;

namespace Lamina.Core.Config;

/// <summary>
/// Typed reads of configuration nodes that report a diagnostic at the node when the type is wrong, shared by the
/// readers of experiment and analysis files so that both word their problems the same way.
/// </summary>
public sealed class ConfigReading(DiagnosticBag diagnostics)
{
    private static readonly string[] SpecKeys = ["cls", "params"];

    /// <summary>Where every problem goes.</summary>
    public DiagnosticBag Diagnostics { get; } = diagnostics;

    /// <summary>Every well-formed <c>{cls, params}</c> entry read so far, with the family it must belong to.</summary>
    public List<(PluginSpec Spec, PluginKind Kind)> Plugins { get; } = [];

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

    /// <summary>A finite number: NaN and the infinities (<c>.nan</c>, <c>.inf</c>, <c>1e400</c>) are reported.</summary>
    public double? Number(ConfigNode node)
    {
        if (node is not ConfigScalar scalar || !scalar.TryGetDouble(out var value))
        {
            Diagnostics.Add(node, $"expected a number, got {Describe(node)}");
            return null;
        }
        if (!double.IsFinite(value))
        {
            Diagnostics.Add(node, $"expected a finite number, got {DescribeNonFinite(scalar)}");
            return null;
        }
        return value;
    }

    /// <summary>How a number that is not finite is named: <c>'1e400' (infinite)</c>, <c>'.nan' (not a number)</c>.</summary>
    internal static string DescribeNonFinite(ConfigScalar scalar) =>
        scalar.TryGetDouble(out var value) && double.IsNaN(value) ? $"'{scalar.Value}' (not a number)" : $"'{scalar.Value}' (infinite)";

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

    /// <summary>Reads <c>version</c>, which must be one of <paramref name="supported"/>; null after reporting a problem.</summary>
    public int? Version(ConfigMapping root, IReadOnlyList<int> supported)
    {
        if (Required(root, "version") is not { } node || Integer(node) is not { } version)
        {
            return null;
        }
        if (!supported.Contains(version))
        {
            Diagnostics.Add(node,
                $"unsupported version {version.ToString(CultureInfo.InvariantCulture)}; this Lamina reads " +
                (supported.Count == 1 ? $"version {supported[0]}" : $"versions {string.Join(", ", supported)}"));
            return null;
        }
        return version;
    }

    /// <summary>
    /// One folder or a list of them, relative to <paramref name="baseDirectory"/>: the full paths of those that
    /// exist; each missing one is reported as not next to <paramref name="owner"/> ("the experiment file").
    /// </summary>
    public List<string> Folders(ConfigNode node, string baseDirectory, string owner)
    {
        var folders = new List<string>();
        IEnumerable<ConfigNode> items = node is ConfigSequence sequence ? sequence.Items : [node];
        foreach (var item in items)
        {
            if (String(item, nonEmpty: true) is not { } folder)
            {
                continue;
            }
            var full = Path.GetFullPath(Path.Combine(baseDirectory, folder));
            if (Directory.Exists(full))
            {
                folders.Add(full);
            }
            else
            {
                Diagnostics.Add(item, $"no folder '{folder}' next to {owner}");
            }
        }
        return folders;
    }

    /// <summary>A string that must be one of <paramref name="allowed"/>; an unknown one is reported with the nearest and the list.</summary>
    /// <param name="what">What the value is, for the message: "sourcing" gives "unknown sourcing 'x'".</param>
    public string? Choice(ConfigNode node, string what, IReadOnlyList<string> allowed)
    {
        if (String(node) is not { } text)
        {
            return null;
        }
        if (allowed.Contains(text, StringComparer.Ordinal))
        {
            return text;
        }
        Diagnostics.Add(node, $"unknown {what} '{text}'{Suggestions.Hint(text, allowed)} (known: {string.Join(", ", allowed)})");
        return null;
    }

    /// <summary>
    /// Reads a <c>{cls, params}</c> entry (with <paramref name="keys"/> allowed besides <c>cls</c> and <c>params</c>);
    /// a well-formed one is queued in <see cref="Plugins"/> for the catalog checks. Null when <c>cls</c> is missing.
    /// </summary>
    public PluginSpec? Plugin(ConfigNode node, PluginKind kind, IReadOnlyList<string>? keys = null)
    {
        if (Mapping(node, hint: " with 'cls' and 'params'") is not { } entry)
        {
            return null;
        }
        OnlyKeys(entry, keys is null ? SpecKeys : [.. SpecKeys, .. keys]);
        var cls = Required(entry, "cls") is { } clsNode ? String(clsNode, nonEmpty: true) : null;
        ConfigMapping? parameters = null;
        var parametersValid = true;
        if (Optional(entry, "params") is { } paramsNode)
        {
            parameters = Mapping(paramsNode);
            parametersValid = parameters is not null;
        }
        if (cls is null)
        {
            return null;
        }
        var spec = new PluginSpec(cls, parameters, entry);
        // With params that are not a mapping, the binder would add "missing parameter" noise; the kind of
        // mistake is already reported.
        if (parametersValid)
        {
            Plugins.Add((spec, kind));
        }
        return spec;
    }

    /// <summary>One <c>{cls, params}</c> entry or a list of them under <paramref name="key"/>; empty when absent.</summary>
    public List<PluginSpec> PluginList(ConfigMapping owner, string key, PluginKind kind)
    {
        var specs = new List<PluginSpec>();
        if (Optional(owner, key) is not { } node)
        {
            return specs;
        }
        IEnumerable<ConfigNode> items = node is ConfigSequence sequence ? sequence.Items : [node];
        foreach (var item in items)
        {
            if (Plugin(item, kind) is { } spec)
            {
                specs.Add(spec);
            }
        }
        return specs;
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
