using Lamina.Tracking;

namespace Lamina.Lab.Remote;

/// <summary>
/// A worker's run trees, made from templates: the first run of a commit with a given diff (or shipped bundle) is checked
/// out once by <see cref="CodeCheckout"/> into a template; every run of that code gets a plain copy of the template's
/// files (its <c>.git</c> left out: a run executes its recorded configuration, it does not capture git). A queue of many
/// runs of one commit then pays git once, not per run. Templates not used for a day are removed, beyond the newest few.
/// </summary>
internal sealed class WorkTrees(CodeCheckout checkout, string directory)
{
    private const int Kept = 16;
    private static readonly TimeSpan Unused = TimeSpan.FromDays(1);

    /// <summary>Makes <paramref name="tree"/> (which must not exist) hold the run's code, its diff applied.</summary>
    public async Task MakeAsync(RunDetails details, string? sourceBundleDigest, string tree, Action<string> report, CancellationToken cancellationToken)
    {
        var git = details.Git ?? throw LabException.NoCheckout(details.Run.Id);
        var key = $"{git.Commit}-{(git.Dirty ? git.DiffDigest[..16] : "clean")}-{sourceBundleDigest?[..16] ?? "remote"}";
        var template = Path.Combine(directory, key);
        if (!Directory.Exists(template))
        {
            Directory.CreateDirectory(directory);
            var making = Path.Combine(directory, $".{key}-{Guid.NewGuid():N}");
            try
            {
                await checkout.CheckoutAsync(details, sourceBundleDigest, making, report, cancellationToken);
                try
                {
                    Directory.Move(making, template);
                }
                catch (IOException) when (Directory.Exists(template))
                {
                    // Another slot made the same template meanwhile: its copy serves.
                }
            }
            finally
            {
                Remove(making);
            }
            Evict(template);
        }
        else
        {
            report($"using the checked-out {git.Commit?[..12]}{(git.Dirty ? " with its diff" : "")}");
        }
        Directory.SetLastWriteTimeUtc(template, DateTime.UtcNow);
        try
        {
            Copy(new DirectoryInfo(template), tree, cancellationToken);
        }
        catch
        {
            Remove(tree);
            throw;
        }
    }

    private static void Copy(DirectoryInfo from, string to, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(to);
        foreach (var entry in from.EnumerateFileSystemInfos())
        {
            cancellationToken.ThrowIfCancellationRequested();
            var target = Path.Combine(to, entry.Name);
            if (entry.LinkTarget is { } link)
            {
                File.CreateSymbolicLink(target, link);
            }
            else if (entry is DirectoryInfo folder)
            {
                if (folder.Name != ".git") Copy(folder, target, cancellationToken);
            }
            else
            {
                ((FileInfo)entry).CopyTo(target);
            }
        }
    }

    // The newest templates stay, and any used within the last day; the rest go.
    private void Evict(string keep)
    {
        try
        {
            var old = new DirectoryInfo(directory).EnumerateDirectories()
                .Where(d => !d.Name.StartsWith('.') && d.FullName != keep)
                .OrderByDescending(d => d.LastWriteTimeUtc)
                .Skip(Kept - 1)
                .Where(d => DateTime.UtcNow - d.LastWriteTimeUtc > Unused);
            foreach (var template in old) Remove(template.FullName);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Disk only: tried again with the next template.
        }
    }

    private static void Remove(string folder)
    {
        try
        {
            if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }
}
