using System.Security.Cryptography;
using Lamina.Cli.Tests.Hostile;

namespace Lamina.Cli.Tests.Serve;

/// <summary>
/// The serve tests run one class at a time: each starts services that analyse on every core, and the fault tests time
/// analyses against leases and graces that a second class's analyses would stretch.
/// </summary>
[CollectionDefinition(Name)]
public sealed class ServeCollection : ICollectionFixture<ServeBundles>
{
    public const string Name = "Serve";
}

/// <summary>
/// The bundles the serve tests analyse, built once for the collection: a small one (the tiny classifier, a 1024 px
/// slide at 2 µm/px: under a second) and, on first use, a slow one (an 8192 px slide read at 0.12 µm/px, some 160,000
/// tiles: about ten seconds on two cores), long enough to kill, stop or time out a service in the middle of it.
/// </summary>
public sealed class ServeBundles : IAsyncLifetime
{
    private readonly TemporaryDirectory _temp = new();
    private readonly Lazy<Task<ServeBundle>> _slow;

    public ServeBundles() =>
        _slow = new(() => ServeBundle.BuildAsync(_temp.Combine("slow"), slideSize: 8192, micronsPerPixel: 0.12), LazyThreadSafetyMode.ExecutionAndPublication);

    public ServeBundle Small { get; private set; } = null!;

    public Task<ServeBundle> SlowAsync() => _slow.Value;

    public async Task InitializeAsync() => Small = await ServeBundle.BuildAsync(_temp.Combine("small"), slideSize: 1024, micronsPerPixel: 2.0);

    public Task DisposeAsync()
    {
        _temp.Dispose();
        return Task.CompletedTask;
    }
}

/// <summary>A bundle (analysis <c>breast</c>) and a synthetic slide to analyse with it.</summary>
public sealed record ServeBundle(string Bundle, string Slide)
{
    public const string Analysis = "breast";

    /// <summary>SHA-256 of the bundle's <c>provenance.json</c>: what reports and events trace the bundle by.</summary>
    public string ProvenanceSha256 => ServeResults.Sha256(Path.Combine(Bundle, "provenance.json"));

    internal static async Task<ServeBundle> BuildAsync(string root, int slideSize, double micronsPerPixel)
    {
        await HostileTemplate.BuildAsync(root, slideSize: slideSize, micronsPerPixel: micronsPerPixel);
        return new ServeBundle(Path.Combine(root, "work", "bundle"), Path.Combine(root, "work", "slide.tif"));
    }

    /// <summary>A copy of the bundle under <paramref name="folder"/>, to alter.</summary>
    public string CopyBundleTo(string folder)
    {
        Copy(Bundle, folder);
        return folder;
    }

    private static void Copy(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.GetFiles(from)) File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
        foreach (var folder in Directory.GetDirectories(from)) Copy(folder, Path.Combine(to, Path.GetFileName(folder)));
    }
}

/// <summary>Checks of a request's results against their <c>lamina-result.json</c>.</summary>
internal static class ServeResults
{
    public static string Sha256(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    /// <summary>
    /// The folder's result manifest, once every file it lists is there with its size and digest, no file it does not
    /// list is there, and it answers <paramref name="requestId"/>; fails the test naming what is wrong otherwise.
    /// </summary>
    public static Lamina.Serve.Contracts.ResultManifest Verify(string folder, string requestId)
    {
        var manifestPath = Path.Combine(folder, Lamina.Serve.Contracts.ResultManifest.FileName);
        Assert.True(File.Exists(manifestPath), $"{folder} has no {Lamina.Serve.Contracts.ResultManifest.FileName}; it holds: {Listing(folder)}");
        var bytes = File.ReadAllBytes(manifestPath);
        Lamina.Serve.Contracts.ResultManifest manifest;
        try
        {
            manifest = Lamina.Serve.Contracts.ResultManifest.Read(bytes);
        }
        catch (System.Text.Json.JsonException e)
        {
            var start = System.Text.Encoding.UTF8.GetString(bytes.AsSpan(0, Math.Min(bytes.Length, 160)));
            throw new Xunit.Sdk.XunitException($"{manifestPath} is not a result manifest ({e.Message}); its {bytes.Length} bytes start: {start}");
        }
        Assert.Equal(requestId, manifest.RequestId);
        var problems = new List<string>();
        foreach (var file in manifest.Files)
        {
            var path = Path.Combine(folder, file.Name);
            if (!File.Exists(path)) problems.Add($"{file.Name}: listed, missing");
            else if (new FileInfo(path).Length != file.Size) problems.Add($"{file.Name}: {new FileInfo(path).Length} bytes, listed {file.Size}");
            else if (Sha256(path) != file.Sha256) problems.Add($"{file.Name}: sha256 {Sha256(path)}, listed {file.Sha256}");
        }
        var listed = manifest.Files.Select(f => f.Name.Replace('\\', '/')).ToHashSet(StringComparer.Ordinal);
        foreach (var name in Files(folder).Where(n => n != Lamina.Serve.Contracts.ResultManifest.FileName && !listed.Contains(n)))
        {
            problems.Add($"{name}: at the output, not listed");
        }
        Assert.True(problems.Count == 0, $"{folder} does not verify against its result manifest:\n{string.Join("\n", problems)}");
        Assert.Contains("report.json", listed);
        Assert.Equal(Sha256(Path.Combine(folder, "report.json")), manifest.ReportSha256);
        return manifest;
    }

    /// <summary>The files under <paramref name="folder"/>, relative, with '/' separators, in order.</summary>
    public static List<string> Files(string folder) =>
        Directory.Exists(folder)
            ? [.. Directory.GetFiles(folder, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(folder, f).Replace('\\', '/')).Order(StringComparer.Ordinal)]
            : [];

    public static string Listing(string folder) => Directory.Exists(folder) ? string.Join(", ", Files(folder)) : "(no folder)";
}
