using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Lamina.Cli.Tests.Serve;
using Lamina.Serve.Contracts;
using Lamina.Ship.Images;
using Lamina.Testing;

namespace Lamina.Cli.Tests.Images;

/// <summary>
/// Issue 16, the independent proof that an image works: Lamina's base image built by <c>lamina image base</c> (a real
/// Debian root filesystem from mmdebstrap and lamina-serve published self-contained), a customer image built on it
/// from a real bundle, read by skopeo, unpacked by umoci, and lamina-serve started from the unpacked root filesystem
/// in a chroot, with the image's own entry point and environment, answering an analysis request over RabbitMQ.
/// </summary>
[Collection(ServeCollection.Name)]
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
[Trait("Category", "Slow")]
public sealed class ChrootServeTests(ServeBundles bundles)
{
    private static readonly TimeSpan Answer = TimeSpan.FromSeconds(120);

    [Fact]
    public async Task CustomerImage_OnTheBase_UnpackedByUmoci_ServesARequestInAChroot()
    {
        Assert.True(Environment.UserName == "root" || Environment.GetEnvironmentVariable("USER") == "root", "chroot and mount need root (CI runs as root)");
        using var temp = new TemporaryDirectory();
        var layout = temp.Combine("layout");

        // Given Lamina's base image, built by the real command from a self-contained publish of this commit's lamina-serve
        var serve = await BaseImageFixture.PublishServeAsync();
        var lamina = new LaminaProcess(temp.Combine("home"));
        var built = await lamina.RunAsync(TimeSpan.FromMinutes(10), temp.Path, "image", "base", "--serve", serve, "--tag", "lamina-serve:0.1.0",
            "--cache", BaseImageFixture.RootfsCache, "--source-date-epoch", BaseImageFixture.Epoch, "--oci-layout", layout, "--json");
        Assert.True(built.ExitCode == 0, built.ToString());
        var baseDigest = JsonDocument.Parse(built.Stdout).RootElement.GetProperty("digest").GetString()!;

        // And a customer image built on it by the real command from a real bundle (verified, its layer on the base's layers)
        var bundle = bundles.Small;
        var customer = await lamina.RunAsync(TimeSpan.FromMinutes(5), temp.Path, "image", "build", "--bundle", bundle.Bundle, "--base", $"oci:{layout}:0.1.0",
            "--tag", "hospital-a:1.0.0", "--customer", "hospital-a", "--oci-layout", layout, "--json");
        Assert.True(customer.ExitCode == 0, customer.ToString());
        using var customerJson = JsonDocument.Parse(customer.Stdout);
        Assert.Equal(baseDigest, customerJson.RootElement.GetProperty("base_digest").GetString());
        var imageDigest = customerJson.RootElement.GetProperty("digest").GetString();

        // When skopeo reads it
        using var inspect = JsonDocument.Parse(await NativeTool.RunAsync("skopeo", "inspect", $"oci:{layout}:1.0.0"));
        var labels = inspect.RootElement.GetProperty("Labels");
        Assert.Equal(imageDigest, inspect.RootElement.GetProperty("Digest").GetString());
        Assert.Equal("0.1.0", labels.GetProperty(BaseImageBuilder.ServeVersionLabel).GetString());
        Assert.Equal(baseDigest, labels.GetProperty("org.opencontainers.image.base.digest").GetString());
        Assert.Equal(3, inspect.RootElement.GetProperty("Layers").GetArrayLength());

        // And umoci unpacks it into a runtime bundle (a root filesystem and the runtime config made from the image's)
        var unpacked = temp.Combine("unpacked");
        await NativeTool.RunAsync("umoci", "unpack", "--image", $"{layout}:1.0.0", unpacked);
        var rootfs = Path.Combine(unpacked, "rootfs");
        using var runtime = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(unpacked, "config.json")));
        var process = runtime.RootElement.GetProperty("process");
        var args = process.GetProperty("args").EnumerateArray().Select(a => a.GetString()!).ToList();
        var env = process.GetProperty("env").EnumerateArray().Select(e => e.GetString()!).ToList();
        Assert.Equal([BaseImageBuilder.ServePath, "--bundle", ImageBuilder.BundlePath], args);

        // And the slide is put where the service in the chroot sees it
        var slideInImage = "/srv/slides/slide.tif";
        Directory.CreateDirectory(Path.Combine(rootfs, "srv", "slides"));
        File.Copy(bundle.Slide, Path.Combine(rootfs, "srv", "slides", "slide.tif"));
        Directory.CreateDirectory(Path.Combine(rootfs, "srv", "results"));

        var broker = await RabbitMqServer.SharedAsync();
        var queue = ServeClient.NewQueue();
        await using var chroot = await ChrootedProcess.StartAsync(rootfs, args, env, broker.Uri, queue);
        await using var client = await ServeClient.ConnectAsync(broker.Uri, queue);

        // Then lamina-serve runs from the unpacked root filesystem (its root is the chroot) and becomes ready
        await chroot.WaitReadyAsync(TimeSpan.FromSeconds(120));
        Assert.Equal(rootfs, chroot.Root);

        // And a request submitted over RabbitMQ completes, its results written inside the image's file system
        var id = ServeClient.NewRequestId("chroot");
        await client.SubmitAsync(new AnalysisRequest(id, slideInImage, ServeBundle.Analysis, "/srv/results/" + id));
        var answer = await client.WaitForAsync(id, Answer, () => chroot.Log);
        Assert.True(answer.IsCompleted, $"{answer}\n{chroot.Log}");
        var completed = answer.Completed;
        Assert.Equal(ServeResults.Sha256(bundle.Slide), completed.SlideSha256);
        Assert.Equal(bundle.ProvenanceSha256, completed.BundleProvenanceSha256);
        var output = Path.Combine(rootfs, "srv", "results", id);
        ServeResults.Verify(output, id);
        using var report = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(output, "report.json")));
        Assert.Equal(bundle.ProvenanceSha256, report.RootElement.GetProperty("provenance").GetProperty("bundle_provenance_sha256").GetString());
    }
}

