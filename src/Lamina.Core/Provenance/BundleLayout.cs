using System.Text.Json.Nodes;

namespace Lamina.Core.Provenance;

/// <summary>A file of a bundle as its provenance names it: path relative to the bundle ('/' separators) and SHA-256.</summary>
public sealed record BundleFile(string Name, string Sha256);

/// <summary>
/// Where things are in a bundle folder, as <c>lamina bundle</c> lays it out and production reads it: the resolved
/// analysis file, its lock, <c>models/&lt;name&gt;/</c>, <c>plugins/</c>, and <c>provenance.json</c>, an in-toto
/// Statement v1 whose subjects pin every other file.
/// </summary>
public static class BundleLayout
{
    /// <summary>The resolved analysis file of a bundle.</summary>
    public const string AnalysisFileName = "analysis.yaml";

    /// <summary>The provenance statement of a bundle.</summary>
    public const string ProvenanceFileName = "provenance.json";

    /// <summary>The in-toto statement type of <c>provenance.json</c>.</summary>
    public const string StatementType = "https://in-toto.io/Statement/v1";

    /// <summary>A model file's name in a bundle.</summary>
    public static string ModelFile(string model, string file) => $"models/{model}/{file}";

    /// <summary>A plug-in source's name in a bundle.</summary>
    public static string PluginFile(string name) => $"plugins/{name}";

    /// <summary>Whether <paramref name="directory"/> is a bundle: it holds a <c>provenance.json</c>.</summary>
    public static bool IsBundle(string directory) => File.Exists(Path.Combine(directory, ProvenanceFileName));

    /// <summary>The subjects of a statement: name → SHA-256.</summary>
    /// <exception cref="BundleException">Not an in-toto statement with subjects.</exception>
    public static IReadOnlyList<BundleFile> Subjects(JsonNode statement, string path)
    {
        ArgumentNullException.ThrowIfNull(statement);
        if (statement["_type"]?.GetValue<string>() != StatementType || statement["subject"] is not JsonArray subjects)
        {
            throw new BundleException($"{path}: not an in-toto statement ({StatementType}) with subjects");
        }
        return [.. subjects.Select(s => new BundleFile(
            s?["name"]?.GetValue<string>() ?? throw new BundleException($"{path}: a subject without a name"),
            s["digest"]?["sha256"]?.GetValue<string>() ?? throw new BundleException($"{path}: subject '{s["name"]}' has no sha256")))];
    }
}
