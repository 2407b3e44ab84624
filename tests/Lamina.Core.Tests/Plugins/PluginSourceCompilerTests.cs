using Lamina.Core.Config;
using Lamina.Core.Plugins;

namespace Lamina.Core.Tests.Plugins;

public sealed class PluginSourceCompilerTests
{
    [Fact]
    public void Compile_ValidPlugin_CreatesItThroughTheBinder()
    {
        // Given
        using var folder = new TempFolder();
        folder.Write("plugins/Normalization.cs", Specs.Normalization);
        var diagnostics = new DiagnosticBag();

        // When
        var compiled = folder.Compile(diagnostics);
        var catalog = PluginCatalog.Create([], compiled, diagnostics);
        var plugin = PluginBinder.Create<IPreprocessing>(Specs.Read("cls: Normalization\nparams:\n  factor: 255.0\n"), catalog);

        // Then
        Assert.Empty(diagnostics.Items);
        Assert.Equal("Normalization", plugin.GetType().Name);
        Assert.Equal(255f, plugin.GetType().GetProperty("Factor")!.GetValue(plugin));
        Assert.Equal("plugins/Normalization.cs", catalog.Find("Normalization")!.SourceFile);
    }

    [Fact]
    public void Compile_RecordsEachFileWithItsSha256InPathOrder()
    {
        // Given
        using var folder = new TempFolder();
        folder.Write("plugins/b/Second.cs", "namespace X; public sealed class Second { }");
        folder.Write("plugins/A.cs", "namespace X; public sealed class A { }");
        folder.Write("plugins/obj/Generated.cs", "this is not C#");
        folder.Write("plugins/.hidden/Secret.cs", "this is not C# either");

        // When
        var compiled = folder.Compile(new DiagnosticBag());

        // Then
        Assert.Equal(["plugins/A.cs", "plugins/b/Second.cs"], compiled.Files.Select(f => f.RelativePath));
        var expected = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(
            File.ReadAllBytes(Path.Combine(folder.Root, "plugins/A.cs"))));
        Assert.Equal(expected, compiled.Files[0].Sha256);
        Assert.NotNull(compiled.Assembly);
    }

    [Fact]
    public void Compile_Error_ReportsRelativePathLineAndColumn()
    {
        // Given
        using var folder = new TempFolder();
        folder.Write("plugins/Broken.cs", "namespace X;\n\npublic sealed class Broken\n{\n    public int Value => missing;\n}\n");
        var diagnostics = new DiagnosticBag();

        // When
        var compiled = folder.Compile(diagnostics);

        // Then
        Assert.Null(compiled.Assembly);
        var error = Assert.Single(diagnostics.Items);
        Assert.Equal(new SourceLocation("plugins/Broken.cs", 5, 25), error.Location);
        Assert.StartsWith("error CS0103: The name 'missing' does not exist", error.Message);
        Assert.False(File.Exists(Path.Combine(folder.Cache, compiled.Digest + ".dll")));
    }

    [Fact]
    public void Compile_Warnings_AreNotReported()
    {
        // Given
        using var folder = new TempFolder();
        folder.Write("plugins/Warn.cs", "namespace X; public sealed class Warn { public string Name { get; set; } }");
        var diagnostics = new DiagnosticBag();

        // When
        var compiled = folder.Compile(diagnostics);

        // Then
        Assert.Empty(diagnostics.Items);
        Assert.NotNull(compiled.Assembly);
    }

    [Fact]
    public void Compile_SameSourcesTwice_ReusesTheCachedAssembly()
    {
        // Given
        using var folder = new TempFolder();
        folder.Write("plugins/Normalization.cs", Specs.Normalization);
        var first = folder.Compile(new DiagnosticBag());
        var dll = Path.Combine(folder.Cache, first.Digest + ".dll");
        var written = File.GetLastWriteTimeUtc(dll);

        // When
        var second = folder.Compile(new DiagnosticBag());

        // Then
        Assert.Equal(first.Digest, second.Digest);
        Assert.Same(first.Assembly, second.Assembly);
        Assert.True(File.Exists(dll));
        Assert.Equal(written, File.GetLastWriteTimeUtc(dll));
        Assert.Empty(Directory.GetFiles(folder.Cache, "*.tmp"));
    }

    [Fact]
    public void Compile_InANewProcess_LoadsTheDllFromTheCacheFolder()
    {
        // Given: unique sources, compiled once, then forgotten as a new process would have
        using var folder = new TempFolder();
        folder.Write("plugins/Normalization.cs", Specs.Normalization + $"\n// {Guid.NewGuid()}\n");
        var first = folder.Compile(new DiagnosticBag());
        var dll = Path.Combine(folder.Cache, first.Digest + ".dll");
        var written = File.GetLastWriteTimeUtc(dll);
        PluginSourceCompiler.Forget(first.Digest);

        // When
        var diagnostics = new DiagnosticBag();
        var second = folder.Compile(diagnostics);
        var catalog = PluginCatalog.Create([], second, diagnostics);

        // Then
        Assert.Empty(diagnostics.Items);
        Assert.NotSame(first.Assembly, second.Assembly);
        Assert.Equal(written, File.GetLastWriteTimeUtc(dll));
        Assert.Equal("plugins/Normalization.cs", catalog.Find("Normalization")!.SourceFile);
    }

    [Fact]
    public void Compile_SameSourcesFromSeveralThreads_GivesOneAssembly()
    {
        // Given
        using var folder = new TempFolder();
        folder.Write("plugins/Normalization.cs", Specs.Normalization + $"\n// {Guid.NewGuid()}\n");

        // When
        var results = Enumerable.Range(0, 4).AsParallel().Select(_ => folder.Compile(new DiagnosticBag())).ToList();

        // Then
        Assert.All(results, r => Assert.Same(results[0].Assembly, r.Assembly));
        Assert.NotNull(results[0].Assembly);
        Assert.Single(Directory.GetFiles(folder.Cache));
    }

    [Fact]
    public void Compile_ChangedFile_ChangesTheDigest()
    {
        // Given
        using var folder = new TempFolder();
        folder.Write("plugins/Normalization.cs", Specs.Normalization);
        var before = folder.Compile(new DiagnosticBag());

        // When
        folder.Write("plugins/Normalization.cs", Specs.Normalization + "\n// tuned\n");
        var after = folder.Compile(new DiagnosticBag());

        // Then
        Assert.NotEqual(before.Digest, after.Digest);
        Assert.NotEqual(before.Files[0].Sha256, after.Files[0].Sha256);
        Assert.True(File.Exists(Path.Combine(folder.Cache, after.Digest + ".dll")));
    }

    [Fact]
    public void Compile_MissingFolder_IsADiagnostic()
    {
        // Given
        using var folder = new TempFolder();
        var diagnostics = new DiagnosticBag();

        // When
        var compiled = folder.Compile(diagnostics, "nowhere");

        // Then
        Assert.Null(compiled.Assembly);
        Assert.Empty(compiled.Files);
        Assert.Contains("sources folder 'nowhere' does not exist", Assert.Single(diagnostics.Items).Message);
    }

    [Fact]
    public void Compile_GlobalUsings_AreAvailableToPlugins()
    {
        // Given: no using directives, yet List, Enumerable and Task are in scope
        using var folder = new TempFolder();
        folder.Write("plugins/Uses.cs", "namespace X; public sealed class Uses { public Task<int> Count(List<int> xs) => Task.FromResult(xs.Count(x => x > 0)); }");
        var diagnostics = new DiagnosticBag();

        // When
        var compiled = folder.Compile(diagnostics);

        // Then
        Assert.Empty(diagnostics.Items);
        Assert.NotNull(compiled.Assembly);
    }
}
