using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Lamina.Core.Inference;
using Lamina.Tracking;

namespace Lamina.Cli.Tests.Hostile;

/// <summary>
/// Issue 12: hostile input to the real <c>lamina</c> process (huge, deep, binary and endless files, NaN and infinities,
/// absurd tiling, broken feature graphs, an altered production copy) fails quickly with one clear message naming the
/// limit, the key or the file, never with a crash, a stack trace or unbounded work.
/// </summary>
public sealed class InputHostileTests(InputHostileTests.Files files) : IClassFixture<InputHostileTests.Files>
{
    /// <summary>Far more than any case takes; a command still running then is the unbounded work the issue found.</summary>
    private static readonly TimeSpan Limit = TimeSpan.FromMinutes(2);

    private const string Factor = "models.my_class_model.preprocessing.params.factor";

    /// <summary>Each case: the arguments (with the folder they run in) and a fragment the output must hold.</summary>
    private static readonly Dictionary<string, (Func<Files, string[]> Arguments, string Expected)> Cases = new()
    {
        // Experiment files: size, nesting, aliases, non-text, devices
        ["experiment larger than 1 MiB"] = (f => ["validate", "--file", f.Write("huge.yaml", "version: 1\n# " + new string('x', 2 << 20) + "\n")], "at most 1,048,576 bytes (1 MiB)"),
        ["experiment 20,000 nested ["] = (f => ["validate", "--file", f.Write("deep-list.yaml", "a: " + new string('[', 20_000) + new string(']', 20_000) + "\n")], "nested more than 64 levels deep"),
        ["experiment 30,000 nested {a:"] = (f => ["validate", "--file", f.Write("deep-map.yaml", string.Concat(Enumerable.Repeat("{a: ", 30_000)) + "1" + new string('}', 30_000) + "\n")], "the limit is 64"),
        ["experiment deep block list"] = (f => ["validate", "--file", f.Write("deep-block.yaml", string.Concat(Enumerable.Repeat("- ", 5_000)) + "1\n")], "nested more than 64 levels deep"),
        ["experiment deep nesting says where"] = (f => ["validate", "--file", f.Write("deep-where.yaml", "version: 1\nb: " + new string('[', 100) + "\n")], "deep-where.yaml:2:"),
        ["experiment with a NUL byte"] = (f => ["validate", "--file", f.Write("binary.yaml", "version: 1\nname: a\0b\n")], "not a text file"),
        ["experiment not UTF-8"] = (f => ["validate", "--file", f.WriteBytes("latin1.yaml", [.. "version: 1\nname: caf"u8, 0xE9, (byte)'\n'])], "not UTF-8"),
        ["experiment a PNG"] = (f => ["validate", "--file", f.WriteBytes("image.yaml", [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13])], "not a text file"),
        ["experiment /dev/zero"] = (_ => ["validate", "--file", "/dev/zero"], "not a regular file"),
        ["experiment /dev/urandom"] = (_ => ["validate", "--file", "/dev/urandom"], "not a regular file"),
        ["experiment a named pipe nobody writes"] = (f => ["validate", "--file", f.Fifo("pipe.yaml")], "not a regular file (a pipe?)"),
        ["experiment billion laughs"] = (f => ["validate", "--file", f.Write("laughs.yaml", Laughs())], "expands to more than 1,000,000 values"),
        ["experiment alias loop"] = (f => ["validate", "--file", f.Write("loop.yaml", "a: &loop [1, *loop]\n")], "refers to a node that contains it"),
        ["experiment a folder"] = (f => ["validate", "--file", f.Experiment], "no experiment file"),

        // Numbers that are not finite, in the file and in --set
        ["experiment factor .nan in the file"] = (f => ["validate", "--file", f.WriteExperiment("nan.yaml", "factor: 255.0", "factor: .nan")], $"{Factor}: expected a finite number for 'factor', got '.nan' (not a number)"),
        ["experiment factor 1e400 in the file"] = (f => ["validate", "--file", f.WriteExperiment("inf.yaml", "factor: 255.0", "factor: 1e400")], "got '1e400' (infinite)"),
        ["experiment gamma -.inf in the file"] = (f => ["validate", "--file", f.WriteExperiment("gamma.yaml", "gamma: 2.0", "gamma: -.inf")], "expected a finite number for 'gamma'"),
        ["--set factor=1e400"] = (f => ["validate", "--file", f.Lamina, "--set", $"{Factor}=1e400"], $"{Factor}: expected a finite number for 'factor', got '1e400' (infinite)"),
        ["--set factor=.nan"] = (f => ["validate", "--file", f.Lamina, "--set", $"{Factor}=.nan"], "got '.nan' (not a number)"),
        ["--set factor=.inf"] = (f => ["validate", "--file", f.Lamina, "--set", $"{Factor}=.inf"], "got '.inf' (infinite)"),
        ["--set factor=-.Inf"] = (f => ["validate", "--file", f.Lamina, "--set", $"{Factor}=-.Inf"], "got '-.Inf' (infinite)"),
        ["--set validation_split=.nan"] = (f => ["validate", "--file", f.Lamina, "--set", "tasks.simple_train.params.validation_split=.nan"], "tasks.simple_train.params.validation_split: expected a finite number"),
        ["--set tolerance_um=.inf"] = (f => ["validate", "--file", f.Lamina, "--set", "tasks.test_breast_analysis.params.tolerance_um=.inf"], "tasks.test_breast_analysis.params.tolerance_um: expected a finite number"),
        ["--set dropout=1e999"] = (f => ["validate", "--file", f.Lamina, "--set", "models.mitosis_model.architecture.params.dropout=1e999"], "expected a finite number for 'dropout'"),
        ["--set nested 10,000 deep"] = (f => ["validate", "--file", f.Lamina, "--set", $"{Factor}={new string('[', 10_000)}"], "nested more than 64 levels deep"),
        ["run --set factor=1e400"] = (f => ["run", "check_normalization", "--file", f.Lamina, "--set", $"{Factor}=1e400"], "expected a finite number for 'factor'"),

        // Analysis files: the same limits, non-finite params, and the plan checks of analyze
        ["analysis larger than 1 MiB"] = (f => ["validate", "--analysis", f.Write("huge-analysis.yaml", "version: 1\n# " + new string('x', 2 << 20) + "\n")], "at most 1,048,576 bytes"),
        ["analysis 30,000 nested {a:"] = (f => ["validate", "--analysis", f.Write("deep-analysis.yaml", string.Concat(Enumerable.Repeat("{a: ", 30_000)) + "1" + new string('}', 30_000) + "\n")], "nested more than 64 levels deep"),
        ["analysis with a NUL byte"] = (f => ["validate", "--analysis", f.Write("binary-analysis.yaml", "version: 1\0\n")], "not a text file"),
        ["analysis /dev/zero"] = (_ => ["validate", "--analysis", "/dev/zero"], "not a regular file"),
        ["analysis /dev/urandom"] = (_ => ["validate", "--analysis", "/dev/urandom"], "not a regular file"),
        ["analysis threshold .nan"] = (f => ["validate", "--analysis", f.Analysis("nan-threshold.yaml", Carcinoma("c", ".nan"))], "expected a finite number for 'threshold'"),
        ["analysis feature cycle"] = (f => ["validate", "--analysis", f.Analysis("cycle.yaml", "      - cls: NeedsB\n      - cls: NeedsA\n")], "features depend on each other in a cycle: NeedsB → NeedsA → NeedsB"),
        ["analysis requirement not provided"] = (f => ["validate", "--analysis", f.Analysis("missing.yaml", "      - cls: Mitosis\n        models: {segmentation_model: model}\n")], "feature 'Mitosis' requires 'carcinoma.region', which no feature of the analysis provides"),
        ["analysis output provided twice"] = (f => ["validate", "--analysis", f.Analysis("twice.yaml", Carcinoma("c1", "0.5") + Carcinoma("c2", "0.6"))], "features 'c1' and 'c2' both provide 'carcinoma.region'"),
        ["analyze a feature cycle"] = (f => ["analyze", TestPaths.TestData("CMU-1-Small-Region.svs"), "--config", f.Analysis("cycle-analyze.yaml", "      - cls: NeedsB\n      - cls: NeedsA\n"), "--out", f.Combine("never")], "features depend on each other in a cycle"),

        // Tiling: ranges and absurd plans, refused before any work
        ["tiles --mpp 0.0001"] = (_ => Tiles("--mpp", "0.0001"), "the microns per pixel must be between 0.05 and 100, not 0.0001"),
        ["tiles --mpp 0"] = (_ => Tiles("--mpp", "0"), "between 0.05 and 100, not 0"),
        ["tiles --mpp -1"] = (_ => Tiles("--mpp", "-1"), "between 0.05 and 100, not -1"),
        ["tiles --mpp 1000"] = (_ => Tiles("--mpp", "1000"), "between 0.05 and 100, not 1000"),
        ["tiles --mpp NaN"] = (_ => Tiles("--mpp", "NaN"), "between 0.05 and 100"),
        ["tiles --mpp 1e400"] = (_ => Tiles("--mpp", "1e400"), "between 0.05 and 100"),
        ["tiles --size 0"] = (_ => Tiles("--size", "0"), "the tile size must be between 16 and 4096 pixels, not 0"),
        ["tiles --size 8"] = (_ => Tiles("--size", "8"), "between 16 and 4096 pixels, not 8"),
        ["tiles --size -5"] = (_ => Tiles("--size", "-5"), "between 16 and 4096 pixels, not -5"),
        ["tiles --size 100000"] = (_ => Tiles("--size", "100000"), "between 16 and 4096 pixels, not 100000"),
        ["tiles --overlap 256"] = (_ => Tiles("--overlap", "256"), "the overlap must be at least 0 and less than the tile size 256, not 256"),
        ["tiles --overlap -1"] = (_ => Tiles("--overlap", "-1"), "not -1"),
        ["tiles --min-tissue 2"] = (_ => Tiles("--min-tissue", "2"), "the minimum tissue fraction must be between 0 and 1"),
        ["tiles --level 7"] = (_ => Tiles("--level", "7"), "has levels 0 to 0, not 7"),
        ["tiles --mpp-override 0"] = (_ => Tiles("--mpp-override", "0"), "must be a positive number, not 0"),
        ["tiles 658 million at 0.05 µm/px"] = (_ => Tiles("--mpp", "0.05", "--size", "16", "--overlap", "15"), "grid of 16-pixel tiles, overlap 15, at 0.05 µm/px); the limit is 4,000,000"),
        ["tiles 10 million at 0.05 µm/px"] = (_ => Tiles("--mpp", "0.05", "--size", "16", "--overlap", "8"), "the limit is 4,000,000"),
        ["tiles 6.5 million at level 0"] = (_ => Tiles("--size", "16", "--overlap", "15"), "the plan asks for 6,509,160 tiles (2,205 × 2,952 grid of 16-pixel tiles, overlap 15, at level 0, 0.499 µm/px)"),

        // Synthetic slides: sizes and counts that would run for hours
        ["synth --size 1000000x1000000"] = (f => ["synth", "--out", f.Combine("synth"), "--size", "1000000x1000000"], "a synthetic slide may have at most 4,294,967,296"),
        ["synth --slides 100000"] = (f => ["synth", "--out", f.Combine("synth"), "--slides", "100000"], "at most 1000 slides, not 100000"),
        ["synth --mpp NaN"] = (f => ["synth", "--out", f.Combine("synth"), "--mpp", "NaN"], "microns per pixel must be between 0.01 and 10"),
    };

