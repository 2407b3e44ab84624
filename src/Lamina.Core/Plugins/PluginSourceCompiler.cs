using System.Reflection;
using Lamina.Core.Config;

namespace Lamina.Core.Plugins;

/// <summary>A plug-in source file of an experiment, with its SHA-256.</summary>
/// <param name="FullPath">Absolute path.</param>
/// <param name="RelativePath">Path relative to the experiment's folder, with '/' separators.</param>
/// <param name="Sha256">Lowercase hex digest of the file's bytes.</param>
public sealed record PluginSourceFile(string FullPath, string RelativePath, string Sha256);

/// <summary>The result of compiling an experiment's plug-in sources.</summary>
/// <param name="Assembly">The loaded assembly, or null when there were no sources or compilation failed.</param>
/// <param name="Files">Every source file that was compiled, in path order.</param>
/// <param name="Digest">SHA-256 over the files' relative paths and digests; names the cached assembly.</param>
public sealed record CompiledPlugins(Assembly? Assembly, IReadOnlyList<PluginSourceFile> Files, string Digest);

/// <summary>Compiles the <c>.cs</c> files under an experiment's <c>sources_path</c> in-process with Roslyn.</summary>
public static class PluginSourceCompiler
{
    /// <summary>
    /// Compiles every <c>.cs</c> file under <paramref name="folders"/> (recursively; <c>bin</c>, <c>obj</c> and
    /// hidden folders skipped) into one assembly, reusing a cached one in <paramref name="cacheDirectory"/>
    /// when the sources' digest matches. Compile errors go to <paramref name="diagnostics"/> with the source
    /// file's line and column.
    /// </summary>
    public static CompiledPlugins Compile(
        IReadOnlyList<string> folders, string baseDirectory, string cacheDirectory, DiagnosticBag diagnostics) =>
        throw new NotImplementedException();
}
