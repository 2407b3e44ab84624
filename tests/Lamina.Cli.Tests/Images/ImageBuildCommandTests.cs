using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using Lamina.Ship.Images;
using Lamina.Tracking;

namespace Lamina.Cli.Tests.Images;

public sealed class ImageBuildCommandTests
{
    /// <summary>A published model bundled with the real `lamina publish`, `resolve` and `bundle`, in <c>work/bundle</c>.</summary>
    private static async Task<(LaminaProcess Lamina, string Work)> BundledAsync(TemporaryDirectory temp)
    {
        var home = new LaminaHome(temp.Combine("home")).EnsureCreated();
        var run = await ShipCommandTests.StoreTrainedModelAsync(home);
        var work = temp.Combine("customer");
        Directory.CreateDirectory(work);
        File.WriteAllText(Path.Combine(work, "analysis.yaml"), $"""
            version: 1
            analyses:
              - name: breast
                models:
                  carcinoma_model:
                    sourcing: auto
                    reference: {run}
                features:
                  - cls: Carcinoma
                    models:
                      classification_model: carcinoma_model
            """, Encoding.UTF8);
        var lamina = new LaminaProcess(home.Root);
        string[][] steps = [["publish", run.ToString(), "--reason", "release 1"], ["resolve", "analysis.yaml", "-o", "release/resolved.yaml"],
            ["bundle", "release/resolved.yaml", "-o", "bundle"]];
        foreach (var step in steps)
        {
            var result = await lamina.RunAsync(work, step);
            Assert.True(result.ExitCode == 0, result.ToString());
        }
        return (lamina, work);
    }