    public static TheoryData<string> Names() => [.. Cases.Keys];

    [Fact]
    public void TheTable_HasAtLeastFortyCases() => Assert.True(Cases.Count >= 40, $"{Cases.Count} cases");

    [Theory]
    [MemberData(nameof(Names))]
    public async Task HostileInput_FailsQuicklyWithOneClearMessage_Issue12(string name)
    {
        // Given
        var (arguments, expected) = Cases[name];
        var watch = Stopwatch.StartNew();

        // When
        var result = await files.Process.RunAsync(Limit, files.Experiment, arguments(files));

        // Then: refused (not crashed), saying what, where and which limit, without a stack trace
        // (Lines are wrapped at the console's width: compared with runs of white space as one space.)
        var output = Regex.Replace(result.Stdout + result.Stderr, @"\s+", " ");
        Assert.True(result.ExitCode is not (0 or 134), $"{name} ({watch.Elapsed}): {result}");
        Assert.True(output.Contains(expected, StringComparison.Ordinal), $"{name}: expected '{expected}' in\n{result}");
        Assert.DoesNotContain("   at ", output);
        Assert.DoesNotContain("Unhandled exception", output);
        Assert.True(output.Length < 20_000, $"{name}: {output.Length} characters of output");
    }

    [Theory]
    [InlineData("head.onnx")]
    [InlineData("model.json")]
    public async Task Trace_OfAPublishedModelAlteredInTheProductionStore_ShowsTheProductionCopyAltered_Issue12(string file)
    {
        // Given a model published with `lamina publish` and traced clean
        using var temp = new TemporaryDirectory();
        var home = new LaminaHome(temp.Combine("home")).EnsureCreated();
        var run = await StoreModelAsync(home);
        var lamina = new LaminaProcess(home.Root);
        var publish = await lamina.RunAsync(temp.Path, "publish", run.ToString(), "--reason", "release 1");
        Assert.True(publish.ExitCode == 0, publish.ToString());
        var clean = await lamina.RunAsync(temp.Path, "trace", run.ToString());
        Assert.True(clean.ExitCode == 0, clean.ToString());
        Assert.Contains("production store copy", clean.Stdout);

        // When a file of the production copy is altered (the blob store's copy stays as it was)
        var production = Directory.GetFiles(Path.Combine(home.Root, "production"), file, SearchOption.AllDirectories).Single();
        File.AppendAllText(production, " ");
        var traced = await lamina.RunAsync(temp.Path, "trace", run.ToString());
        var json = await lamina.RunAsync(temp.Path, "trace", run.ToString(), "--json");

        // Then the trace fails and marks the production copy altered
        Assert.True(traced.ExitCode is not (0 or 134), traced.ToString());
        Assert.Contains("✗ altered", traced.Stdout);
        Assert.Contains("production store", traced.Stdout);
        Assert.NotEqual(0, json.ExitCode);
        Assert.Contains("\"altered\"", json.Stdout);
    }

