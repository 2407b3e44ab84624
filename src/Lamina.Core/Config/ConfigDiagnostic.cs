namespace Lamina.Core.Config;

/// <summary>One problem found in a configuration file, at a place and a key path.</summary>
public sealed record ConfigDiagnostic(SourceLocation Location, string KeyPath, string Message)
{
    /// <summary>The form printed to users: <c>file:line:col: key.path: message</c>.</summary>
    public override string ToString() =>
        string.IsNullOrEmpty(KeyPath) ? $"{Location}: {Message}" : $"{Location}: {KeyPath}: {Message}";
}

/// <summary>Collects every problem of a file so that all of them are reported at once.</summary>
public sealed class DiagnosticBag
{
    private readonly List<ConfigDiagnostic> _items = [];

    public IReadOnlyList<ConfigDiagnostic> Items => _items;

    public bool HasErrors => _items.Count > 0;

    public void Add(SourceLocation location, string keyPath, string message) =>
        _items.Add(new ConfigDiagnostic(location, keyPath, message));

    public void Add(ConfigNode node, string message) => Add(node.Location, node.Path, message);

    public void AddRange(IEnumerable<ConfigDiagnostic> diagnostics) => _items.AddRange(diagnostics);

    /// <summary>Diagnostics in file order, so a reader goes down the file once.</summary>
    public IReadOnlyList<ConfigDiagnostic> Sorted() =>
        [.. _items.OrderBy(d => d.Location.File, StringComparer.Ordinal)
                  .ThenBy(d => d.Location.Line)
                  .ThenBy(d => d.Location.Column)];

    public void ThrowIfAny()
    {
        if (HasErrors)
        {
            throw new ConfigValidationException(Sorted());
        }
    }
}

/// <summary>A configuration that failed validation; carries every problem found.</summary>
public sealed class ConfigValidationException : LaminaException
{
    public ConfigValidationException(IReadOnlyList<ConfigDiagnostic> diagnostics)
        : base(Describe(diagnostics))
    {
        Diagnostics = diagnostics;
        Kind = LaminaErrorKind.Validation;
    }

    public IReadOnlyList<ConfigDiagnostic> Diagnostics { get; }

    private static string Describe(IReadOnlyList<ConfigDiagnostic> diagnostics) =>
        diagnostics.Count == 1
            ? diagnostics[0].ToString()
            : $"{diagnostics.Count} problems:{Environment.NewLine}" + string.Join(Environment.NewLine, diagnostics);
}
