using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Lamina.Cli.Tests.Serve;
using Lamina.Serve.Contracts;
using Lamina.Ship.Images;
using Lamina.Servers;
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
        string baseDigest;

        // Given Lamina's base image, built by the real command from a self-contained publish of this commit's lamina-serve
        var lamina = new LaminaProcess(temp.Combine("home"));
        using (var built = await BaseImageFixture.BuildBaseAsync(lamina, temp.Path, layout))
        {
            baseDigest = built.RootElement.GetProperty("digest").GetString()!;
        }

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
        var port = S3Server.FreePort();
        await using var chroot = await ChrootedService.StartAsync(rootfs,
            [.. args, "--broker", broker.Uri.ToString(), "--queue", queue, "--instance", queue, "--http", $"http://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}"], env);
        await using var client = await ServeClient.ConnectAsync(broker.Uri, queue);

        // Then lamina-serve runs from the unpacked root filesystem (its root is the chroot) and becomes ready
        await chroot.WaitReadyAsync(new Uri($"http://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}/health/ready"), TimeSpan.FromSeconds(120));
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