    private static Task<Guid> StoreModelAsync(LaminaHome home) => ShipCommandTests.StoreTrainedModelAsync(home);

    private static string[] Tiles(params string[] options) => ["slide", "tiles", TestPaths.TestData("CMU-1-Small-Region.svs"), .. options];

    private static string Carcinoma(string name, string threshold) =>
        $"      - cls: Carcinoma\n        name: {name}\n        params: {{threshold: {threshold}}}\n        models: {{classification_model: model}}\n";

    // Nine levels of nine aliases: a billion values from a few hundred bytes.
    private static string Laughs()
    {
        var text = new StringBuilder("a0: &a0 [x, x, x, x, x, x, x, x, x]\n");
        for (var i = 1; i < 10; i++)
        {
            text.Append($"a{i}: &a{i} [{string.Join(", ", Enumerable.Repeat($"*a{i - 1}", 9))}]\n");
        }
        return text.ToString();
    }

    /// <summary>One experiment folder (the sample) and Lamina home for every case, so plug-ins compile once.</summary>
    public sealed class Files : IDisposable
    {
        private readonly TemporaryDirectory _temp = new();

        public Files()
        {
            Experiment = _temp.Combine("experiment");
            foreach (var file in Directory.GetFiles(TestPaths.Sample("normalization-test"), "*", SearchOption.AllDirectories))
            {
                var target = Path.Combine(Experiment, Path.GetRelativePath(TestPaths.Sample("normalization-test"), file));
                Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                File.Copy(file, target);
            }
            Directory.CreateDirectory(Path.Combine(Experiment, "features"));
            File.WriteAllText(Path.Combine(Experiment, "features", "Wired.cs"), """
                using Lamina.Core.Analysis;

                public sealed class NeedsA : IFeature
                {
                    public IReadOnlyList<string> ModelRoles => [];
                    public IReadOnlyList<string> Requires => ["a.out"];
                    public IReadOnlyList<string> Provides => ["b.out"];
                    public Task RunAsync(IFeatureContext context, CancellationToken cancellationToken) => Task.CompletedTask;
                }

                public sealed class NeedsB : IFeature
                {
                    public IReadOnlyList<string> ModelRoles => [];
                    public IReadOnlyList<string> Requires => ["b.out"];
                    public IReadOnlyList<string> Provides => ["a.out"];
                    public Task RunAsync(IFeatureContext context, CancellationToken cancellationToken) => Task.CompletedTask;
                }
                """);
            Process = new LaminaProcess(_temp.Combine("home"));
        }

