using System.Collections.Concurrent;
using System.Reflection;
using System.Text;
using Lamina.Core.Config;
using Lamina.Core.Plugins.Internal;
using Lamina.Core.Provenance;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

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
public sealed record CompiledPlugins(Assembly? Assembly, IReadOnlyList<PluginSourceFile> Files, string Digest)
{
    /// <summary>
    /// Where each type of the sources is declared, by <see cref="Type.FullName"/>: the file's relative path and
    /// the line and column of the type's name.
    /// </summary>
    public IReadOnlyDictionary<string, SourceLocation> TypeSources { get; init; } =
        new Dictionary<string, SourceLocation>(StringComparer.Ordinal);
}

/// <summary>Compiles the <c>.cs</c> files under an experiment's <c>sources_path</c> in-process with Roslyn.</summary>
public static class PluginSourceCompiler
{
    // One assembly per digest per process: callers comparing types across loads must see the same Type objects.
    private static readonly ConcurrentDictionary<string, LoadedPlugins> Loaded = new(StringComparer.Ordinal);
    private static readonly Lock Gate = new();

    /// <summary>
    /// Compiles every <c>.cs</c> file under <paramref name="folders"/> (recursively; <c>bin</c>, <c>obj</c> and
    /// hidden folders skipped) into one assembly, reusing a cached one in <paramref name="cacheDirectory"/>
    /// when the sources' digest matches. Compile errors go to <paramref name="diagnostics"/> with the source
    /// file's line and column.
    /// </summary>
    public static CompiledPlugins Compile(
        IReadOnlyList<string> folders, string baseDirectory, string cacheDirectory, DiagnosticBag diagnostics)
    {
        ArgumentNullException.ThrowIfNull(folders);
        ArgumentNullException.ThrowIfNull(diagnostics);
        baseDirectory = Path.GetFullPath(baseDirectory);
        // Bytes are read once, so the digest always describes exactly what is compiled.
        var sources = Collect(folders, baseDirectory, diagnostics);
        var files = sources.Select(s => s.File).ToList();
        var digest = Digest(files);
        if (files.Count == 0)
        {
            return new CompiledPlugins(null, files, digest);
        }

        var trees = sources.Select(s => PluginCompilation.Parse(s.File, s.Bytes)).ToList();
        var typeSources = SourceTypeLocator.Locate(trees, files);

        lock (Gate)
        {
            if (!Loaded.TryGetValue(digest, out var loaded))
            {
                loaded = LoadCached(cacheDirectory, digest) ?? CompileAndCache(trees, files, digest, baseDirectory, cacheDirectory, diagnostics);
                if (loaded is null)
                {
                    return new CompiledPlugins(null, files, digest) { TypeSources = typeSources };
                }
                Loaded[digest] = loaded;
            }
            else
            {
                WriteCache(cacheDirectory, digest, loaded.Image);
            }
            return new CompiledPlugins(loaded.Assembly, files, digest) { TypeSources = typeSources };
        }
    }

    /// <summary>Forgets an assembly loaded in this process, so the next compile reads the disk cache (tests only).</summary>
    internal static void Forget(string digest) => Loaded.TryRemove(digest, out _);

    /// <summary>What makes a cached assembly unusable by another build of Lamina or Roslyn.</summary>
    internal static string CompilerIdentity
    {
        get
        {
            var core = typeof(PluginSourceCompiler).Assembly;
            var informational = core.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion;
            return $"lamina-core {core.GetName().Version} ({informational}); roslyn {typeof(CSharpCompilation).Assembly.GetName().Version}";
        }
    }

