using Lamina.Core.Config;

namespace Lamina.Core.Analysis;

/// <summary>An analysis that cannot run as configured: a broken feature graph, a model that cannot be found, a feature that failed.</summary>
public sealed class AnalysisException : LaminaException
{
    public AnalysisException(string message, Exception? inner = null) : base(message, inner) { }

    internal static AnalysisException MissingProvider(string analysis, string feature, string output, IEnumerable<string> known) =>
        new($"analysis '{analysis}': feature '{feature}' requires '{output}', which no feature of the analysis provides" +
            (known.Any() ? $" (provided: {string.Join(", ", known.Order(StringComparer.Ordinal))})" : "")) { Kind = LaminaErrorKind.Validation };

    internal static AnalysisException DuplicateProvider(string analysis, string output, string first, string second) =>
        new($"analysis '{analysis}': features '{first}' and '{second}' both provide '{output}'") { Kind = LaminaErrorKind.Validation };

    internal static AnalysisException Cycle(string analysis, IReadOnlyList<string> path) =>
        new($"analysis '{analysis}': features depend on each other in a cycle: {string.Join(" → ", path)}") { Kind = LaminaErrorKind.Validation };

    internal static AnalysisException UnknownRole(string feature, string role) =>
        new($"feature '{feature}' asked for model role '{role}', which the analysis file does not give it") { Kind = LaminaErrorKind.Validation };

    internal static AnalysisException UndeclaredOutput(string feature, string output, string verb) =>
        new($"feature '{feature}' {verb} '{output}', which it does not declare") { Kind = LaminaErrorKind.Validation };

    internal static AnalysisException FeatureFailed(string feature, Exception inner) =>
        new($"feature '{feature}' failed: {inner.Message}", inner);

    internal static AnalysisException SeveralAnalyses(string path, IReadOnlyList<string> names) =>
        new($"{path} defines {names.Count} analyses ({string.Join(", ", names)}); name the one to run") { At = path, Kind = LaminaErrorKind.Usage };

    internal static AnalysisException NoSuchAnalysis(string path, string name, IReadOnlyList<string> names) =>
        new($"no analysis named '{name}' in {path}" +
            (Suggestions.Nearest(name, names) is { } near ? $"; did you mean '{near}'?" : $"; it defines: {string.Join(", ", names)}")) { At = path, Kind = LaminaErrorKind.NotFound };

    internal static AnalysisException AutoSourcing(string model) =>
        new($"model '{model}' is referenced by run id (sourcing: auto): analyse with a tracking store (LAMINA_HOME) that holds it, or resolve the file first (lamina resolve)") { Kind = LaminaErrorKind.Usage };
}
