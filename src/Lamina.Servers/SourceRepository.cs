namespace Lamina.Servers;

/// <summary>The Lamina source repository a program was built from (its tools, samples and scripts).</summary>
public static class SourceRepository
{
    /// <summary>The folder holding <c>Lamina.slnx</c> at or above <see cref="AppContext.BaseDirectory"/>; null when there is none (an installed Lamina).</summary>
    public static string? Find()
    {
        for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
        {
            if (File.Exists(Path.Combine(folder.FullName, "Lamina.slnx"))) return folder.FullName;
        }
        return null;
    }
}
