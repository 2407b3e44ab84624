using System.Diagnostics;
using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text.Json;
using Lamina.Ship.Images;
using Lamina.Testing;

namespace Lamina.Cli.Tests.Images;

/// <summary>
/// Issue 16, the base image: the root filesystem re-packed keeping what its owners and modes mean, the same inputs giving
/// the same digest from two processes, the image as skopeo and umoci read it, and refusals that name what is wrong and
/// leave the target as it was. A small root filesystem tar stands in for mmdebstrap's here; ChrootServeTests uses the real one.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class BaseImageTests : IDisposable
{
    private static readonly DateTimeOffset Epoch = DateTimeOffset.FromUnixTimeSeconds(1_700_000_000);
    private readonly TemporaryDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task RootfsLayer_KeepsOwnersModesAndLinks_ClampsTimes_AndLeavesOutDeviceNodes()
    {
        // Given a root filesystem tar with a sticky /tmp, a root:shadow 0640 file, a future and a past time, links, a long name and a device node
        var tar = WriteRootfsTar(_temp.Combine("rootfs.tar"));

        // When it is re-packed as a layer
        using var layer = await RootfsLayer.FromRootfsTarAsync(tar, _temp.Combine("layer.tar.gz"), Epoch, CancellationToken.None);

        // Then the digest names the blob and the diff id the tar inside it
        var blob = await File.ReadAllBytesAsync(layer.Path);
        Assert.Equal(OciDigest.Of(blob), layer.Descriptor.Digest);
        Assert.Equal(blob.LongLength, layer.Descriptor.Size);
        var inner = Gunzip(blob);
        Assert.Equal(OciDigest.Of(inner), layer.DiffId);
        Assert.Equal(0xff, blob[9]);

        // And each entry keeps its owner, mode and link; times after the epoch are the epoch; /dev/null is gone
        var entries = ReadEntries(inner);
        Assert.Equal(["dev/", "tmp/", "etc/", "etc/shadow", "etc/old", "bin", "usr/bin/", "usr/bin/sh", "usr/bin/sh.hard", LongName], entries.Keys);
        Assert.Equal((UnixFileMode)0b1_111_111_111, entries["tmp/"].Mode);
        Assert.Equal(((UnixFileMode)0b110_100_000, 0, 42, "shadow"), (entries["etc/shadow"].Mode, entries["etc/shadow"].Uid, entries["etc/shadow"].Gid, entries["etc/shadow"].GroupName));
        Assert.Equal(Epoch, entries["etc/shadow"].ModificationTime);
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(946_684_800), entries["etc/old"].ModificationTime);
        Assert.Equal((TarEntryType.SymbolicLink, "usr/bin"), (entries["bin"].EntryType, entries["bin"].LinkName));
        Assert.Equal((TarEntryType.HardLink, "usr/bin/sh"), (entries["usr/bin/sh.hard"].EntryType, entries["usr/bin/sh.hard"].LinkName));
        Assert.Equal((UnixFileMode)0b111_101_101, entries["usr/bin/sh"].Mode);
    }

    [Fact]
    public async Task RootfsLayer_OfATarThatIsNotOne_FailsNamingIt_AndWritesNothing()
    {
        var tar = _temp.Combine("broken.tar");
        await File.WriteAllTextAsync(tar, new string('x', 2048));

        var error = await Assert.ThrowsAsync<ImageException>(() => RootfsLayer.FromRootfsTarAsync(tar, _temp.Combine("out", "layer.tar.gz"), Epoch, CancellationToken.None));

        Assert.Contains(tar, error.Message, StringComparison.Ordinal);
        Assert.Empty(Directory.Exists(_temp.Combine("out")) ? Directory.GetFiles(_temp.Combine("out")) : []);
    }

    [Fact]
    public async Task ImageBase_TwiceInTwoProcesses_GivesTheSameDigest_ThatSkopeoReads_AndTheAuditTrailRecords()
    {
        // Given a root filesystem tar and a lamina-serve folder
        var tar = WriteRootfsTar(_temp.Combine("rootfs.tar"));
        var serve = BaseImageFixture.WriteServeFolder(_temp.Combine("serve"));
        var lamina = new LaminaProcess(_temp.Combine("home"));

        // When the base is built twice, by two lamina processes, into two layouts
        var first = await BuildAsync(lamina, serve, tar, _temp.Combine("a"));
        var second = await BuildAsync(lamina, serve, tar, _temp.Combine("b"));

        // Then the digests are the same, and so is every blob
        Assert.Equal(first.Digest, second.Digest);
        Assert.Equal(Directory.GetFiles(_temp.Combine("a", "blobs", "sha256")).Select(Path.GetFileName).Order(),
            Directory.GetFiles(_temp.Combine("b", "blobs", "sha256")).Select(Path.GetFileName).Order());

        // And skopeo reads the image with its entry point, environment and labels
        using var inspect = JsonDocument.Parse(await NativeTool.RunAsync("skopeo", "inspect", "--config", $"oci:{_temp.Combine("a")}:0.1.0"));
        var config = inspect.RootElement.GetProperty("config");
        Assert.Equal([BaseImageBuilder.ServePath], config.GetProperty("Entrypoint").EnumerateArray().Select(e => e.GetString()));
        Assert.Contains(config.GetProperty("Env").EnumerateArray(), e => e.GetString()!.StartsWith("PATH=", StringComparison.Ordinal));
        var labels = config.GetProperty("Labels");
        Assert.Equal("0.1.0", labels.GetProperty(BaseImageBuilder.ServeVersionLabel).GetString());
        Assert.Equal(BaseImageBuilder.ServePath, labels.GetProperty(BaseImageBuilder.ServePathLabel).GetString());
        Assert.Equal("2023-11-14T22:13:20Z", labels.GetProperty("org.opencontainers.image.created").GetString());
        Assert.Equal("debian:bookworm", labels.GetProperty("org.opencontainers.image.base.name").GetString());
        Assert.Equal("2023-11-14T22:13:20Z", inspect.RootElement.GetProperty("created").GetString());

        // And each build is in the audit trail with its digest
        var audit = await lamina.RunAsync(_temp.Path, "audit", "log", "--json");
        Assert.True(audit.ExitCode == 0, audit.ToString());
        var built = JsonDocument.Parse(audit.Stdout).RootElement.EnumerateArray()
            .Where(e => e.GetProperty("action").GetString() == "image.base.built").ToList();
        Assert.Equal(2, built.Count);
        Assert.All(built, e => Assert.Contains(first.Digest, e.GetRawText(), StringComparison.Ordinal));
    }

    [Fact]
    public async Task ImageBase_UnpackedByUmoci_HasTheRootfsOwnersAndModes_AndAnExecutableService()
    {
        // Given a base built into a layout
        var tar = WriteRootfsTar(_temp.Combine("rootfs.tar"));
        var serve = BaseImageFixture.WriteServeFolder(_temp.Combine("serve"));
        await BuildAsync(new LaminaProcess(_temp.Combine("home")), serve, tar, _temp.Combine("layout"));

        // When umoci unpacks it
        var unpacked = _temp.Combine("unpacked");
        await NativeTool.RunAsync("umoci", "unpack", "--image", $"{_temp.Combine("layout")}:0.1.0", unpacked);

        // Then /tmp is sticky and world-writable, /etc/shadow root:42 0640, no /dev/null, and the service executable
        var rootfs = Path.Combine(unpacked, "rootfs");
        Assert.Equal((UnixFileMode)0b1_111_111_111, File.GetUnixFileMode(Path.Combine(rootfs, "tmp")));
        Assert.Equal((UnixFileMode)0b110_100_000, File.GetUnixFileMode(Path.Combine(rootfs, "etc", "shadow")));
        Assert.Equal("42", (await NativeTool.RunAsync("stat", "-c", "%g", Path.Combine(rootfs, "etc", "shadow"))).Trim());
        Assert.False(File.Exists(Path.Combine(rootfs, "dev", "null")));
        Assert.Equal("usr/bin", new FileInfo(Path.Combine(rootfs, "bin")).LinkTarget);
        Assert.NotEqual(UnixFileMode.None, File.GetUnixFileMode(Path.Combine(rootfs, "opt", "lamina-serve", "lamina-serve")) & UnixFileMode.OtherExecute);
        Assert.Equal(await File.ReadAllBytesAsync(Path.Combine(serve, "lamina-serve.dll")),
            await File.ReadAllBytesAsync(Path.Combine(rootfs, "opt", "lamina-serve", "lamina-serve.dll")));
    }

    [Fact]
    public async Task ImageBase_OfAPublishThatIsNotSelfContained_FailsNamingWhatIsMissing_AndWritesNoLayout()
    {
        // Given a framework-dependent lamina-serve (no libcoreclr.so, no executable)
        var serve = _temp.Combine("serve");
        Directory.CreateDirectory(serve);
        File.Copy(Path.Combine(AppContext.BaseDirectory, "lamina-serve.dll"), Path.Combine(serve, "lamina-serve.dll"));
        var layout = _temp.Combine("layout");

        // When a base is built from it
        var result = await new LaminaProcess(_temp.Combine("home")).RunAsync(_temp.Path, "image", "base", "--serve", serve,
            "--rootfs-tar", WriteRootfsTar(_temp.Combine("rootfs.tar")), "--oci-layout", layout);

        // Then it fails, naming the folder and what it lacks, and no layout is written
        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains(serve, result.Stderr, StringComparison.Ordinal);
        Assert.Contains("no libcoreclr.so", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("no lamina-serve executable", result.Stderr, StringComparison.Ordinal);
        Assert.False(Directory.Exists(layout));
    }

    [Fact]
    public async Task ImageBase_WithARootfsTarThatIsNotATar_FailsNamingIt_AndLeavesTheLayoutAsItWas()
    {
        // Given a layout holding a base already, and a file that is not a tar
        var serve = BaseImageFixture.WriteServeFolder(_temp.Combine("serve"));
        var lamina = new LaminaProcess(_temp.Combine("home"));
        var layout = _temp.Combine("layout");
        await BuildAsync(lamina, serve, WriteRootfsTar(_temp.Combine("rootfs.tar")), layout);
        var before = Snapshot(layout);
        var broken = _temp.Combine("broken.tar");
        await File.WriteAllTextAsync(broken, new string('x', 4096));

        // When a base is built from it into the same layout
        var result = await lamina.RunAsync(_temp.Path, "image", "base", "--serve", serve, "--rootfs-tar", broken, "--oci-layout", layout);

        // Then it fails naming the tar, and the layout is byte for byte what it was
        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains(broken, result.Stderr, StringComparison.Ordinal);
        Assert.Equal(before, Snapshot(layout));
    }

    [Fact]
    public async Task ImageBase_Pushed_ToARegistry_HasTheLayoutsDigest_AsSkopeoReadsIt_AndAPushAgainSendsNothing()
    {
        // Given a reference registry, and a base built into a layout
        await using var registry = await RegistryServer.StartAsync();
        var tar = WriteRootfsTar(_temp.Combine("rootfs.tar"));
        var serve = BaseImageFixture.WriteServeFolder(_temp.Combine("serve"));
        var lamina = new LaminaProcess(_temp.Combine("home"));
        var inLayout = await BuildAsync(lamina, serve, tar, _temp.Combine("layout"));
        var tag = $"{registry.Address}/lamina/lamina-serve:0.1.0";

        // When the same base is built and pushed to the registry
        var pushed = await lamina.RunAsync(_temp.Path, "image", "base", "--serve", serve, "--rootfs-tar", tar, "--source-date-epoch", "1700000000",
            "--tag", tag, "--push", "--json");

        // Then its digest is the layout's, and skopeo reads it from the registry under that digest with its labels
        Assert.True(pushed.ExitCode == 0, $"{pushed}\n{registry.LogTail()}");
        Assert.Equal(inLayout.Digest, JsonDocument.Parse(pushed.Stdout).RootElement.GetProperty("digest").GetString());
        using var inspect = JsonDocument.Parse(await NativeTool.RunAsync("skopeo", "inspect", "--tls-verify=false", $"docker://{tag}"));
        Assert.Equal(inLayout.Digest, inspect.RootElement.GetProperty("Digest").GetString());
        Assert.Equal("0.1.0", inspect.RootElement.GetProperty("Labels").GetProperty(BaseImageBuilder.ServeVersionLabel).GetString());
        Assert.True(JsonDocument.Parse(pushed.Stdout).RootElement.GetProperty("bytes_pushed").GetInt64() > 0, pushed.Stdout);

        // And a second push of the same base sends no blob: the registry holds them all
        var again = await lamina.RunAsync(_temp.Path, "image", "base", "--serve", serve, "--rootfs-tar", tar, "--source-date-epoch", "1700000000",
            "--tag", tag, "--push", "--json");
        Assert.True(again.ExitCode == 0, again.ToString());
        Assert.Equal(0, JsonDocument.Parse(again.Stdout).RootElement.GetProperty("bytes_pushed").GetInt64());
    }

    [Fact]
    public async Task ImageBase_Help_ListsItsOptions()
    {
        var result = await new LaminaProcess(_temp.Combine("home")).RunAsync(_temp.Path, "image", "base", "--help");

        Assert.True(result.ExitCode == 0, result.ToString());
        foreach (var option in new[] { "--serve", "--tag", "--rootfs-tar", "--mirror", "--cache", "--source-date-epoch", "--oci-layout", "--archive", "--push" })
        {
            Assert.Contains(option, result.Stdout, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task ImageBase_PushWithATagThatNamesNoRegistry_FailsBeforeBuilding()
    {
        var serve = BaseImageFixture.WriteServeFolder(_temp.Combine("serve"));

        var result = await new LaminaProcess(_temp.Combine("home")).RunAsync(_temp.Path, "image", "base", "--serve", serve, "--push", "--rootfs-tar", _temp.Combine("none.tar"));

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("--tag lamina-serve:0.1.0: --push needs a registry", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void MachineMirror_ReadsDeb822AndOneLineSources_SkippingSecurityAndOtherRepositories()
    {
        // Given apt sources with a comment, a third-party repository, Debian's security archive and a Debian mirror
        var apt = _temp.Combine("apt");
        Directory.CreateDirectory(Path.Combine(apt, "sources.list.d"));
        File.WriteAllText(Path.Combine(apt, "sources.list.d", "a-other.list"), "# deb http://commented.example/debian bookworm main\ndeb https://packages.example.com/apt stable main\n");
        File.WriteAllText(Path.Combine(apt, "sources.list.d", "debian.sources"),
            "Types: deb\nURIs: http://deb.debian.org/debian-security\nSuites: bookworm-security\n\nTypes: deb\nURIs: http://mirror.example.org/debian/\nSuites: bookworm\n");

        // Then the Debian mirror is found; with no sources at all, Debian's own
        Assert.Equal("http://mirror.example.org/debian", BaseRootfsRecipe.MachineMirror(apt));
        File.WriteAllText(Path.Combine(apt, "sources.list"), "deb [arch=amd64] http://ftp.example.net/debian bookworm main\n");
        Assert.Equal("http://ftp.example.net/debian", BaseRootfsRecipe.MachineMirror(apt));
        Assert.Equal(BaseRootfsRecipe.FallbackMirror, BaseRootfsRecipe.MachineMirror(_temp.Combine("none")));
    }

    [Fact]
    public void RootfsRecipe_Key_ChangesWithEachInput_AndNotWithThePackagesOrder()
    {
        var recipe = new BaseRootfsRecipe { Mirror = "http://a/debian", Packages = ["b", "a"], Epoch = Epoch };
        Assert.Equal(recipe.Key, (recipe with { Packages = ["a", "b"] }).Key);
        Assert.Equal(5, new[]
        {
            recipe.Key, (recipe with { Mirror = "http://b/debian" }).Key, (recipe with { Packages = ["a"] }).Key,
            (recipe with { Suite = "trixie" }).Key, (recipe with { Epoch = Epoch.AddSeconds(1) }).Key,
        }.Distinct().Count());
    }

    private const string LongName = "usr/share/doc/a-package-with-a-rather-long-name/examples/and-a-file-whose-name-goes-past-the-hundred-characters-of-ustar.txt";

    private static async Task<(string Digest, string Stdout)> BuildAsync(LaminaProcess lamina, string serve, string tar, string layout)
    {
        var result = await lamina.RunAsync(Path.GetTempPath(), "image", "base", "--serve", serve, "--rootfs-tar", tar, "--source-date-epoch", "1700000000",
            "--oci-layout", layout, "--json");
        Assert.True(result.ExitCode == 0, result.ToString());
        return (JsonDocument.Parse(result.Stdout).RootElement.GetProperty("digest").GetString()!, result.Stdout);
    }

    /// <summary>A small root filesystem tar as mmdebstrap writes one (pax, ./ names, /dev first with a device node).</summary>
    private static string WriteRootfsTar(string path)
    {
        using var file = File.Create(path);
        using var writer = new TarWriter(file, TarEntryFormat.Pax);
        var future = DateTimeOffset.FromUnixTimeSeconds(1_900_000_000);
        void Add(TarEntryType type, string name, UnixFileMode mode, int gid = 0, string group = "root", DateTimeOffset? time = null, string? link = null, string? text = null)
        {
            var entry = new PaxTarEntry(type, name)
            {
                Mode = mode, Uid = 0, Gid = gid, UserName = "root", GroupName = group, ModificationTime = time ?? future,
            };
            if (link is not null) entry.LinkName = link;
            if (type == TarEntryType.CharacterDevice) (entry.DeviceMajor, entry.DeviceMinor) = (1, 3);
            if (text is not null) entry.DataStream = new MemoryStream(System.Text.Encoding.UTF8.GetBytes(text));
            writer.WriteEntry(entry);
        }
        Add(TarEntryType.Directory, "./dev/", (UnixFileMode)0b111_101_101);
        Add(TarEntryType.CharacterDevice, "./dev/null", (UnixFileMode)0b110_110_110);
        Add(TarEntryType.Directory, "./", (UnixFileMode)0b111_101_101);
        Add(TarEntryType.Directory, "./tmp/", (UnixFileMode)0b1_111_111_111);
        Add(TarEntryType.Directory, "./etc/", (UnixFileMode)0b111_101_101);
        Add(TarEntryType.RegularFile, "./etc/shadow", (UnixFileMode)0b110_100_000, gid: 42, group: "shadow", text: "root:*:19000:0:99999:7:::\n");
        Add(TarEntryType.RegularFile, "./etc/old", (UnixFileMode)0b110_100_100, time: DateTimeOffset.FromUnixTimeSeconds(946_684_800), text: "old\n");
        Add(TarEntryType.SymbolicLink, "./bin", (UnixFileMode)0b111_111_111, link: "usr/bin");
        Add(TarEntryType.Directory, "./usr/bin/", (UnixFileMode)0b111_101_101);
        Add(TarEntryType.RegularFile, "./usr/bin/sh", (UnixFileMode)0b111_101_101, text: "#!/bin/sh\n");
        Add(TarEntryType.HardLink, "./usr/bin/sh.hard", (UnixFileMode)0b111_101_101, link: "./usr/bin/sh");
        Add(TarEntryType.RegularFile, "./" + LongName, (UnixFileMode)0b110_100_100, text: "long\n");
        return path;
    }

    private static byte[] Gunzip(byte[] blob)
    {
        using var gzip = new GZipStream(new MemoryStream(blob), CompressionMode.Decompress);
        using var tar = new MemoryStream();
        gzip.CopyTo(tar);
        return tar.ToArray();
    }

    private static Dictionary<string, PosixTarEntry> ReadEntries(byte[] tar)
    {
        var entries = new Dictionary<string, PosixTarEntry>(StringComparer.Ordinal);
        using var reader = new TarReader(new MemoryStream(tar));
        while (reader.GetNextEntry(copyData: true) is PosixTarEntry entry) entries.Add(entry.Name, entry);
        return entries;
    }

    private static Dictionary<string, string> Snapshot(string folder) =>
        Directory.GetFiles(folder, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal)
            .ToDictionary(f => Path.GetRelativePath(folder, f), f => Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(f))));
}

/// <summary>What the base image tests share: a lamina-serve folder, this commit's lamina-serve published self-contained, and caches under .lamina-test/.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
internal static class BaseImageFixture
{
    public const string Epoch = "1700000000";

    private static readonly Lazy<Task<string>> Published = new(PublishAsync, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>Where mmdebstrap's root filesystem tars are kept between runs (ignored by git).</summary>
    public static string RootfsCache => Path.Combine(TestPaths.RepositoryRoot, ".lamina-test", "base", "rootfs");

    /// <summary>
    /// A folder laid out as a self-contained publish for the image's sake: the real lamina-serve.dll (its version), an
    /// executable lamina-serve, a libcoreclr.so. Not runnable: the chroot test runs a real publish.
    /// </summary>
    public static string WriteServeFolder(string folder)
    {
        Directory.CreateDirectory(folder);
        File.Copy(Path.Combine(AppContext.BaseDirectory, "lamina-serve.dll"), Path.Combine(folder, "lamina-serve.dll"));
        File.WriteAllText(Path.Combine(folder, "lamina-serve"), "#!/bin/sh\nexit 0\n");
        File.SetUnixFileMode(Path.Combine(folder, "lamina-serve"), (UnixFileMode)0b111_101_101);
        File.WriteAllBytes(Path.Combine(folder, "libcoreclr.so"), [0x7f, (byte)'E', (byte)'L', (byte)'F']);
        File.SetUnixFileMode(Path.Combine(folder, "libcoreclr.so"), (UnixFileMode)0b111_100_100);
        return folder;
    }

    /// <summary>
    /// lamina-serve of this commit published self-contained for linux-x64, once per content of the built service
    /// (cached under .lamina-test/base/); built in an artifacts folder of its own, so the running tests' files are not touched.
    /// </summary>
    public static Task<string> PublishServeAsync() => Published.Value;

    private static readonly SemaphoreSlim BuildingBase = new(1, 1);

    /// <summary>
    /// Lamina's base image <c>lamina-serve:0.1.0</c> built by <c>lamina image base</c> into <paramref name="layout"/>
    /// from the cached publish and root filesystem, one build at a time (the second finds mmdebstrap's tar cached);
    /// its <c>--json</c> answer.
    /// </summary>
    public static async Task<JsonDocument> BuildBaseAsync(LaminaProcess lamina, string workingDirectory, string layout)
    {
        var serve = await PublishServeAsync();
        await BuildingBase.WaitAsync();
        try
        {
            var built = await lamina.RunAsync(TimeSpan.FromMinutes(10), workingDirectory, "image", "base", "--serve", serve, "--tag", "lamina-serve:0.1.0",
                "--cache", RootfsCache, "--source-date-epoch", Epoch, "--oci-layout", layout, "--json");
            Assert.True(built.ExitCode == 0, built.ToString());
            return JsonDocument.Parse(built.Stdout);
        }
        finally
        {
            BuildingBase.Release();
        }
    }

    private static async Task<string> PublishAsync()
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var name in new[] { "lamina-serve.dll", "Lamina.Core.dll" }) hash.AppendData(await File.ReadAllBytesAsync(Path.Combine(AppContext.BaseDirectory, name)));
        var root = Path.Combine(TestPaths.RepositoryRoot, ".lamina-test", "base");
        var folder = Path.Combine(root, $"serve-{Convert.ToHexStringLower(hash.GetHashAndReset())[..16]}");
        if (File.Exists(Path.Combine(folder, "lamina-serve"))) return folder;
        // Publishes of older builds are 235 MB each: only the newest is kept.
        foreach (var old in Directory.Exists(root) ? Directory.GetDirectories(root, "serve-*") : []) Directory.Delete(old, recursive: true);
        var partial = folder + ".partial";
        if (Directory.Exists(partial)) Directory.Delete(partial, recursive: true);
        await NativeTool.RunAsync(TimeSpan.FromMinutes(10), "dotnet", "publish", Path.Combine(TestPaths.RepositoryRoot, "src", "Lamina.Serve"), "-c", "Release",
            "-r", "linux-x64", "--self-contained", "-p:ContinuousIntegrationBuild=true", "--artifacts-path", Path.Combine(root, "artifacts"), "-o", partial, "-nologo");
        Directory.Move(partial, folder);
        return folder;
    }
}

/// <summary>Runs a native tool (skopeo, umoci, mount, dotnet) and returns its standard output; a failure throws with its output.</summary>
internal static class NativeTool
{
    public static Task<string> RunAsync(string file, params string[] arguments) => RunAsync(TimeSpan.FromMinutes(3), file, arguments);

    public static async Task<string> RunAsync(TimeSpan timeout, string file, params string[] arguments)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        using var process = Process.Start(start)!;
        process.StandardInput.Close();
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var limit = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(limit.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', arguments)} did not end within {timeout.TotalMinutes:0} min");
        }
        return process.ExitCode == 0
            ? await output
            : throw new InvalidOperationException($"{file} {string.Join(' ', arguments)} exited with {process.ExitCode}:\n{await output}\n{await error}");
    }
}