    /// <summary>A base in an OCI layout: a tiny root filesystem with a stand-in lamina-serve, labelled as `lamina image base` labels one.</summary>
    private static async Task WriteBaseAsync(string layout, string tag, IReadOnlyDictionary<string, string> labels)
    {
        var root = Path.Combine(Path.GetTempPath(), $"lamina-test-rootfs-{Guid.NewGuid():N}");
        try
        {
            Directory.CreateDirectory(Path.Combine(root, "opt", "lamina-serve"));
            File.WriteAllText(Path.Combine(root, "opt", "lamina-serve", "lamina-serve"), "#!/bin/sh\n");
            var created = DateTimeOffset.FromUnixTimeSeconds(1_700_000_000);
            using var layer = await LayerBuilder.BuildAsync(root, "/", created, Path.Combine(Path.GetTempPath(), $"lamina-test-base-{Guid.NewGuid():N}.tar.gz"), CancellationToken.None);
            var store = new OciLayoutStore(layout);
            await store.PushBlobAsync("", layer.Descriptor, layer.OpenAsync, CancellationToken.None);
            var config = OciImageWriter.NewConfig(created);
            OciImageWriter.AppendLayer(config, layer.DiffId, created, "test base");
            OciImageWriter.SetLabels(config, labels);
            await OciImageWriter.WriteAsync(store, "", config, [layer.Descriptor], null, tag, CancellationToken.None);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    private static readonly Dictionary<string, string> ServeLabels = new()
    {
        ["dev.lamina.serve.version"] = "0.1.0",
        ["dev.lamina.serve.path"] = "/opt/lamina-serve/lamina-serve",
    };

    private static async Task<string> SkopeoAsync(params string[] arguments)
    {
        var start = new ProcessStartInfo("skopeo") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, await error);
        return await output;
    }

    [Fact]
    public async Task ImageBuild_IntoALayoutAndAnArchive_Twice_GivesOneDigest_ThatSkopeoReads_AndTheAuditTrailRecords()
    {
        // Given a bundle and a base with lamina-serve
        using var temp = new TemporaryDirectory();
        var (lamina, work) = await BundledAsync(temp);
        await WriteBaseAsync(Path.Combine(work, "base"), "0.1.0", ServeLabels);

        // When the image is built twice, into a layout and an archive, then into another layout
        var first = await lamina.RunAsync(work, "image", "build", "--bundle", "bundle", "--base", "oci:base:0.1.0", "--tag", "hospital-a:1.0.0",
            "--oci-layout", "images", "--archive", "hospital-a.tar", "--customer", "hospital-a", "--json");
        var second = await lamina.RunAsync(work, "image", "build", "--bundle", "bundle", "--base", "oci:base:0.1.0", "--tag", "hospital-a:1.0.0",
            "--oci-layout", "again", "--customer", "hospital-a");

        // Then both succeed with the same digest
        Assert.True(first.ExitCode == 0, first.ToString());
        Assert.True(second.ExitCode == 0, second.ToString());
        var json = JsonNode.Parse(first.Stdout)!;
        var digest = json["digest"]!.GetValue<string>();
        Assert.Matches("^sha256:[0-9a-f]{64}$", digest);
        Assert.Contains($"image {digest}", second.Stdout, StringComparison.Ordinal);
        Assert.EndsWith("@" + digest, json["image"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal(OciDigest.FromHex(Core.Provenance.Sha256Digest.OfFile(Path.Combine(work, "bundle", "provenance.json")).Digest.Hex),
            json["bundle_digest"]!.GetValue<string>());
        Assert.True(json["bytes_sent"]!.GetValue<long>() > json["bundle_layer"]!["size"]!.GetValue<long>());
        Assert.Contains("pushed layer sha256:", second.Stderr, StringComparison.Ordinal);

        // And skopeo reads the layout and the archive as that image, with its labels
        var inspect = JsonNode.Parse(await SkopeoAsync("inspect", $"oci:{Path.Combine(work, "images")}:1.0.0"))!;
        Assert.Equal(digest, inspect["Digest"]!.GetValue<string>());
        Assert.Equal("hospital-a", inspect["Labels"]!["dev.lamina.customer"]!.GetValue<string>());
        Assert.Equal("breast", inspect["Labels"]!["dev.lamina.analysis"]!.GetValue<string>());
        Assert.Equal(json["base_digest"]!.GetValue<string>(), inspect["Labels"]!["org.opencontainers.image.base.digest"]!.GetValue<string>());
        var archived = JsonNode.Parse(await SkopeoAsync("inspect", $"oci-archive:{Path.Combine(work, "hospital-a.tar")}"))!;
        Assert.Equal(digest, archived["Digest"]!.GetValue<string>());

        // And the audit trail holds the image by digest, its chain intact
        var audit = await lamina.RunAsync(work, "audit", "log", "--json");
        Assert.Contains("image.built", audit.Stdout, StringComparison.Ordinal);
        Assert.Contains(digest, audit.Stdout, StringComparison.Ordinal);
        Assert.Equal(0, (await lamina.RunAsync(work, "audit", "verify")).ExitCode);
    }

    [Fact]
    public async Task ImageBuild_WithoutADestination_OrPushingABareName_IsAUsageError()
    {
        using var temp = new TemporaryDirectory();
        var lamina = new LaminaProcess(new LaminaHome(temp.Combine("home")).EnsureCreated().Root);

        var nowhere = await lamina.RunAsync(temp.Path, "image", "build", "--bundle", "b", "--base", "oci:base:0.1.0", "--tag", "hospital-a:1.0.0");
        var bare = await lamina.RunAsync(temp.Path, "image", "build", "--bundle", "b", "--base", "oci:base:0.1.0", "--tag", "hospital-a:1.0.0", "--push");

        Assert.Equal(ExitCodes.Usage, nowhere.ExitCode);
        Assert.Contains("--push, --oci-layout DIR or --archive FILE", nowhere.Stderr, StringComparison.Ordinal);
        Assert.Equal(ExitCodes.Usage, bare.ExitCode);
        Assert.Contains("names no registry", bare.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ImageBuild_OnABaseWithoutLaminaServe_FailsSayingSo_AndWritesNoImage()
    {
        // Given a bundle and a base without lamina-serve's labels
        using var temp = new TemporaryDirectory();
        var (lamina, work) = await BundledAsync(temp);
        await WriteBaseAsync(Path.Combine(work, "debian"), "12", new Dictionary<string, string> { ["org.example"] = "x" });

        // When an image is built on it
        var result = await lamina.RunAsync(work, "image", "build", "--bundle", "bundle", "--base", "oci:debian:12", "--tag", "hospital-a:1.0.0", "--oci-layout", "images");

        // Then it fails naming the base and the missing label, and no layout is written
        Assert.Equal(ExitCodes.Validation, result.ExitCode);
        Assert.Contains("has no lamina-serve (no label dev.lamina.serve.version): build it with lamina image base", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("oci:" + Path.Combine(work, "debian") + ":12", result.Stderr, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(work, "images")));
    }
}
