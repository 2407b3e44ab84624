using System.Text.RegularExpressions;

namespace Lamina.Core.Outputs;

/// <summary>
/// Files written whole or not at all into a folder that may hold other things (a data folder): each is written under a
/// hidden temporary name beside it (<c>.NAME.tmp-PID-….EXT</c>, the extension kept for writers that choose the format
/// by it) and renamed into place.
/// </summary>
public static partial class OutputFiles
{
    /// <summary>
    /// Before any work: creates the folder, removes temporary files that killed attempts left there, proves the folder
    /// writable, and refuses any of <paramref name="files"/> already there unless <paramref name="force"/>.
    /// </summary>
    /// <exception cref="OutputException">The folder is not writable, or a file would be overwritten without force.</exception>
    public static void Prepare(string directory, IEnumerable<string> files, bool force, string forceOption = "--force", TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(files);
        var full = Path.GetFullPath(directory);
        if (File.Exists(full)) throw OutputException.FileInTheWay(full);
        try
        {
            Directory.CreateDirectory(full);
            RemoveLeftovers(full, time ?? TimeProvider.System);
            var probe = StagingPath(Path.Combine(full, "write-probe"));
            File.WriteAllBytes(probe, [0]);
            File.Delete(probe);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw OutputException.CannotCreate(full, e);
        }
        if (force) return;
        foreach (var file in files)
        {
            var path = Path.Combine(full, file);
            if (File.Exists(path) || Directory.Exists(path)) throw OutputException.FileExists(path, forceOption);
        }
    }

    /// <summary>The temporary name to write <paramref name="path"/> under, in the same folder.</summary>
    public static string StagingPath(string path)
    {
        var full = Path.GetFullPath(path);
        return Path.Combine(Path.GetDirectoryName(full)!,
            $".{Path.GetFileNameWithoutExtension(full)}.tmp-{OutputOwner.NewTag()}{Path.GetExtension(full)}");
    }

    /// <summary>Renames a finished temporary file into place.</summary>
    public static void MoveIntoPlace(string staged, string path, bool overwrite)
    {
        try
        {
            File.Move(staged, path, overwrite);
        }
        catch (IOException) when (!overwrite && File.Exists(path))
        {
            File.Delete(staged);
            throw OutputException.FileExists(path, "--force");
        }
    }

    /// <summary>Deletes a temporary file that will not be moved into place.</summary>
    public static void Discard(string staged)
    {
        try
        {
            File.Delete(staged);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Left for the next attempt, which removes it once this process is gone.
        }
    }

    private static void RemoveLeftovers(string directory, TimeProvider time)
    {
        foreach (var file in Directory.EnumerateFiles(directory, ".*.tmp-*"))
        {
            var match = StagedName().Match(Path.GetFileName(file));
            if (match.Success && OutputOwner.IsLeftover(match.Groups["tag"].Value, File.GetLastWriteTimeUtc(file), time)) Discard(file);
        }
    }

    [GeneratedRegex(@"^\..+\.tmp-(?<tag>[0-9]{1,10}-[0-9a-f]{1,16}-[0-9a-f]{8})(\.[^.]+)?$")]
    private static partial Regex StagedName();
}
