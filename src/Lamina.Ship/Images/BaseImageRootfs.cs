using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Lamina.Core;

namespace Lamina.Ship.Images;

/// <summary>What the base image's root filesystem is made of: a Debian suite, a mirror and the packages added to minbase.</summary>
public sealed record BaseRootfsRecipe
{
    /// <summary>
    /// What <c>lamina-serve</c> needs in a minbase Debian, found by running it there: OpenSlide (and, through it,
    /// cairo, glib, libtiff, libxml2 and the rest), ICU for .NET's globalisation, OpenSSL and the CA certificates for
    /// S3 over TLS, time zones. libstdc++ and zlib are in minbase; libvips and ONNX Runtime come with the service.
    /// </summary>
    public static readonly IReadOnlyList<string> DefaultPackages = ["ca-certificates", "libicu72", "libopenslide0", "libssl3", "tzdata"];

    /// <summary>Where Debian is fetched from when neither an option nor this machine's apt names a mirror.</summary>
    public const string FallbackMirror = "http://deb.debian.org/debian";

    public string Suite { get; init; } = "bookworm";

    /// <summary>The Debian mirror (a snapshot.debian.org URL pins the packages in time).</summary>
    public string Mirror { get; init; } = FallbackMirror;

    /// <summary>Packages added to mmdebstrap's <c>minbase</c> variant (kept sorted, so the same set is the same recipe).</summary>
    public IReadOnlyList<string> Packages { get; init; } = DefaultPackages;

    /// <summary>SOURCE_DATE_EPOCH: mmdebstrap clamps every time to it.</summary>
    public DateTimeOffset Epoch { get; init; } = DateTimeOffset.UnixEpoch;

    /// <summary>The cache key: the same recipe is the same root filesystem, so it is downloaded once.</summary>
    public string Key
    {
        get
        {
            var text = string.Join('\n', Suite, "minbase", Mirror.TrimEnd('/'), string.Join(',', Packages.Order(StringComparer.Ordinal)),
                Epoch.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture));
            return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)))[..16];
        }
    }

    /// <summary>The Debian mirror this machine's apt uses (<c>/etc/apt/sources.list*</c>), else <see cref="FallbackMirror"/>.</summary>
    public static string MachineMirror(string sourcesRoot = "/etc/apt")
    {
        var files = new List<string>();
        if (File.Exists(Path.Combine(sourcesRoot, "sources.list"))) files.Add(Path.Combine(sourcesRoot, "sources.list"));
        var folder = Path.Combine(sourcesRoot, "sources.list.d");
        if (Directory.Exists(folder)) files.AddRange(Directory.GetFiles(folder).Where(f => f.EndsWith(".list", StringComparison.Ordinal) || f.EndsWith(".sources", StringComparison.Ordinal)).Order(StringComparer.Ordinal));
        foreach (var file in files)
        {
            foreach (var raw in File.ReadLines(file))
            {
                var line = raw.Trim();
                if (line.StartsWith('#')) continue;
                // deb822 ("URIs: http://…") or one-line ("deb [opts] http://… suite components").
                var words = line.StartsWith("URIs:", StringComparison.OrdinalIgnoreCase) ? line[5..].Split(' ', StringSplitOptions.RemoveEmptyEntries)
                    : line.StartsWith("deb ", StringComparison.Ordinal) ? line.Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).Where(w => w.Contains("://", StringComparison.Ordinal)).Take(1).ToArray()
                    : [];
                foreach (var uri in words.Select(w => w.TrimEnd('/')))
                {
                    if (uri.EndsWith("/debian", StringComparison.Ordinal) && Uri.TryCreate(uri, UriKind.Absolute, out var parsed) && parsed.Scheme is "http" or "https")
                    {
                        return uri;
                    }
                }
            }
        }
        return FallbackMirror;
    }
}

/// <summary>
/// Makes (with Debian's <c>mmdebstrap</c>) and caches the base image's root filesystem tar: one file per recipe in the
/// cache folder, written under a temporary name and renamed when whole, so an interrupted build is never used.
/// </summary>
public sealed class BaseImageRootfs(string cacheDirectory)
{
    /// <summary>The default cache folder, <c>~/.lamina/cache/base</c>.</summary>
    public static string DefaultCache => Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".lamina", "cache", "base");

    public string CacheDirectory { get; } = Path.GetFullPath(cacheDirectory);

    /// <summary>Reports mmdebstrap's lines as they come (it takes a minute and downloads some 100 MB).</summary>
    public IProgress<string>? Progress { get; init; }

    /// <summary>The cached tar of <paramref name="recipe"/> (whether or not it exists).</summary>
    public string PathOf(BaseRootfsRecipe recipe) =>
        Path.Combine(CacheDirectory, $"rootfs-{recipe.Suite}-{recipe.Key}.tar");

    /// <summary>The recipe's root filesystem tar: the cached one, else a fresh one made by mmdebstrap.</summary>
    /// <exception cref="ImageException">mmdebstrap is missing or failed (its last lines in the message).</exception>
    public async Task<(string Path, bool Cached)> EnsureAsync(BaseRootfsRecipe recipe, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(recipe);
        var path = PathOf(recipe);
        if (File.Exists(path)) return (path, true);
        Directory.CreateDirectory(CacheDirectory);
        var temporary = $"{path}.{Guid.NewGuid():N}.partial.tar";
        try
        {
            await RunMmdebstrapAsync(recipe, temporary, cancellationToken);
            File.Move(temporary, path, overwrite: true);
            await File.WriteAllTextAsync(Path.ChangeExtension(path, ".recipe"),
                $"suite {recipe.Suite}\nmirror {recipe.Mirror}\npackages {string.Join(',', recipe.Packages)}\nsource_date_epoch {recipe.Epoch.ToUnixTimeSeconds()}\n", cancellationToken);
            return (path, false);
        }
        finally
        {
            File.Delete(temporary);
        }
    }

    private async Task RunMmdebstrapAsync(BaseRootfsRecipe recipe, string output, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo("mmdebstrap")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var argument in new[] { "--variant=minbase", $"--include={string.Join(',', recipe.Packages)}", "--format=tar", recipe.Suite, output, recipe.Mirror })
        {
            start.ArgumentList.Add(argument);
        }
        start.Environment["SOURCE_DATE_EPOCH"] = recipe.Epoch.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        var tail = new Queue<string>();
        void Line(string? line)
        {
            if (line is null) return;
            lock (tail)
            {
                tail.Enqueue(line);
                if (tail.Count > 20) tail.Dequeue();
            }
            Progress?.Report(line);
        }
        Process process;
        try
        {
            process = Process.Start(start)!;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new ImageException($"mmdebstrap is not installed ({e.Message}): install the Debian package mmdebstrap (scripts/ensure-native.sh), or give a root filesystem tar with --rootfs-tar", e)
            { Kind = LaminaErrorKind.Unavailable };
        }
        using (process)
        {
            process.OutputDataReceived += (_, e) => Line(e.Data);
            process.ErrorDataReceived += (_, e) => Line(e.Data);
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            process.StandardInput.Close();
            try
            {
                await process.WaitForExitAsync(cancellationToken);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                throw;
            }
            if (process.ExitCode != 0)
            {
                string lines;
                lock (tail) lines = string.Join("\n", tail);
                throw new ImageException($"mmdebstrap {recipe.Suite} from {recipe.Mirror} with {string.Join(',', recipe.Packages)} failed (exit {process.ExitCode}):\n{lines}")
                { At = recipe.Mirror };
            }
        }
    }
}