/// <summary>
/// lamina-serve started as a container runtime would start the image: <c>chroot ROOTFS ARGS…</c> with the image's
/// environment only, <c>/proc</c> mounted and the few device nodes .NET opens made in <c>/dev</c>. Dispose kills it,
/// unmounts <c>/proc</c> (even after a failure) and refuses to leave while anything under the root is still mounted.
/// </summary>
internal sealed class ChrootedProcess : IAsyncDisposable
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(5) };
    private readonly Process _process;
    private readonly string _rootfs;
    private readonly List<string> _lines = [];

    private ChrootedProcess(Process process, string rootfs, int httpPort)
    {
        _process = process;
        _rootfs = rootfs;
        HttpPort = httpPort;
    }

    public int HttpPort { get; }

    /// <summary>The process's root directory, as the kernel sees it (<c>/proc/PID/root</c>).</summary>
    public string Root => new DirectoryInfo($"/proc/{_process.Id}/root").LinkTarget ?? "";

    public string Log
    {
        get
        {
            lock (_lines) return $"--- lamina-serve in chroot {_rootfs} ({(_process.HasExited ? $"exited {_process.ExitCode}" : "running")})\n{string.Join("\n", _lines)}";
        }
    }

    public static async Task<ChrootedProcess> StartAsync(string rootfs, IReadOnlyList<string> args, IReadOnlyList<string> env, Uri broker, string queue)
    {
        await MountProcAsync(rootfs);
        try
        {
            await MakeDevicesAsync(rootfs);
            var port = S3Server.FreePort();
            var start = new ProcessStartInfo("chroot")
            {
                RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false, WorkingDirectory = "/",
            };
            start.ArgumentList.Add(rootfs);
            foreach (var argument in args.Concat(["--broker", broker.ToString(), "--queue", queue, "--instance", queue,
                "--http", $"http://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}"]))
            {
                start.ArgumentList.Add(argument);
            }
            // The image's environment and nothing of this machine's (no dotnet, no LAMINA_ settings).
            start.Environment.Clear();
            foreach (var variable in env)
            {
                var equals = variable.IndexOf('=', StringComparison.Ordinal);
                start.Environment[variable[..equals]] = variable[(equals + 1)..];
            }
            var process = Process.Start(start)!;
            var chrooted = new ChrootedProcess(process, rootfs, port);
            process.OutputDataReceived += (_, e) => chrooted.Append(e.Data);
            process.ErrorDataReceived += (_, e) => chrooted.Append(e.Data);
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            process.StandardInput.Close();
            TestWatchdog.Start($"kill -9 {process.Id.ToString(CultureInfo.InvariantCulture)}; umount '{Path.Combine(rootfs, "proc")}'");
            return chrooted;
        }
        catch
        {
            await UnmountAsync(rootfs);
            throw;
        }
    }

    public async Task WaitReadyAsync(TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                using var response = await Http.GetAsync(new Uri($"http://127.0.0.1:{HttpPort.ToString(CultureInfo.InvariantCulture)}/health/ready"));
                if (response.IsSuccessStatusCode) return;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
            }
            if (_process.HasExited) throw new InvalidOperationException($"lamina-serve exited before it was ready\n{Log}");
            if (clock.Elapsed > timeout) throw new TimeoutException($"lamina-serve is not ready after {timeout.TotalSeconds:0} s\n{Log}");
            await Task.Delay(200);
        }
    }

    private void Append(string? line)
    {
        if (line is null) return;
        lock (_lines) _lines.Add(line);
    }

    private static Task MountProcAsync(string rootfs) => NativeTool.RunAsync("mount", "-t", "proc", "proc", Path.Combine(rootfs, "proc"));

    /// <summary>Device nodes in the root filesystem itself (no bind mount of the machine's /dev, which a cleanup could reach into).</summary>
    private static async Task MakeDevicesAsync(string rootfs)
    {
        var dev = Path.Combine(rootfs, "dev");
        Directory.CreateDirectory(dev);
        foreach (var (name, major, minor) in new[] { ("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("random", 1, 8), ("urandom", 1, 9) })
        {
            var path = Path.Combine(dev, name);
            if (!File.Exists(path)) await NativeTool.RunAsync("mknod", "-m", "666", path, "c", major.ToString(CultureInfo.InvariantCulture), minor.ToString(CultureInfo.InvariantCulture));
        }
    }

    private static async Task UnmountAsync(string rootfs)
    {
        var proc = Path.Combine(rootfs, "proc");
        if (IsMountedUnder(rootfs)) await NativeTool.RunAsync("umount", proc);
        if (IsMountedUnder(rootfs)) throw new InvalidOperationException($"something under {rootfs} is still mounted: it must not be deleted (see /proc/mounts)");
    }

    private static bool IsMountedUnder(string rootfs) =>
        File.ReadLines("/proc/mounts").Select(l => l.Split(' ')[1]).Any(m => m.StartsWith(rootfs + "/", StringComparison.Ordinal) || m == rootfs);

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited) _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        catch (InvalidOperationException)
        {
        }
        _process.Dispose();
        await UnmountAsync(_rootfs);
    }
}
