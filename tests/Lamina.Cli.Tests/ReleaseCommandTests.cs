using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Lamina.Ship.Images;
using Lamina.Ship.Releases;
using Lamina.Tracking;
using YamlDotNet.RepresentationModel;

namespace Lamina.Cli.Tests;

public sealed partial class ReleaseCommandTests
{
    [Fact]
    public async Task ReleaseAll_WithOneBrokenCustomer_ReleasesTheOthers_ReportsTheBrokenOne_AndExitsNonZero()
    {
        // Given a published model, a lamina-serve base in a layout, and three customer folders: two good, one broken
        using var temp = new TemporaryDirectory();
        var home = new LaminaHome(temp.Combine("home")).EnsureCreated();
        var run = await ShipCommandTests.StoreTrainedModelAsync(home);
        var lamina = new LaminaProcess(home.Root);
        var publish = await lamina.RunAsync(temp.Path, "publish", run.ToString(), "--reason", "release 1");
        Assert.True(publish.ExitCode == 0, publish.ToString());
        await WriteBaseAsync(temp.Combine("base"), "0.1.0");
        var customers = temp.Combine("customers");
        Customer(Path.Combine(customers, "hospital-a"), "hospital-a", run, "1.0.0");
        Customer(Path.Combine(customers, "hospital-b"), "hospital-b", run, "2.0.0", extra: "regsitry:\n  insecure: true\n");
        Customer(Path.Combine(customers, "hospital-c"), "hospital-c", run, "1.1.0");
        Directory.CreateDirectory(Path.Combine(customers, "notes"));

        // When every customer is released on the base
        var all = await lamina.RunAsync(temp.Path, "release", "--all", "customers", "--base", "lamina-serve:0.1.0", "--base-layout", "base",
            "--oci-layout", "images", "--json");

        // Then it exits non-zero, with a line per customer in name order: the good ones' digests, the broken one's error at its line
        Assert.True(all.ExitCode == 1, all.ToString());
        var lines = JsonNode.Parse(all.Stdout)!["customers"]!.AsArray();
        Assert.Equal(["hospital-a", "hospital-b", "hospital-c"], lines.Select(l => l!["customer"]!.GetValue<string>()));
        Assert.Matches("^sha256:[0-9a-f]{64}$", lines[0]!["image_digest"]!.GetValue<string>());
        Assert.Equal("1.0.0", lines[0]!["version"]!.GetValue<string>());
        Assert.Contains("customer.yaml:5:1: ", lines[1]!["error"]!.GetValue<string>());
        Assert.Contains("unknown key 'regsitry'", lines[1]!["error"]!.GetValue<string>());
        Assert.Matches("^sha256:[0-9a-f]{64}$", lines[2]!["image_digest"]!.GetValue<string>());
        Assert.Equal(1, JsonNode.Parse(all.Stdout)!["failed"]!.GetValue<int>());

        // And the good ones are in their layouts and recorded; the broken one is not
        Assert.Equal(lines[0]!["image_digest"]!.GetValue<string>(),
            (await new OciLayoutStore(temp.Combine("images", "hospital-a")).GetManifestAsync("", "1.0.0", CancellationToken.None)).Digest);
        Assert.False(Directory.Exists(temp.Combine("images", "hospital-b")));
        var list = await lamina.RunAsync(temp.Path, "releases", "list", "--json");
        Assert.True(list.ExitCode == 0, list.ToString());
        Assert.Equal(["hospital-a", "hospital-c"], JsonNode.Parse(list.Stdout)!.AsArray().Select(r => r!["customer"]!.GetValue<string>()).Order());
        var onlyA = await lamina.RunAsync(temp.Path, "releases", "list", "--customer", "hospital-a");
        Assert.True(onlyA.ExitCode == 0, onlyA.ToString());
        Assert.Contains("hospital-a", onlyA.Stdout);
        Assert.DoesNotContain("hospital-c", onlyA.Stdout);

        // And run again as a table, the same images come out, released before, and the broken customer still fails it
        var again = await lamina.RunAsync(temp.Path, "release", "--all", "customers", "--base", "lamina-serve:0.1.0", "--base-layout", "base",
            "--oci-layout", "images-2");
        Assert.True(again.ExitCode == 1, again.ToString());
        Assert.Contains("2 of 3 customers released, 1 failed", again.Stdout);
        Assert.Equal(lines[0]!["image_digest"]!.GetValue<string>(),
            (await new OciLayoutStore(temp.Combine("images-2", "hospital-a")).GetManifestAsync("", "1.0.0", CancellationToken.None)).Digest);
    }

