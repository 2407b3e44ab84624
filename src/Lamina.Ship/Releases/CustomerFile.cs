using Lamina.Core.Config;
using Lamina.Ship.Images;

namespace Lamina.Ship.Releases;

/// <summary>
/// <c>customer.yaml</c>, at the top of a customer's git repository: the customer's name (which tags the image), the image
/// repository, the <c>lamina-serve</c> base version and the analysis file; optionally registry settings.
/// </summary>
/// <example>
/// <code>
/// customer: hospital-a
/// image: registry.example.org/customers/hospital-a
/// base: "0.1"
/// analysis: analysis.yaml
/// registry:
///   insecure: false
/// </code>
/// </example>
public sealed record CustomerFile
{
    /// <summary>The file's name in a customer repository.</summary>
    public const string FileName = "customer.yaml";

    private static readonly string[] Keys = ["customer", "image", "base", "analysis", "registry"];
    private static readonly string[] RegistryKeys = ["insecure"];

    /// <summary>The file (full path).</summary>
    public required string Path { get; init; }

    /// <summary>The customer repository: the file's folder.</summary>
    public string Directory => System.IO.Path.GetDirectoryName(Path)!;

    /// <summary>The customer's name: lowercase letters, digits, '.', '_', '-'.</summary>
    public required string Customer { get; init; }

    /// <summary>The image repository, without tag or digest; its registry may be absent when images go to a layout.</summary>
    public required ImageReference Image { get; init; }

    /// <summary>The <c>lamina-serve</c> version the image is built on (the base image's tag).</summary>
    public required string Base { get; init; }

    /// <summary>The analysis file (full path), given relative to the repository.</summary>
    public required string Analysis { get; init; }

    /// <summary>Whether the image's registry is spoken to over plain <c>http</c> (a test or in-house registry).</summary>
    public bool Insecure { get; init; }

    /// <summary>Reads and checks a customer file; every problem is reported at once, each at its line and key.</summary>
    /// <param name="path">The file, or the customer repository holding it.</param>
    /// <exception cref="ConfigValidationException">Missing, unknown or bad keys, each at <c>customer.yaml:LINE:COLUMN</c>.</exception>
    public static CustomerFile Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var file = System.IO.Directory.Exists(path) ? System.IO.Path.Combine(path, FileName) : path;
        file = System.IO.Path.GetFullPath(file);
        var diagnostics = new DiagnosticBag();
        if (!File.Exists(file))
        {
            diagnostics.Add(SourceLocation.None(file), "", $"no {FileName} here: a customer repository holds one (customer, image, base, analysis)");
            diagnostics.ThrowIfAny();
        }
        var root = YamlConfigReader.ReadFile(file, diagnostics);
        diagnostics.ThrowIfAny();
        if (root is not ConfigMapping mapping)
        {
            diagnostics.Add(root!, $"{FileName} is a mapping of customer, image, base and analysis, not {root!.KindName}");
            throw new ConfigValidationException(diagnostics.Sorted());
        }

        foreach (var (key, _) in mapping.Entries.Where(e => !Keys.Contains(e.Key.Value)))
        {
            diagnostics.Add(key, $"unknown key '{key.Value}'{Suggestions.Hint(key.Value, Keys)} (known: {string.Join(", ", Keys)})");
        }

        var customer = Text(mapping, "customer", file, diagnostics);
        if (customer is not null && !IsName(customer.Value))
        {
            diagnostics.Add(customer, $"'{customer.Value}' is not a customer name: lowercase letters, digits, '.', '_' and '-', starting with a letter or digit, at most 63");
        }

        var imageNode = Text(mapping, "image", file, diagnostics);
        ImageReference? image = null;
        if (imageNode is not null)
        {
            try
            {
                image = ImageReference.Parse(imageNode.Value, "image");
                if (image.IsLayout) diagnostics.Add(imageNode, $"'{imageNode.Value}' is a layout folder: name the image repository (HOST/REPO); `lamina release --oci-layout DIR` writes to a layout");
                else if (image.Tag is not null || image.Digest is not null) diagnostics.Add(imageNode, $"'{imageNode.Value}' has a tag or digest: give the repository only, the release version tags it");
            }
            catch (ImageException e)
            {
                diagnostics.Add(imageNode, e.Message);
            }
        }

        var baseNode = Text(mapping, "base", file, diagnostics);
        if (baseNode is not null && !IsTag(baseNode.Value))
        {
            diagnostics.Add(baseNode, $"'{baseNode.Value}' is not a lamina-serve version (an image tag such as \"0.1\": letters, digits, '_', '.', '-')");
        }

        var analysisNode = Text(mapping, "analysis", file, diagnostics);
        string? analysis = null;
        if (analysisNode is not null)
        {
            if (System.IO.Path.IsPathRooted(analysisNode.Value))
            {
                diagnostics.Add(analysisNode, $"'{analysisNode.Value}' is an absolute path: give the analysis file relative to the customer repository");
            }
            else
            {
                analysis = System.IO.Path.GetFullPath(System.IO.Path.Combine(System.IO.Path.GetDirectoryName(file)!, analysisNode.Value));
                if (!File.Exists(analysis)) diagnostics.Add(analysisNode, $"no analysis file at {analysis}");
            }
        }

        var insecure = false;
        if (mapping["registry"] is { } registry)
        {
            if (registry is not ConfigMapping settings)
            {
                diagnostics.Add(registry, $"registry holds settings (insecure: true|false), not {registry.KindName}");
            }
            else
            {
                foreach (var (key, _) in settings.Entries.Where(e => !RegistryKeys.Contains(e.Key.Value)))
                {
                    diagnostics.Add(key, $"unknown key '{key.Value}'{Suggestions.Hint(key.Value, RegistryKeys)} (known: {string.Join(", ", RegistryKeys)})");
                }
                if (settings["insecure"] is { } value && !(value is ConfigScalar scalar && scalar.TryGetBoolean(out insecure)))
                {
                    diagnostics.Add(value, "insecure is true or false");
                }
            }
        }

        diagnostics.ThrowIfAny();
        return new CustomerFile
        {
            Path = file,
            Customer = customer!.Value,
            Image = image!,
            Base = baseNode!.Value,
            Analysis = analysis!,
            Insecure = insecure,
        };
    }

    /// <summary>True for a customer name: what tags an image and names a folder.</summary>
    public static bool IsName(string name) =>
        name.Length is > 0 and <= 63 && (char.IsAsciiLetterLower(name[0]) || char.IsAsciiDigit(name[0]))
        && !name.AsSpan().ContainsAnyExcept("abcdefghijklmnopqrstuvwxyz0123456789._-");

    private static bool IsTag(string tag) =>
        tag.Length is > 0 and <= 128 && tag[0] is not ('.' or '-')
        && !tag.AsSpan().ContainsAnyExcept("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-");

    // A required text value: missing, null or not a scalar is reported (at the file's top for a missing key).
    private static ConfigScalar? Text(ConfigMapping mapping, string key, string file, DiagnosticBag diagnostics)
    {
        switch (mapping[key])
        {
            case null:
                diagnostics.Add(new SourceLocation(file, mapping.Location.Line, mapping.Location.Column), key, $"missing key '{key}'");
                return null;
            case ConfigScalar { IsNull: false } scalar when scalar.Value.Trim().Length > 0:
                return scalar;
            case var other:
                diagnostics.Add(other, $"{key} is a text value, not {other.KindName}");
                return null;
        }
    }
}