        public string Experiment { get; }

        public string Lamina => Path.Combine(Experiment, "lamina.yaml");

        internal LaminaProcess Process { get; }

        public string Combine(string name) => Path.Combine(Experiment, name);

        public string Write(string name, string text)
        {
            File.WriteAllText(Combine(name), text, new UTF8Encoding(false));
            return Combine(name);
        }

        /// <summary>A named pipe no process writes to: opening it for reading blocks until a writer comes.</summary>
        public string Fifo(string name)
        {
            using var mkfifo = System.Diagnostics.Process.Start("mkfifo", [Combine(name)]);
            mkfifo.WaitForExit();
            Assert.Equal(0, mkfifo.ExitCode);
            return Combine(name);
        }

        public string WriteBytes(string name, byte[] bytes)
        {
            File.WriteAllBytes(Combine(name), bytes);
            return Combine(name);
        }

        /// <summary>The sample experiment with its first <paramref name="old"/> replaced.</summary>
        public string WriteExperiment(string name, string old, string replacement)
        {
            var text = File.ReadAllText(Lamina);
            var index = text.IndexOf(old, StringComparison.Ordinal);
            Assert.True(index >= 0, old);
            return Write(name, text[..index] + replacement + text[(index + old.Length)..]);
        }

        /// <summary>An analysis file with the plug-ins under <c>features/</c>, one model, and the features given.</summary>
        public string Analysis(string name, string features) => Write(name, $"""
            version: 1
            sources_path: features
            analyses:
              - name: breast
                models:
                  model: {"{"}sourcing: auto, reference: 0badcafe{"}"}
                features:

            """ + features);

        public void Dispose() => _temp.Dispose();
    }
}