    [Fact]
    public async Task Release_SignedWithAGeneratedKey_IsAnImageThatVerifyImageAccepts_AndReleasesListShows()
    {
        // Given a published model, a base, a customer repository and a key from `lamina keys generate` (its password in the environment)
        using var temp = new TemporaryDirectory();
        var home = new LaminaHome(temp.Combine("home")).EnsureCreated();
        var run = await ShipCommandTests.StoreTrainedModelAsync(home);
        var lamina = new LaminaProcess(home.Root);
        lamina.Environment["LAMINA_SIGNING_PASSWORD"] = "correct horse";
        Assert.Equal(0, (await lamina.RunAsync(temp.Path, "publish", run.ToString(), "--reason", "release 1")).ExitCode);
        await WriteBaseAsync(temp.Combine("base"), "0.1.0");
        Customer(temp.Combine("hospital-a"), "hospital-a", run, "3.1.0");
        var keys = await lamina.RunAsync(temp.Path, "keys", "generate", "--out", "keys", "--name", "release");
        Assert.True(keys.ExitCode == 0, keys.ToString());

        // When the customer is released, signed, into a layout
        var release = await lamina.RunAsync(temp.Path, "release", "hospital-a", "--base-layout", "base", "--oci-layout", "images", "--key", "keys/release.key", "--json");

        // Then it is recorded with its signatures, and verify-image accepts the image with the public key
        Assert.True(release.ExitCode == 0, release.ToString());
        var record = JsonNode.Parse(release.Stdout)!["release"]!;
        Assert.Equal("3.1.0", record["version"]!.GetValue<string>());
        Assert.NotNull(record["signing_key_id"]?.GetValue<string>());
        var verify = await lamina.RunAsync(temp.Path, "verify-image", $"oci:{temp.Combine("images")}:3.1.0", "--key", "keys/release.pub");
        Assert.True(verify.ExitCode == 0, verify.ToString());
        var list = await lamina.RunAsync(temp.Path, "releases", "list", "--customer", "hospital-a", "--json");
        Assert.Equal(record["image_digest"]!.GetValue<string>(), JsonNode.Parse(list.Stdout)![0]!["image_digest"]!.GetValue<string>());

        // And a wrong key is refused by verify-image
        var other = await lamina.RunAsync(temp.Path, "keys", "generate", "--out", "keys", "--name", "other");
        Assert.Equal(0, other.ExitCode);
        var wrong = await lamina.RunAsync(temp.Path, "verify-image", $"oci:{temp.Combine("images")}:3.1.0", "--key", "keys/other.pub");
        Assert.NotEqual(0, wrong.ExitCode);
    }

    [Fact]
    public async Task Release_WithoutADestination_IsAUsageError()
    {
        using var temp = new TemporaryDirectory();
        var lamina = new LaminaProcess(temp.Combine("home"));

        var result = await lamina.RunAsync(temp.Path, "release", ".");

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains("--push", result.Stderr + result.Stdout);
    }

    [Fact]
    public async Task Samples_CustomerFilesAndCiDefinitions_AreValid_AndRunRealLaminaCommandsWithRealOptions()
    {
        // Given the sample customers and CI definitions
        var root = TestPaths.Sample("customers");
        var ciFiles = Directory.GetFiles(root, "*.yml", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 })
            .Order(StringComparer.Ordinal).ToList();
        Assert.Equal(6, ciFiles.Count); // a GitLab and a GitHub definition per customer, and for the fan-out

        // Then every customer file loads (the analysis file it names is there)
        foreach (var folder in new[] { "hospital-a", "hospital-b" })
        {
            var customer = CustomerFile.Load(Path.Combine(root, folder));
            Assert.Equal(folder, customer.Customer);
            Assert.Contains("RUN_ID_", File.ReadAllText(customer.Analysis)); // the placeholder the team demo fills in
        }

