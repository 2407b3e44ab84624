namespace Lamina.Core.Outputs;

/// <summary>
/// A folder a command writes whole or not at all. The work goes into a temporary sibling (<c>DIR.tmp-PID-…</c>) that
/// <see cref="Commit"/> renames into place; a process killed half-way leaves only that sibling, which the next attempt
/// at the same folder removes. Disposing without committing removes the sibling.
/// </summary>
public sealed class OutputFolder : IDisposable
{
    private const string StagingMark = ".tmp-";
    private const string ReplacedMark = ".old-";

    private readonly bool _force;
    private readonly string _forceOption;
    private bool _committed;

    private OutputFolder(string target, string staging, bool force, string forceOption)
    {
        Target = target;
        Staging = staging;
        _force = force;
        _forceOption = forceOption;
    }

    /// <summary>The folder the output appears as, whole, once committed.</summary>
    public string Target { get; }

    /// <summary>Where to write the output until it is committed.</summary>
    public string Staging { get; }

    /// <summary>
    /// Checks the place before any work is done: removes what earlier attempts at <paramref name="target"/> left when
    /// they were killed, refuses a file there or a non-empty folder (unless <paramref name="force"/>), and creates the
    /// temporary sibling and writes into it, so an unwritable place fails now rather than after the work.
    /// </summary>
    /// <param name="forceOption">The option that allows replacing, for the message (<c>--force</c>).</param>
    /// <param name="inputs">What the command reads (a slide, a configuration): a folder holding one is never replaced.</param>
    /// <exception cref="OutputException">The place is not writable, or something is in the way.</exception>
    public static OutputFolder Begin(string target, bool force, string forceOption = "--force", TimeProvider? time = null,
        IReadOnlyCollection<string>? inputs = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(target);
        var full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(target));
        var parent = Path.GetDirectoryName(full) ?? throw OutputException.NotWritable(full, new IOException("it is a root folder"));
        try
        {
            Directory.CreateDirectory(parent);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw OutputException.CannotCreate(full, e);
        }
        RemoveLeftovers(full, time ?? TimeProvider.System);
        if (File.Exists(full)) throw OutputException.FileInTheWay(full);
        if (!force && IsNonEmptyFolder(full)) throw OutputException.Exists(full, forceOption);
        // Replacing moves the whole folder away: never the one the command runs in or reads from.
        foreach (var kept in (inputs ?? []).Append(Environment.CurrentDirectory))
        {
            var relative = Path.GetRelativePath(full, Path.GetFullPath(kept));
            if (relative == "." || !(relative.StartsWith("..", StringComparison.Ordinal) || Path.IsPathRooted(relative)))
            {
                throw OutputException.WouldReplace(full, Path.GetFullPath(kept));
            }
        }

        var staging = $"{full}{StagingMark}{OutputOwner.NewTag()}";
        try
        {
            Directory.CreateDirectory(staging);
            var probe = Path.Combine(staging, ".write-probe");
            File.WriteAllBytes(probe, [0]);
            File.Delete(probe);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            TryDelete(staging);
            throw OutputException.NotWritable(full, e);
        }
        return new OutputFolder(full, staging, force, forceOption);
    }

    /// <summary>
    /// Moves the finished output into place. With force, a folder already there is first moved aside, then removed once the
    /// new one is in place; without it, only an empty folder is replaced.
    /// </summary>
    /// <exception cref="OutputException">Something appeared at the target meanwhile, or the rename failed.</exception>
    public void Commit()
    {
        ObjectDisposedException.ThrowIf(_committed, this);
        string? replaced = null;
        try
        {
            if (File.Exists(Target)) throw OutputException.FileInTheWay(Target);
            if (Directory.Exists(Target))
            {
                if (_force)
                {
                    replaced = $"{Target}{ReplacedMark}{OutputOwner.NewTag()}";
                    Directory.Move(Target, replaced);
                }
                else if (IsNonEmptyFolder(Target))
                {
                    throw OutputException.Exists(Target, _forceOption);
                }
                else
                {
                    Directory.Delete(Target);
                }
            }
            Directory.Move(Staging, Target);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            if (replaced is not null && !Directory.Exists(Target)) Directory.Move(replaced, Target);
            throw OutputException.NotReplaced(Target, e);
        }
        _committed = true;
        if (replaced is not null) TryDelete(replaced);
    }

    /// <summary>Removes the temporary sibling unless the output was committed.</summary>
    public void Dispose()
    {
        if (!_committed) TryDelete(Staging);
        _committed = true;
    }

    /// <summary>Removes the temporary siblings of <paramref name="target"/> whose writing process is gone.</summary>
    public static void RemoveLeftovers(string target, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(time);
        var full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(target));
        var parent = Path.GetDirectoryName(full);
        if (parent is null || !Directory.Exists(parent)) return;
        var name = Path.GetFileName(full);
        foreach (var sibling in Directory.EnumerateDirectories(parent, name + ".*"))
        {
            var rest = Path.GetFileName(sibling)[name.Length..];
            var tag = rest.StartsWith(StagingMark, StringComparison.Ordinal) ? rest[StagingMark.Length..]
                : rest.StartsWith(ReplacedMark, StringComparison.Ordinal) ? rest[ReplacedMark.Length..]
                : null;
            if (tag is not null && OutputOwner.IsLeftover(tag, Directory.GetLastWriteTimeUtc(sibling), time)) TryDelete(sibling);
        }
    }

    private static bool IsNonEmptyFolder(string path) => Directory.Exists(path) && Directory.EnumerateFileSystemEntries(path).Any();

    private static void TryDelete(string folder)
    {
        try
        {
            if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Left for the next attempt, which removes it once this process is gone.
        }
    }
}
