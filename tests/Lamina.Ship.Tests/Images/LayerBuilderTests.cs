using Lamina.Ship.Images;

namespace Lamina.Ship.Tests.Images;

public sealed class LayerBuilderTests
{
    private static readonly DateTimeOffset Created = new(2026, 3, 4, 5, 6, 7, TimeSpan.Zero);

    private static void WriteFolder(string root)
    {
        Directory.CreateDirectory(Path.Combine(root, "models", "carcinoma_model"));
        Directory.CreateDirectory(Path.Combine(root, "plugins"));
        File.WriteAllText(Path.Combine(root, "analysis.yaml"), "version: 1\n");
        File.WriteAllBytes(Path.Combine(root, "models", "carcinoma_model", "head.onnx"), [.. Enumerable.Range(0, 100_000).Select(i => (byte)(i * 7))]);
        File.WriteAllText(Path.Combine(root, "plugins", "Normalization.cs"), "public sealed class Normalization {}\n");
    }

    [Fact]
    public async Task Build_SameFolderTwice_GivesIdenticalBytes_AndAChangedFileChangesTheDigest()
    {
        // Given a folder, built once, then touched (a new mtime only) and built again
        using var temp = new TemporaryDirectory();
        var folder = temp.Combine("bundle");
        WriteFolder(folder);
        using var first = await LayerBuilder.BuildAsync(folder, "/opt/lamina/bundle", Created, temp.Combine("first.tar.gz"), CancellationToken.None);
        File.SetLastWriteTimeUtc(Path.Combine(folder, "analysis.yaml"), DateTime.UtcNow.AddDays(-3));
        using var second = await LayerBuilder.BuildAsync(folder, "/opt/lamina/bundle", Created, temp.Combine("second.tar.gz"), CancellationToken.None);

        // Then the two layers are the same bytes, and their descriptor says what the file holds
        Assert.Equal(await File.ReadAllBytesAsync(first.Path), await File.ReadAllBytesAsync(second.Path));
        Assert.Equal(first.Descriptor, second.Descriptor);
        Assert.Equal(OciDigest.Of(await File.ReadAllBytesAsync(first.Path)), first.Descriptor.Digest);
        Assert.Equal(new FileInfo(first.Path).Length, first.Descriptor.Size);
        Assert.Equal(OciMediaTypes.LayerTarGzip, first.Descriptor.MediaType);

        // And the diff id is the digest of the uncompressed tar
        await using (var gzip = new System.IO.Compression.GZipStream(File.OpenRead(first.Path), System.IO.Compression.CompressionMode.Decompress))
        using (var tar = new MemoryStream())
        {
            await gzip.CopyToAsync(tar);
            Assert.Equal(OciDigest.Of(tar.ToArray()), first.DiffId);
            Assert.Equal(tar.Length, first.UncompressedSize);
        }

        // And the gzip header names no file, no time and no system
        var header = (await File.ReadAllBytesAsync(first.Path))[..10];
        Assert.Equal(new byte[] { 0x1f, 0x8b, 8, 0, 0, 0, 0, 0 }, header[..8]);
        Assert.Equal(0xff, header[9]);

        // When one byte of a file changes, the digest and the diff id change
        File.AppendAllText(Path.Combine(folder, "plugins", "Normalization.cs"), " ");
        using var changed = await LayerBuilder.BuildAsync(folder, "/opt/lamina/bundle", Created, temp.Combine("changed.tar.gz"), CancellationToken.None);
        Assert.NotEqual(first.Descriptor.Digest, changed.Descriptor.Digest);
        Assert.NotEqual(first.DiffId, changed.DiffId);

        // And another time changes it too
        using var later = await LayerBuilder.BuildAsync(folder, "/opt/lamina/bundle", Created.AddSeconds(1), temp.Combine("later.tar.gz"), CancellationToken.None);
        Assert.NotEqual(changed.Descriptor.Digest, later.Descriptor.Digest);
    }

