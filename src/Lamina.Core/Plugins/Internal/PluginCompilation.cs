using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using Lamina.Core.Config;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Emit;
using Microsoft.CodeAnalysis.Text;

namespace Lamina.Core.Plugins.Internal;

/// <summary>The Roslyn side of plug-in compilation: parsing, references, emit, diagnostics.</summary>
internal static class PluginCompilation
{
    private static readonly CSharpParseOptions ParseOptions = new(LanguageVersion.Latest);
    private static readonly ConcurrentDictionary<string, MetadataReference> ReferenceCache = new(StringComparer.Ordinal);

    // What an SDK project's ImplicitUsings gives, so plug-in files read like any other C# file.
    private const string GlobalUsings = """
        global using global::System;
        global using global::System.Collections.Generic;
        global using global::System.IO;
        global using global::System.Linq;
        global using global::System.Threading;
        global using global::System.Threading.Tasks;
        """;

    public static SyntaxTree Parse(PluginSourceFile file, byte[] bytes)
    {
        var text = SourceText.From(bytes, bytes.Length, Encoding.UTF8, SourceHashAlgorithm.Sha256, throwIfBinaryDetected: false, canBeEmbedded: true);
        return CSharpSyntaxTree.ParseText(text, ParseOptions, file.FullPath);
    }

    /// <summary>The assembly image, or null after reporting every compile error.</summary>
    public static byte[]? Emit(IReadOnlyList<SyntaxTree> trees, IReadOnlyList<PluginSourceFile> files, string digest,
        string baseDirectory, DiagnosticBag diagnostics)
    {
        var options = new CSharpCompilationOptions(
            OutputKind.DynamicallyLinkedLibrary,
            optimizationLevel: OptimizationLevel.Release,
            deterministic: true,
            nullableContextOptions: NullableContextOptions.Enable);
        var usings = CSharpSyntaxTree.ParseText(GlobalUsings, ParseOptions, "LaminaGlobalUsings.g.cs", Encoding.UTF8);
        var compilation = CSharpCompilation.Create($"Lamina.Plugins.{digest[..16]}", [usings, .. trees], References(), options);

        using var image = new MemoryStream();
        var result = compilation.Emit(image, options: new EmitOptions(debugInformationFormat: DebugInformationFormat.Embedded));
        if (result.Success)
        {
            return image.ToArray();
        }
        var relative = files.ToDictionary(f => f.FullPath, f => f.RelativePath, StringComparer.Ordinal);
        foreach (var error in result.Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error))
        {
            diagnostics.Add(Locate(error, relative, baseDirectory), "",
                $"error {error.Id}: {error.GetMessage(CultureInfo.InvariantCulture)}");
        }
        return null;
    }

    private static SourceLocation Locate(Diagnostic error, Dictionary<string, string> relative, string baseDirectory)
    {
        if (!error.Location.IsInSource)
        {
            return SourceLocation.None(baseDirectory);
        }
        var span = error.Location.GetLineSpan();
        var file = relative.TryGetValue(span.Path, out var path) ? path : span.Path;
        return new SourceLocation(file, span.StartLinePosition.Line + 1, span.StartLinePosition.Character + 1);
    }

    /// <summary>The platform's assemblies plus every assembly the host has loaded from a file (Lamina, YamlDotNet...).</summary>
    private static List<MetadataReference> References()
    {
        // One reference per simple name: two copies of an assembly would make every use of it ambiguous.
        var byName = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var assembly in AppDomain.CurrentDomain.GetAssemblies())
        {
            if (!assembly.IsDynamic && !string.IsNullOrEmpty(assembly.Location) && assembly.GetName().Name is { } name)
            {
                byName.TryAdd(name, assembly.Location);
            }
        }
        if (AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES") is string platform)
        {
            foreach (var path in platform.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
            {
                byName.TryAdd(Path.GetFileNameWithoutExtension(path), path);
            }
        }
        return [.. byName.Values
            .Where(File.Exists)
            .Order(StringComparer.Ordinal)
            .Select(path => ReferenceCache.GetOrAdd(path, p => MetadataReference.CreateFromFile(p)))];
    }
}
