using System.Reflection;
using System.Xml.Linq;

namespace Lamina.Cli.Tests;

/// <summary>Guards the dependency rules of the architecture page.</summary>
public sealed class ArchitectureTests
{
    // Who may reference whom among Lamina's own projects.
    private static readonly Dictionary<string, string[]> Allowed = new()
    {
        ["Lamina.Core"] = [],
        ["Lamina.Tracking"] = ["Lamina.Core"],
        ["Lamina.Serve"] = ["Lamina.Core"],
        ["Lamina.Servers"] = [],
        ["Lamina.Lab"] = ["Lamina.Core", "Lamina.Tracking"],
        ["Lamina.Ship"] = ["Lamina.Core", "Lamina.Tracking"],
        // The web UI reads the stores; what it needs of Ship (the tracer) or the broker (queue depths) the CLI hands it.
        ["Lamina.Ui"] = ["Lamina.Core", "Lamina.Tracking"],
        ["Lamina.Cli"] = ["Lamina.Core", "Lamina.Tracking", "Lamina.Lab", "Lamina.Ship", "Lamina.Serve", "Lamina.Servers", "Lamina.Ui"],
    };

    private static IEnumerable<string> ProjectNames() =>
        Directory.GetDirectories(Path.Combine(TestPaths.RepositoryRoot, "src")).Select(d => Path.GetFileName(d));

    public static TheoryData<string> SourceProjects() => [.. ProjectNames()];

    [Theory]
    [MemberData(nameof(SourceProjects))]
    public void ProjectReferences_FollowTheDependencyRules(string project)
    {
        // Given the project file
        var file = Path.Combine(TestPaths.RepositoryRoot, "src", project, $"{project}.csproj");
        Assert.True(Allowed.ContainsKey(project), $"{project} is not in the architecture's dependency rules");

        // When its project references are read
        var references = XDocument.Load(file).Descendants("ProjectReference")
            .Select(e => Path.GetFileNameWithoutExtension(e.Attribute("Include")!.Value))
            .ToList();

        // Then each is allowed
        Assert.All(references, r => Assert.Contains(r, Allowed[project]));
    }

    [Fact]
    public void CoreAssembly_ReferencesNoOtherLaminaAssembly()
    {
        var core = typeof(Lamina.Core.LaminaException).Assembly;
        var lamina = core.GetReferencedAssemblies().Where(a => a.Name!.StartsWith("Lamina.", StringComparison.Ordinal));
        Assert.Empty(lamina);
    }

    [Fact]
    public void TrackingAssembly_ReferencesOnlyCore()
    {
        var tracking = typeof(Lamina.Tracking.ITrackingStore).Assembly;
        var lamina = tracking.GetReferencedAssemblies()
            .Select(a => a.Name!)
            .Where(n => n.StartsWith("Lamina.", StringComparison.Ordinal));
        Assert.All(lamina, n => Assert.Equal("Lamina.Core", n));
    }

    [Fact]
    public void ServeAssembly_TheProductionService_ReferencesOnlyCore()
    {
        // What runs at a customer is the marked code: the analysis core and nothing of the lab, tracking or shipping.
        var serve = typeof(Lamina.Serve.ServeHost).Assembly;
        var lamina = serve.GetReferencedAssemblies().Select(a => a.Name!).Where(n => n.StartsWith("Lamina.", StringComparison.Ordinal));
        Assert.Equal(["Lamina.Core"], lamina);
    }

    [Fact]
    public void NoSourceTestScriptOrBuildFile_ReadsOutsideTheRepository()
    {
        // Given every file a build, test, benchmark or script reads, as the repository tracks it
        string[] kinds = [".cs", ".sh", ".props", ".csproj", ".py", ".slnx"];
        string[] folders = ["src", "tests", "bench", "scripts", ".ci"];
        var files = folders.Select(f => Path.Combine(TestPaths.RepositoryRoot, f)).Where(Directory.Exists)
            .SelectMany(f => Directory.EnumerateFiles(f, "*", SearchOption.AllDirectories))
            .Where(f => !f.Split(Path.DirectorySeparatorChar).Any(part => part is "bin" or "obj"))
            .Where(f => kinds.Contains(Path.GetExtension(f)) || Path.GetFileName(f) == "run")
            .Concat(new[] { "setup.sh", "test.sh" }.Select(f => Path.Combine(TestPaths.RepositoryRoot, f)));

        // When they are searched for the developers' shared folder beside the clone
        var outside = new System.Text.RegularExpressions.Regex(@"\.\./shared|""\.\."", *""shared""");
        var offenders = files.Where(f => outside.IsMatch(File.ReadAllText(f))).Select(f => Path.GetRelativePath(TestPaths.RepositoryRoot, f));

        // Then none reads it: a user's clone has nothing beside it
        Assert.Empty(offenders);
    }

    [Fact]
    public void EverySourceProject_HasATestProject()
    {
        foreach (var project in ProjectNames())
        {
            Assert.True(File.Exists(Path.Combine(TestPaths.RepositoryRoot, "tests", $"{project}.Tests", $"{project}.Tests.csproj")),
                $"{project} has no test project tests/{project}.Tests");
        }
    }
}

internal static class TestPaths
{
    public static string RepositoryRoot { get; } = FindRoot();

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Lamina.slnx"))) return dir.FullName;
        }
        throw new InvalidOperationException($"no Lamina.slnx above {AppContext.BaseDirectory}");
    }

    /// <summary>The lamina command built next to the tests.</summary>
    public static string LaminaDll => Path.Combine(AppContext.BaseDirectory, "lamina.dll");

    public static string Sample(string name) => Path.Combine(RepositoryRoot, "samples", name);

    /// <summary>A file of the repository's test data (the real CMU-1-Small-Region.svs, a broken slide): tests/data.</summary>
    public static string TestData(string name) => Path.Combine(RepositoryRoot, "tests", "data", name);

    public static Assembly Cli => typeof(LaminaApp).Assembly;
}
