namespace Lamina.Testing;

/// <summary>
/// Helper programs that a test runs as child processes: each is a project under <c>tests/</c>, built with the test
/// project (a non-referencing project reference) into its own bin folder. Shared by the test projects.
/// </summary>
internal static class HelperPrograms
{
    /// <summary>The dll of helper project <paramref name="project"/>, built with the running tests' configuration and framework.</summary>
    /// <exception cref="FileNotFoundException">It is not built there.</exception>
    public static string PathOf(string project)
    {
        // .../tests/<test project>/bin/<Configuration>/<tfm>/
        var here = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(System.IO.Path.DirectorySeparatorChar));
        var framework = here.Name;
        var configuration = here.Parent!.Name;
        var tests = here.Parent.Parent!.Parent!.Parent!.FullName;
        var path = System.IO.Path.Combine(tests, project, "bin", configuration, framework, $"{project}.dll");
        return File.Exists(path) ? path : throw new FileNotFoundException($"the helper program {project} is not built at {path}", path);
    }
}