        // And every CI file is YAML whose lamina commands are real commands, each option one the command has
        var lamina = new LaminaProcess(Path.Combine(Path.GetTempPath(), $"lamina-help-{Guid.NewGuid():N}"));
        var help = new Dictionary<string, string>();
        var commands = 0;
        foreach (var file in ciFiles)
        {
            var yaml = new YamlStream();
            using (var reader = new StreamReader(file)) yaml.Load(reader);
            foreach (var line in Scalars(yaml.Documents[0].RootNode).SelectMany(s => s.Split('\n')).Select(l => l.Trim()).Where(l => l.StartsWith("lamina ", StringComparison.Ordinal)))
            {
                var words = line.Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).ToList();
                var command = string.Join(' ', words.TakeWhile(w => !w.StartsWith('-') && !w.StartsWith('.') && !w.StartsWith('"') && w != "customers"));
                if (!help.TryGetValue(command, out var text))
                {
                    var result = await lamina.RunAsync(Path.GetTempPath(), [.. command.Split(' '), "--help"]);
                    Assert.True(result.ExitCode == 0, $"{file}: lamina {command}: {result}");
                    help[command] = text = result.Stdout;
                }
                foreach (var option in words.Where(w => w.StartsWith("--", StringComparison.Ordinal)))
                {
                    Assert.True(OptionPattern(option).IsMatch(text), $"{file}: `{line}`: lamina {command} has no option {option}");
                }
                commands++;
            }
        }
        Assert.True(commands >= 10, $"only {commands} lamina commands found in the CI definitions");
        Assert.Contains("release", help.Keys);
        Assert.Contains("releases list", help.Keys);
    }

    private static Regex OptionPattern(string option) => new($@"(^|[\s,|]){Regex.Escape(option)}(\s|$|,)", RegexOptions.Multiline);

    private static IEnumerable<string> Scalars(YamlNode node) => node switch
    {
        YamlScalarNode scalar => [scalar.Value ?? ""],
        YamlSequenceNode sequence => sequence.Children.SelectMany(Scalars),
        YamlMappingNode mapping => mapping.Children.SelectMany(e => Scalars(e.Value)),
        _ => [],
    };

    // A customer git repository whose analysis uses the model of the run, committed and tagged.
    private static void Customer(string folder, string name, Guid run, string tag, string extra = "")
    {
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, CustomerFile.FileName),
            $"customer: {name}\nimage: registry.example.org/customers/{name}\nbase: \"0.1.0\"\nanalysis: analysis.yaml\n{extra}");
        File.WriteAllText(Path.Combine(folder, "analysis.yaml"), $"""
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

            """);
        Git.Run(folder, "init", "-q");
        Git.Run(folder, "add", "-A");
        Git.Run(folder, "commit", "-q", "-m", "customer files");
        Git.Run(folder, "tag", tag);
    }

    // A tiny lamina-serve base (a script standing in for the service) in one deterministic layer, as `lamina image base` labels it.
    private static async Task WriteBaseAsync(string layout, string tag)
    {
        using var temp = new TemporaryDirectory();
        var root = temp.Combine("rootfs");
        Directory.CreateDirectory(Path.Combine(root, "opt", "lamina-serve"));
        File.WriteAllText(Path.Combine(root, "opt", "lamina-serve", "lamina-serve"), "#!/bin/sh\necho lamina-serve \"$@\"\n");
        var created = DateTimeOffset.FromUnixTimeSeconds(1_700_000_000);
        var store = new OciLayoutStore(layout);
        using var layer = await LayerBuilder.BuildAsync(root, "/", created, temp.Combine("base.tar.gz"), CancellationToken.None);
        await store.PushBlobAsync("", layer.Descriptor, layer.OpenAsync, CancellationToken.None);
        var config = OciImageWriter.NewConfig(created);
        OciImageWriter.AppendLayer(config, layer.DiffId, created, "test base");
        OciImageWriter.SetLabels(config, new Dictionary<string, string>
        {
            [ImageBuilder.ServeVersionLabel] = "0.1.0",
            [ImageBuilder.ServePathLabel] = ImageBuilder.ServePath,
        });
        await OciImageWriter.WriteAsync(store, "", config, [layer.Descriptor], null, tag, CancellationToken.None);
    }
}