    [Fact]
    public async Task Build_TarListsSortedEntries_WithParentFolders_RootOwners_FixedModesAndTheFixedDate()
    {
        // Given a folder with an executable script and a symbolic link
        using var temp = new TemporaryDirectory();
        var folder = temp.Combine("bundle");
        WriteFolder(folder);
        var script = Path.Combine(folder, "plugins", "run.sh");
        File.WriteAllText(script, "#!/bin/sh\n");
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(script, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(Path.Combine(folder, "analysis.yaml"), UnixFileMode.UserRead | UnixFileMode.UserWrite);
        File.CreateSymbolicLink(Path.Combine(folder, "current"), "models/carcinoma_model");

        // When it is built under /opt/lamina/bundle
        using var layer = await LayerBuilder.BuildAsync(folder, "/opt/lamina/bundle", Created.AddTicks(1234), temp.Combine("layer.tar.gz"), CancellationToken.None);

        // Then GNU tar lists the parent folders first, every entry sorted, owned by root/root, at the fixed time
        var listing = (await Tool.RunAsync("tar", "--utc", "-tvzf", layer.Path)).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var names = listing.Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[5]).ToList();
        Assert.Equal(
        [
            "opt/", "opt/lamina/", "opt/lamina/bundle/", "opt/lamina/bundle/analysis.yaml", "opt/lamina/bundle/current", "opt/lamina/bundle/models/",
            "opt/lamina/bundle/models/carcinoma_model/", "opt/lamina/bundle/models/carcinoma_model/head.onnx", "opt/lamina/bundle/plugins/",
            "opt/lamina/bundle/plugins/Normalization.cs", "opt/lamina/bundle/plugins/run.sh",
        ], names);
        Assert.All(listing, l => Assert.Contains(" root/root ", l, StringComparison.Ordinal));
        Assert.All(listing, l => Assert.Contains(" 2026-03-04 05:06 ", l, StringComparison.Ordinal));
        string Mode(string name) => listing.Single(l => l.EndsWith(" " + name, StringComparison.Ordinal) || l.Contains($" {name} -> ", StringComparison.Ordinal))[..10];
        Assert.Equal("-rw-r--r--", Mode("opt/lamina/bundle/analysis.yaml"));
        Assert.Equal("-rwxr-xr-x", Mode("opt/lamina/bundle/plugins/run.sh"));
        Assert.Equal("drwxr-xr-x", Mode("opt/lamina/bundle/models/"));
        Assert.Equal("lrwxrwxrwx", Mode("opt/lamina/bundle/current"));
        Assert.Contains(listing, l => l.EndsWith("opt/lamina/bundle/current -> models/carcinoma_model", StringComparison.Ordinal));

        // And the uids are 0 and no pax headers carry access or change times
        var numeric = await Tool.RunAsync("tar", "--numeric-owner", "-tvzf", layer.Path);
        Assert.All(numeric.Split('\n', StringSplitOptions.RemoveEmptyEntries), l => Assert.Contains(" 0/0 ", l, StringComparison.Ordinal));
        await using var gzip = new System.IO.Compression.GZipStream(File.OpenRead(layer.Path), System.IO.Compression.CompressionMode.Decompress);
        using var tar = new MemoryStream();
        await gzip.CopyToAsync(tar);
        var text = System.Text.Encoding.Latin1.GetString(tar.ToArray());
        Assert.DoesNotContain("atime=", text, StringComparison.Ordinal);
        Assert.DoesNotContain("ctime=", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Build_ARootFileSystemWithKeepModes_KeepsSetuidStickyAndPrivateModes()
    {
        // Given a root filesystem with a sticky /tmp, a private file and a setuid program
        using var temp = new TemporaryDirectory();
        var root = temp.Combine("rootfs");
        Directory.CreateDirectory(Path.Combine(root, "tmp"));
        Directory.CreateDirectory(Path.Combine(root, "etc"));
        Directory.CreateDirectory(Path.Combine(root, "usr", "bin"));
        File.WriteAllText(Path.Combine(root, "etc", "shadow"), "root:*:1::::::\n");
        File.WriteAllText(Path.Combine(root, "usr", "bin", "su"), "#!/bin/sh\n");
        if (OperatingSystem.IsWindows()) return;
        File.SetUnixFileMode(Path.Combine(root, "tmp"), (UnixFileMode)Convert.ToInt32("1777", 8));
        File.SetUnixFileMode(Path.Combine(root, "etc", "shadow"), (UnixFileMode)Convert.ToInt32("640", 8));
        File.SetUnixFileMode(Path.Combine(root, "usr", "bin", "su"), (UnixFileMode)Convert.ToInt32("4755", 8));

        // When it is built at / keeping modes, and again without
        using var kept = await LayerBuilder.BuildAsync([new LayerSource(root, "/") { KeepModes = true }], Created, temp.Combine("kept.tar.gz"), CancellationToken.None);
        using var plain = await LayerBuilder.BuildAsync(root, "/", Created, temp.Combine("plain.tar.gz"), CancellationToken.None);

        // Then the kept layer has each mode, still owned by root; the plain one has 0644 / 0755
        var listing = (await Tool.RunAsync("tar", "-tvzf", kept.Path)).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        string Mode(string[] lines, string name) => lines.Single(l => l.EndsWith(" " + name, StringComparison.Ordinal))[..10];
        Assert.Equal("drwxrwxrwt", Mode(listing, "tmp/"));
        Assert.Equal("-rw-r-----", Mode(listing, "etc/shadow"));
        Assert.Equal("-rwsr-xr-x", Mode(listing, "usr/bin/su"));
        Assert.All(listing, l => Assert.Contains(" root/root ", l, StringComparison.Ordinal));
        var plainListing = (await Tool.RunAsync("tar", "-tvzf", plain.Path)).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("drwxr-xr-x", Mode(plainListing, "tmp/"));
        Assert.Equal("-rw-r--r--", Mode(plainListing, "etc/shadow"));
    }

    [Fact]
    public async Task Build_MissingFolder_FailsNamingIt()
    {
        using var temp = new TemporaryDirectory();
        var missing = temp.Combine("nowhere");
        var error = await Assert.ThrowsAsync<ImageException>(() => LayerBuilder.BuildAsync(missing, "/opt", Created, temp.Combine("l.tar.gz"), CancellationToken.None));
        Assert.Contains(missing, error.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(temp.Combine("l.tar.gz")));
    }
}