    private static List<(PluginSourceFile File, byte[] Bytes)> Collect(IReadOnlyList<string> folders, string baseDirectory, DiagnosticBag diagnostics)
    {
        var byPath = new Dictionary<string, (PluginSourceFile File, byte[] Bytes)>(StringComparer.Ordinal);
        foreach (var folder in folders)
        {
            var root = Path.GetFullPath(folder, baseDirectory);
            if (!Directory.Exists(root))
            {
                diagnostics.Add(SourceLocation.None(baseDirectory), "", $"sources folder '{folder}' does not exist");
                continue;
            }
            foreach (var path in Enumerate(root))
            {
                if (!byPath.ContainsKey(path))
                {
                    var relative = Path.GetRelativePath(baseDirectory, path).Replace('\\', '/');
                    byte[] bytes;
                    try
                    {
                        bytes = File.ReadAllBytes(path);
                    }
                    catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                    {
                        diagnostics.Add(SourceLocation.None(relative), "", $"cannot read the plug-in source: {e.Message}");
                        continue;
                    }
                    byPath[path] = (new PluginSourceFile(path, relative, Sha256(bytes)), bytes);
                }
            }
        }
        return [.. byPath.Values.OrderBy(s => s.File.RelativePath, StringComparer.Ordinal)];
    }

    private static IEnumerable<string> Enumerate(string folder)
    {
        foreach (var file in Directory.EnumerateFiles(folder, "*.cs"))
        {
            yield return Path.GetFullPath(file);
        }
        foreach (var child in Directory.EnumerateDirectories(folder))
        {
            var name = Path.GetFileName(child);
            if (name.StartsWith('.') || name.Equals("bin", StringComparison.OrdinalIgnoreCase) || name.Equals("obj", StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }
            foreach (var file in Enumerate(child))
            {
                yield return file;
            }
        }
    }

    private static string Digest(IReadOnlyList<PluginSourceFile> files)
    {
        var text = new StringBuilder();
        foreach (var file in files)
        {
            text.Append(file.RelativePath).Append('\t').Append(file.Sha256).Append('\n');
        }
        text.Append(CompilerIdentity).Append('\n');
        return Sha256Digest.OfText(text.ToString()).Hex;
    }

    private static string Sha256(byte[] bytes) => Sha256Digest.Of(bytes).Hex;

    private static LoadedPlugins? LoadCached(string cacheDirectory, string digest)
    {
        var path = CachePath(cacheDirectory, digest);
        if (!File.Exists(path))
        {
            return null;
        }
        try
        {
            var image = File.ReadAllBytes(path);
            return new LoadedPlugins(Assembly.Load(image), image);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or BadImageFormatException)
        {
            // A damaged or unreadable cache entry is rebuilt rather than reported.
            return null;
        }
    }

    private static LoadedPlugins? CompileAndCache(IReadOnlyList<SyntaxTree> trees, IReadOnlyList<PluginSourceFile> files,
        string digest, string baseDirectory, string cacheDirectory, DiagnosticBag diagnostics)
    {
        var image = PluginCompilation.Emit(trees, files, digest, baseDirectory, diagnostics);
        if (image is null)
        {
            return null;
        }
        WriteCache(cacheDirectory, digest, image);
        return new LoadedPlugins(Assembly.Load(image), image);
    }

    private static void WriteCache(string cacheDirectory, string digest, byte[] image)
    {
        var path = CachePath(cacheDirectory, digest);
        if (File.Exists(path))
        {
            return;
        }
        Directory.CreateDirectory(cacheDirectory);
        // Other processes may compile the same sources at once: each writes its own file, then renames it.
        var temp = Path.Combine(cacheDirectory, $"{digest}.{Guid.NewGuid():N}.tmp");
        try
        {
            File.WriteAllBytes(temp, image);
            File.Move(temp, path, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The cache only saves time; the assembly is already in memory.
            TryDelete(temp);
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Left behind; a later clean-up of the cache folder removes it.
        }
    }

    private static string CachePath(string cacheDirectory, string digest) => Path.Combine(Path.GetFullPath(cacheDirectory), digest + ".dll");

    private sealed record LoadedPlugins(Assembly Assembly, byte[] Image);
}
