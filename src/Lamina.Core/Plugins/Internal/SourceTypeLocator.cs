using Lamina.Core.Config;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace Lamina.Core.Plugins.Internal;

/// <summary>Maps the types declared in plug-in sources to where they are declared, from syntax alone.</summary>
internal static class SourceTypeLocator
{
    public static Dictionary<string, SourceLocation> Locate(IReadOnlyList<SyntaxTree> trees, IReadOnlyList<PluginSourceFile> files)
    {
        var relative = files.ToDictionary(f => f.FullPath, f => f.RelativePath, StringComparer.Ordinal);
        var map = new Dictionary<string, SourceLocation>(StringComparer.Ordinal);
        foreach (var tree in trees)
        {
            var file = relative.TryGetValue(tree.FilePath, out var path) ? path : tree.FilePath;
            foreach (var declaration in tree.GetRoot().DescendantNodes().OfType<BaseTypeDeclarationSyntax>())
            {
                var position = declaration.Identifier.GetLocation().GetLineSpan().StartLinePosition;
                // The first part of a partial type names its file.
                map.TryAdd(MetadataName(declaration), new SourceLocation(file, position.Line + 1, position.Character + 1));
            }
        }
        return map;
    }

    /// <summary>The name <see cref="Type.FullName"/> gives the type: <c>Ns.Outer+Inner`1</c>.</summary>
    private static string MetadataName(BaseTypeDeclarationSyntax declaration)
    {
        var types = new List<string>();
        var namespaces = new List<string>();
        for (SyntaxNode? node = declaration; node is not null; node = node.Parent)
        {
            switch (node)
            {
                case BaseTypeDeclarationSyntax type:
                    var arity = (type as TypeDeclarationSyntax)?.TypeParameterList?.Parameters.Count ?? 0;
                    types.Add(arity > 0 ? $"{type.Identifier.ValueText}`{arity}" : type.Identifier.ValueText);
                    break;
                case BaseNamespaceDeclarationSyntax ns:
                    namespaces.Add(ns.Name.ToString());
                    break;
            }
        }
        types.Reverse();
        namespaces.Reverse();
        var typeName = string.Join('+', types);
        return namespaces.Count == 0 ? typeName : $"{string.Join('.', namespaces)}.{typeName}";
    }
}
