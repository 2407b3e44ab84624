using System.Diagnostics;
using Lamina.Ship.Images;

namespace Lamina.Ship.Tests.Images;

/// <summary>
/// A small base image in an OCI layout: a tiny root filesystem (an os-release and a shell script standing in for
/// <c>lamina-serve</c>) in one deterministic layer, with the labels <c>lamina image base</c> puts on a real base.
/// </summary>
internal static class TestBaseImage
{
    public const string Tag = "0.1.0";

    /// <summary>Writes the base into <paramref name="layout"/> under <paramref name="tag"/> and returns its <c>oci:</c> reference.</summary>
    /// <param name="labels">The config's labels; the lamina-serve labels when null.</param>
    public static async Task<ImageReference> WriteAsync(string layout, string tag = Tag, IReadOnlyDictionary<string, string>? labels = null, string? rootfs = null)
    {
        var root = rootfs ?? Path.Combine(Path.GetTempPath(), $"lamina-test-rootfs-{Guid.NewGuid():N}");
        if (rootfs is null) WriteRootFileSystem(root);
        var created = DateTimeOffset.FromUnixTimeSeconds(1_700_000_000);
        try
        {
            var store = new OciLayoutStore(layout);
            using var layer = await LayerBuilder.BuildAsync(root, "/", created, Path.Combine(Path.GetTempPath(), $"lamina-test-base-{Guid.NewGuid():N}.tar.gz"),
                CancellationToken.None);
            await store.PushBlobAsync("", layer.Descriptor, layer.OpenAsync, CancellationToken.None);
            var config = OciImageWriter.NewConfig(created);
            OciImageWriter.AppendLayer(config, layer.DiffId, created, "test base: a tiny root filesystem");
            OciImageWriter.ContainerConfig(config)["Env"] = new System.Text.Json.Nodes.JsonArray("PATH=/usr/bin:/bin");
            OciImageWriter.ContainerConfig(config)["Cmd"] = new System.Text.Json.Nodes.JsonArray("/bin/sh");
            OciImageWriter.SetLabels(config, labels ?? new Dictionary<string, string>
            {
                [ImageBuilder.ServeVersionLabel] = "0.1.0",
                [ImageBuilder.ServePathLabel] = ImageBuilder.ServePath,
                ["org.example.unknown"] = "kept",
            });
            config["x-unknown-field"] = "kept too";
            await OciImageWriter.WriteAsync(store, "", config, [layer.Descriptor], null, tag, CancellationToken.None);
            return ImageReference.Parse($"oci:{layout}:{tag}");
        }
        finally
        {
            if (rootfs is null) Directory.Delete(root, recursive: true);
        }
    }

    /// <summary>A tiny root filesystem: <c>etc/os-release</c>, a <c>bin</c> link and an executable <c>lamina-serve</c> script.</summary>
    public static void WriteRootFileSystem(string root)
    {
        Directory.CreateDirectory(Path.Combine(root, "etc"));
        Directory.CreateDirectory(Path.Combine(root, "usr", "bin"));
        Directory.CreateDirectory(Path.Combine(root, "opt", "lamina-serve"));
        File.WriteAllText(Path.Combine(root, "etc", "os-release"), "ID=lamina-test\n");
        File.CreateSymbolicLink(Path.Combine(root, "bin"), "usr/bin");
        var serve = Path.Combine(root, "opt", "lamina-serve", "lamina-serve");
        File.WriteAllText(serve, "#!/bin/sh\necho lamina-serve \"$@\"\n");
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(serve, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
    }
}

/// <summary>Runs a native tool (skopeo, umoci, tar) and returns its standard output; a failure throws with its standard error.</summary>
internal static class Tool
{
    public static async Task<string> RunAsync(string file, params string[] arguments)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(timeout.Token);
        return process.ExitCode == 0
            ? await output
            : throw new InvalidOperationException($"{file} {string.Join(' ', arguments)} exited with {process.ExitCode}: {await error}");
    }
}
