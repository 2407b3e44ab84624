namespace Lamina.Core;

/// <summary>
/// Lamina's home folder as Core needs it without the stores (an analysis of a bundle): where it is, and where compiled
/// plug-in sources are cached. The tracking side's <c>LaminaHome</c> adds the stores and caches kept there.
/// </summary>
public static class HomeFolder
{
    /// <summary>The environment variable that overrides the default folder.</summary>
    public const string EnvironmentVariable = "LAMINA_HOME";

    /// <summary>The folder from <c>LAMINA_HOME</c>, else <c>~/.lamina</c>, full path; creates nothing.</summary>
    public static string Resolve()
    {
        var fromEnvironment = Environment.GetEnvironmentVariable(EnvironmentVariable);
        return Path.GetFullPath(string.IsNullOrWhiteSpace(fromEnvironment)
            ? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".lamina")
            : fromEnvironment);
    }

    /// <summary>The folder under <paramref name="root"/> where compiled source plug-ins are cached.</summary>
    public static string PluginCachePath(string root) => Path.Combine(root, "plugin-cache");
}
