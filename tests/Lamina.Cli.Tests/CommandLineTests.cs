using System.Diagnostics;
using System.Text.Json;

namespace Lamina.Cli.Tests;

/// <summary>The <c>lamina</c> command end to end: real processes, a real SQLite store, real git repositories.</summary>
public sealed class CommandLineTests : IDisposable
{
    private readonly TemporaryDirectory _temp = new();
    private readonly LaminaProcess _lamina;

    public CommandLineTests() => _lamina = new LaminaProcess(_temp.Combine("home"));

    public void Dispose() => _temp.Dispose();

    private const string ExtraTasks = """

          boom:
            type: custom
            params:
              cls: Boom
          sleeper:
            type: custom
            params:
              cls: Sleeper
              params:
                marker: started.txt
        """;

    private const string TestPlugins = """
        using Lamina.Core.Plugins;

        public sealed class Boom : ICustomTask
        {
            public Task RunAsync(IRunContext run, CancellationToken cancellationToken)
            {
                run.LogMetric("before_boom", 1, 0);
                throw new InvalidOperationException("the detector exploded");
            }
        }

        public sealed class Sleeper(string marker) : ICustomTask
        {
            public async Task RunAsync(IRunContext run, CancellationToken cancellationToken)
            {
                run.LogMetric("heartbeat", 1, 0);
                File.WriteAllText(Path.Combine(run.ExperimentDirectory, marker), "started");
                await Task.Delay(TimeSpan.FromMinutes(5), cancellationToken);
            }
        }
        """;

    /// <summary>Copies the sample experiment into a fresh folder, with the test tasks and plug-ins added.</summary>
    private string Experiment(bool git)
    {
        var directory = _temp.Combine("experiment");
        foreach (var file in Directory.GetFiles(TestPaths.Sample("normalization-test"), "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(directory, Path.GetRelativePath(TestPaths.Sample("normalization-test"), file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
        File.AppendAllText(Path.Combine(directory, "lamina.yaml"), ExtraTasks);
        File.WriteAllText(Path.Combine(directory, "TestTasks.cs"), TestPlugins);
        if (git)
        {
            Git.Run(directory, "init", "-q");
            Git.Run(directory, "add", "-A");
            Git.Run(directory, "commit", "-q", "-m", "experiment");
        }
        return directory;
    }

    private async Task<JsonElement> JsonAsync(string directory, params string[] arguments)
    {
        var result = await _lamina.RunAsync(directory, [.. arguments, "--json"]);
        Assert.True(result.ExitCode == 0, result.ToString());
        return JsonDocument.Parse(result.Stdout).RootElement;
    }

    private static string RunId(LaminaResult result) =>
        JsonDocument.Parse(result.Stdout).RootElement.GetProperty("run_id").GetString()!;

    [Fact]
    public async Task Demo_FromAFreshFolder_RunsTheSampleSynthesisesSlidesAndTrainsBothModels()
    {
        var result = await _lamina.RunAsync(TimeSpan.FromMinutes(12), _temp.Path, "demo", "--out", _temp.Combine("demo"));

        Assert.True(result.ExitCode == 0, result.ToString());
        var runs = (await JsonAsync(_temp.Path, "runs", "list")).EnumerateArray().ToList();
        Assert.Equal(["check_normalization", "simple_train", "test_breast_analysis", "train_mitosis"], runs.Select(r => r.GetProperty("task_name").GetString()).Order());
        Assert.All(runs, r => Assert.Equal("completed", r.GetProperty("status").GetString()));

        // The custom task's run recorded the uncommitted change, and nothing of the synthesised slides.
        var custom = runs.Single(r => r.GetProperty("task_name").GetString() == "check_normalization");
        var show = await JsonAsync(_temp.Path, "runs", "show", custom.GetProperty("id").GetString()![..8]);
        Assert.True(show.GetProperty("git").GetProperty("dirty").GetBoolean());
        Assert.Contains("+        tiles: 48", show.GetProperty("diff").GetString());
        Assert.Equal(48, show.GetProperty("metrics").EnumerateArray().First(m => m.GetProperty("name").GetString() == "mean_r").GetProperty("count").GetInt32());
        var training = runs.Single(r => r.GetProperty("task_name").GetString() == "simple_train");
        var trained = await JsonAsync(_temp.Path, "runs", "show", training.GetProperty("id").GetString()!);
        Assert.DoesNotContain("slides/", trained.GetProperty("diff").GetString());

        // Both models are packages; the carcinoma model separates carcinoma from other tissue.
        var models = (await JsonAsync(_temp.Path, "models", "list")).EnumerateArray().ToList();
        Assert.Equal(["mitosis_model", "my_class_model"], models.Select(m => m.GetProperty("name").GetString()).Order());
        var carcinoma = models.Single(m => m.GetProperty("name").GetString() == "my_class_model").GetProperty("final_metrics");
        Assert.True(carcinoma.GetProperty("val/accuracy").GetDouble() >= 0.90, carcinoma.ToString());
        Assert.True(carcinoma.GetProperty("val/balanced_accuracy").GetDouble() >= 0.90, carcinoma.ToString());

        // The whole analysis was tested against the held-out slide's ground truth as a run linked to both training runs.
        var test = runs.Single(r => r.GetProperty("task_name").GetString() == "test_breast_analysis");
        var tested = await JsonAsync(_temp.Path, "runs", "show", test.GetProperty("id").GetString()!);
        var testMetrics = tested.GetProperty("metrics").EnumerateArray().Select(m => m.GetProperty("name").GetString()).ToList();
        Assert.Superset(new HashSet<string?> { "test/carcinoma_dice", "test/mitosis_precision", "test/mitosis_recall", "test/mitosis_f1" }, testMetrics.ToHashSet());
        // Issue 18's bar on the held-out slide, reached with the operating points chosen on validation (deterministic).
        double Metric(string name) => tested.GetProperty("metrics").EnumerateArray().Single(m => m.GetProperty("name").GetString() == name).GetProperty("last").GetDouble();
        Assert.True(Metric("test/carcinoma_dice") >= 0.85, $"carcinoma Dice {Metric("test/carcinoma_dice")}");
        Assert.True(Metric("test/mitosis_f1") >= 0.5, $"mitosis F1 {Metric("test/mitosis_f1")}");
        var mitosisCard = await JsonAsync(_temp.Path, "models", "show", runs.Single(r => r.GetProperty("task_name").GetString() == "train_mitosis").GetProperty("id").GetString()!);
        var operatingPoint = mitosisCard.GetProperty("operating_point");
        Assert.Equal("point_f1", operatingPoint.GetProperty("metric").GetString());
        Assert.True(operatingPoint.GetProperty("suppression_radius_um").GetDouble() > 0, operatingPoint.ToString());
        var inputs = tested.GetProperty("inputs");
        Assert.Equal(["slide-held-out.tif"], inputs.GetProperty("slides").EnumerateArray().Select(x => Path.GetFileName(x.GetProperty("path").GetString())));
        Assert.Equal(["mitosis_model", "my_class_model"], inputs.GetProperty("models").EnumerateArray().Select(m => m.GetProperty("model_name").GetString()).Order());

        // The held-out slide was analysed with both models by run id: figures, and provenance naming the store's model cards.
        var demo = _temp.Combine("demo");
        Assert.True(File.Exists(Path.Combine(demo, "analysis.yaml")));
        var report = JsonDocument.Parse(File.ReadAllText(Path.Combine(demo, "analysis", "report.json"))).RootElement;
        var figures = report.GetProperty("features");
        Assert.True(figures.GetProperty("Carcinoma").GetProperty("figures").GetProperty("area_mm2").GetProperty("value").GetDouble() > 0);
        var searched = figures.GetProperty("Mitosis").GetProperty("figures").GetProperty("searched_share").GetProperty("value").GetDouble();
        Assert.InRange(searched, 1e-6, 0.6);
        foreach (var (name, model) in new[] { ("carcinoma_model", "my_class_model"), ("mitosis_model", "mitosis_model") })
        {
            var stored = models.Single(m => m.GetProperty("name").GetString() == model);
            Assert.Equal(stored.GetProperty("card_digest").GetString(), report.GetProperty("provenance").GetProperty("models").GetProperty(name).GetProperty("model.json").GetString());
            Assert.Equal(stored.GetProperty("run_id").GetString(), report.GetProperty("models").GetProperty(name).GetProperty("training_run").GetString());
        }
        foreach (var file in new[] { "results.geojson", "heatmap-carcinoma.png", "overlay-carcinoma.tif", "summary.png", "report.html" })
        {
            Assert.True(File.Exists(Path.Combine(demo, "analysis", file)), file);
        }

        // It ran from the bundle the demo built from the published models: the report names it, the bundle verifies,
        // the trace from the report verifies down to the commits, the audit chain is intact, and a published run stays.
        Assert.Equal(Path.Combine(demo, "bundle"), report.GetProperty("provenance").GetProperty("bundle").GetString());
        Assert.All(report.GetProperty("models").EnumerateObject(), m => Assert.Equal("manual", m.Value.GetProperty("sourcing").GetString()));
        Assert.True(File.Exists(Path.Combine(demo, "release", "resolved.yaml")) && File.Exists(Path.Combine(demo, "release", "lamina.lock.json")));
        Assert.Equal(0, (await _lamina.RunAsync(demo, "verify", "bundle")).ExitCode);

        // The bundle alone, moved elsewhere, analyses with an empty Lamina home (no tracking store, no caches) and gives
        // the same figures, its report naming the bundle.
        var moved = _temp.Combine("customer-site", "bundle");
        Directory.CreateDirectory(Path.GetDirectoryName(moved)!);
        Directory.Move(Path.Combine(demo, "bundle"), moved);
        var offline = await new LaminaProcess(_temp.Combine("empty-home")).RunAsync(demo, "analyze", Path.Combine("held-out", "slide-held-out.tif"),
            "--config", Path.Combine(moved, "analysis.yaml"), "--out", _temp.Combine("offline"), "--json");
        Assert.True(offline.ExitCode == 0, offline.ToString());
        var offlineReport = JsonDocument.Parse(offline.Stdout).RootElement;
        Assert.Equal(moved, offlineReport.GetProperty("provenance").GetProperty("bundle").GetString());
        Assert.Equal(figures.GetProperty("Mitosis").GetProperty("figures").ToString(), offlineReport.GetProperty("features").GetProperty("Mitosis").GetProperty("figures").ToString());
        Assert.False(File.Exists(_temp.Combine("empty-home", "tracking.db")));
        Directory.Move(moved, Path.Combine(demo, "bundle"));
        var trace = await _lamina.RunAsync(demo, "trace", Path.Combine("analysis", "report.json"), "--json");
        Assert.True(trace.ExitCode == 0, trace.ToString());
        Assert.Contains(runs.Single(r => r.GetProperty("task_name").GetString() == "simple_train").GetProperty("id").GetString()!, trace.Stdout);
        Assert.Equal(0, (await _lamina.RunAsync(demo, "audit", "verify")).ExitCode);
        var delete = await _lamina.RunAsync(demo, "runs", "delete", training.GetProperty("id").GetString()!, "--yes");
        Assert.NotEqual(0, delete.ExitCode);
        Assert.Contains("is published", delete.Stderr);

        // The verbose form, on packages exported from the store, runs without the store and gives the same figures.
        foreach (var (name, model) in new[] { ("carcinoma", "my_class_model"), ("mitosis", "mitosis_model") })
        {
            var run = models.Single(m => m.GetProperty("name").GetString() == model).GetProperty("run_id").GetString()!;
            Assert.Equal(0, (await _lamina.RunAsync(demo, "models", "show", run, "--export", Path.Combine(demo, "models", name), "--json")).ExitCode);
        }
        File.WriteAllText(Path.Combine(demo, "verbose.yaml"), """
            version: 1
            sources_path: [normalization-test/]
            analyses:
              - name: breast
                models:
                  carcinoma_model:
                    sourcing: manual
                    reference: models/carcinoma/
                  mitosis_model:
                    sourcing: manual
                    reference: models/mitosis/
                    preprocessing:
                      - cls: Normalization
                        params:
                          factor: 255.0
                features:
                  - cls: TissueArea
                  - cls: Carcinoma
                    params: {overlap: 112}
                    models: {classification_model: carcinoma_model}
                  - cls: Mitosis
                    models: {segmentation_model: mitosis_model}
            """);
        var analysed = await _lamina.RunAsync(demo, "analyze", Path.Combine("held-out", "slide-held-out.tif"), "--config", "verbose.yaml", "--out", "verbose", "--json");
        Assert.True(analysed.ExitCode == 0, analysed.ToString());
        var verbose = JsonDocument.Parse(analysed.Stdout).RootElement;
        foreach (var feature in new[] { "Carcinoma", "Mitosis", "TissueArea" })
        {
            Assert.Equal(figures.GetProperty(feature).GetProperty("figures").ToString(), verbose.GetProperty("features").GetProperty(feature).GetProperty("figures").ToString());
        }
        Assert.Equal(report.GetProperty("provenance").GetProperty("models").ToString(), verbose.GetProperty("provenance").GetProperty("models").ToString());

        // The held-out slide, stained as the training slides were, passes the input checks with a note of its scale.
        var heldOutChecks = verbose.GetProperty("input_checks");
        Assert.Equal("slide", verbose.GetProperty("slide").GetProperty("mpp_source").GetString());
        Assert.All(heldOutChecks.GetProperty("findings").EnumerateArray(), f => Assert.Equal("note", f.GetProperty("severity").GetString()));
        Assert.False(heldOutChecks.GetProperty("accepted_warnings").GetBoolean());

        // The same models on the real Aperio slide: a real H&E stain far from the synthetic training slides' stops the
        // analysis before any model runs, writing nothing...
        var stopped = await _lamina.RunAsync(demo, "analyze", TestPaths.TestData("CMU-1-Small-Region.svs"), "--config", "verbose.yaml", "--out", "cmu");
        Assert.True(stopped.ExitCode == ExitCodes.Validation, stopped.ToString());
        Assert.Contains("stopped before any model ran", stopped.Stderr);
        Assert.Contains("the tissue's stain is unlike training's", stopped.Stderr);
        Assert.Contains("--accept-warnings", stopped.Stderr);
        Assert.False(Directory.Exists(Path.Combine(demo, "cmu")));

        // ...and accepting the warnings analyses it: its figures, its digest, its overlay, the warnings recorded as accepted.
        var real = await _lamina.RunAsync(demo, "analyze", TestPaths.TestData("CMU-1-Small-Region.svs"), "--config", "verbose.yaml", "--out", "cmu",
            "--accept-warnings", "--json");
        Assert.True(real.ExitCode == 0, real.ToString());
        var cmu = JsonDocument.Parse(real.Stdout).RootElement;
        var cmuChecks = cmu.GetProperty("input_checks");
        Assert.True(cmuChecks.GetProperty("accepted_warnings").GetBoolean());
        Assert.Contains(cmuChecks.GetProperty("findings").EnumerateArray(), f => f.GetProperty("check").GetString() == "stain" && f.GetProperty("severity").GetString() == "warning");
        Assert.Contains("accepted", File.ReadAllText(Path.Combine(demo, "cmu", "report.html")));

        // A fluorescence slide (dark background) through these brightfield models is refused, even with warnings
        // accepted; forcing it analyses it, and the report says it was forced.
        using (var dark = NetVips.Image.Black(1536, 1536, bands: 3).Mutate(m => m.DrawCircle([20, 160, 60], 768, 768, 500, fill: true)))
        using (var described = dark.Cast(NetVips.Enums.BandFormat.Uchar).Mutate(m => m.Set(NetVips.GValue.GStrType, "image-description",
            "Aperio Image Library v10.0.0\n1536x1536 [0,0 1536x1536] (256x256) JPEG Q=90|AppMag = 20|MPP = 0.5")))
        {
            described.Tiffsave(Path.Combine(demo, "fluorescence.tif"), compression: NetVips.Enums.ForeignTiffCompression.Jpeg, tile: true, pyramid: true);
        }
        var refused = await _lamina.RunAsync(demo, "analyze", "fluorescence.tif", "--config", "verbose.yaml", "--out", "fluorescence", "--accept-warnings");
        Assert.True(refused.ExitCode == ExitCodes.Validation, refused.ToString());
        Assert.Contains("refused before any model ran", refused.Stderr);
        Assert.Contains("looks like fluorescence", refused.Stderr);
        Assert.Contains("--force-input", refused.Stderr);
        Assert.False(Directory.Exists(Path.Combine(demo, "fluorescence")));
        var forced = await _lamina.RunAsync(demo, "analyze", "fluorescence.tif", "--config", "verbose.yaml", "--out", "fluorescence", "--force-input", "--json");
        Assert.True(forced.ExitCode == 0, forced.ToString());
        var forcedChecks = JsonDocument.Parse(forced.Stdout).RootElement.GetProperty("input_checks");
        Assert.True(forcedChecks.GetProperty("forced").GetBoolean());
        Assert.Equal("fluorescence", forcedChecks.GetProperty("appearance").GetProperty("modality").GetString());
        Assert.Contains(forcedChecks.GetProperty("findings").EnumerateArray(), f => f.GetProperty("severity").GetString() == "refusal");
        Assert.Contains("forced past a refusal", File.ReadAllText(Path.Combine(demo, "fluorescence", "report.html")));
        Assert.True(cmu.GetProperty("features").GetProperty("TissueArea").GetProperty("figures").GetProperty("area_mm2").GetProperty("value").GetDouble() > 0.1);
        Assert.Equal(cmu.GetProperty("slide").GetProperty("sha256").GetString(),
            Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(TestPaths.TestData("CMU-1-Small-Region.svs")))));
        Assert.True(File.Exists(Path.Combine(demo, "cmu", "overlay-carcinoma.tif")));

        // A broken dependency graph stops before any model is loaded, naming what is missing.
        File.WriteAllText(Path.Combine(demo, "broken.yaml"), File.ReadAllText(Path.Combine(demo, "verbose.yaml")).Replace(
            "      - cls: Carcinoma\n        params: {overlap: 112}\n        models: {classification_model: carcinoma_model}\n", ""));
        var broken = await _lamina.RunAsync(demo, "analyze", Path.Combine("held-out", "slide-held-out.tif"), "--config", "broken.yaml", "--out", "broken");
        Assert.NotEqual(0, broken.ExitCode);
        Assert.Contains("feature 'Mitosis' requires 'carcinoma.region', which no feature of the analysis provides", broken.Stderr);
        Assert.False(Directory.Exists(Path.Combine(demo, "broken")));

        // The demo's SQLite store copied into a team's PostgreSQL and S3 stores: the report traces and the audit verifies there.
        var team = new LaminaProcess(_temp.Combine("team-home"));
        var (environment, uri, _) = await TeamStoresTests.TeamAsync(team, _temp.Path);
        foreach (var name in new[] { "LAMINA_S3_ENDPOINT", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION" }) _lamina.Environment[name] = environment[name];
        var copy = await _lamina.RunAsync(TimeSpan.FromMinutes(10), demo, "store", "copy", "--to-tracking", uri,
            "--to-artifacts", environment["LAMINA_ARTIFACTS"], "--to-production", environment["LAMINA_PRODUCTION"], "--json");
        Assert.True(copy.ExitCode == 0, copy.ToString());
        Assert.Equal(runs.Count, JsonDocument.Parse(copy.Stdout).RootElement.GetProperty("runs_copied").GetInt32());
        foreach (var (name, value) in environment) team.Environment[name] = value;
        var teamTrace = await team.RunAsync(demo, "trace", Path.Combine("analysis", "report.json"), "--json");
        Assert.True(teamTrace.ExitCode == 0, teamTrace.ToString());
        Assert.Contains(training.GetProperty("id").GetString()!, teamTrace.Stdout);
        var teamAudit = await team.RunAsync(demo, "audit", "verify", "--json");
        Assert.True(teamAudit.ExitCode == 0, teamAudit.ToString());
        var laptopAudit = await _lamina.RunAsync(demo, "audit", "verify", "--json");
        Assert.Equal(JsonDocument.Parse(laptopAudit.Stdout).RootElement.GetProperty("head_hash").GetString(),
            JsonDocument.Parse(teamAudit.Stdout).RootElement.GetProperty("head_hash").GetString());
    }

    [Fact]
    public async Task Run_InAGitRepositoryWithChanges_RecordsADiffThatRebuildsTheWorkTreeByteForByte()
    {
        // Given a committed experiment with a modified tracked file, an untracked plug-in and a binary file
        var directory = Experiment(git: true);
        File.AppendAllText(Path.Combine(directory, "Normalization.cs"), "// tuned the factor\n");
        File.WriteAllText(Path.Combine(directory, "Untracked.cs"), "public static class Untracked { public const int Answer = 42; }\n");
        File.WriteAllBytes(Path.Combine(directory, "weights.bin"), [0, 1, 2, 255, 254, 10, 13, 0]);

        // When the task runs
        var run = await _lamina.RunAsync(directory, "run", "check_normalization", "--json");
        Assert.True(run.ExitCode == 0, run.ToString());
        var diff = await _lamina.RunAsync(directory, "runs", "show", RunId(run)[..6], "--diff");

        // Then the recorded diff, applied to a clean checkout of the commit, gives back the same files
        Assert.Equal(0, diff.ExitCode);
        var clone = _temp.Combine("clone");
        Git.Run(_temp.Path, "clone", "-q", directory, clone);
        var patch = _temp.Combine("run.patch");
        File.WriteAllBytes(patch, diff.StdoutBytes);
        Git.Run(clone, "apply", "--binary", patch);
        foreach (var name in new[] { "Normalization.cs", "Untracked.cs", "weights.bin", "lamina.yaml" })
        {
            Assert.Equal(File.ReadAllBytes(Path.Combine(directory, name)), File.ReadAllBytes(Path.Combine(clone, name)));
        }
    }

    [Fact]
    public async Task Run_TwoProcessesOnOneStore_LoseNothing()
    {
        var directory = Experiment(git: false);
        using var first = _lamina.Start(directory, "run", "check_normalization", "--json");
        using var second = _lamina.Start(directory, "run", "check_normalization", "--json", "--set", "tasks.check_normalization.params.params.seed=7");
        var results = await Task.WhenAll(LaminaProcess.WaitAsync(first), LaminaProcess.WaitAsync(second));

        Assert.All(results, r => Assert.True(r.ExitCode == 0, r.ToString()));
        foreach (var result in results)
        {
            var show = await JsonAsync(directory, "runs", "show", RunId(result));
            var metrics = show.GetProperty("metrics").EnumerateArray().ToDictionary(m => m.GetProperty("name").GetString()!, m => m.GetProperty("count").GetInt32());
            Assert.Equal(64, metrics["mean_r"]);
            Assert.Equal(64, metrics["mean_b"]);
            Assert.Equal(2, show.GetProperty("artifacts").EnumerateArray().Count(a => a.GetProperty("name").GetString()!.EndsWith(".csv", StringComparison.Ordinal)));
        }
    }

    [Fact]
    public async Task Run_OutsideGit_WorksAndRecordsThatThereWasNoGit()
    {
        var directory = Experiment(git: false);

        var run = await _lamina.RunAsync(directory, "run", "check_normalization", "--json");

        Assert.True(run.ExitCode == 0, run.ToString());
        var show = await JsonAsync(directory, "runs", "show", RunId(run));
        Assert.Equal(JsonValueKind.Null, show.GetProperty("git").ValueKind);
        Assert.Contains(show.GetProperty("plugin_sources").EnumerateArray(), s => s.GetProperty("path").GetString() == "Normalization.cs");

        // Issue 11: the run was submitted and then executed by this lamina process, which it names
        Assert.Equal("completed", show.GetProperty("run").GetProperty("status").GetString());
        Assert.Matches(@"^.+@.+ pid [0-9]+$", show.GetProperty("run").GetProperty("executor").GetString());
        var text = await _lamina.RunAsync(directory, "runs", "show", RunId(run));
        Assert.Matches(@"executor\s+.+@.+ pid [0-9]+", text.Stdout);
    }

    [Fact]
    public async Task Run_TaskThatThrows_IsMarkedFailedWithTheErrorKept()
    {
        var directory = Experiment(git: false);

        var run = await _lamina.RunAsync(directory, "run", "boom", "--json");

        Assert.Equal(1, run.ExitCode);
        var show = await JsonAsync(directory, "runs", "show", RunId(run));
        Assert.Equal("failed", show.GetProperty("run").GetProperty("status").GetString());
        Assert.Contains("the detector exploded", show.GetProperty("run").GetProperty("error").GetString());
        Assert.Contains(show.GetProperty("metrics").EnumerateArray(), m => m.GetProperty("name").GetString() == "before_boom");
    }

    [Fact]
    public async Task Run_InterruptedWithCtrlC_IsMarkedAborted()
    {
        var directory = Experiment(git: false);
        using var process = _lamina.Start(directory, "run", "sleeper", "--json");
        var marker = Path.Combine(directory, "started.txt");
        var waited = Stopwatch.StartNew();
        while (!File.Exists(marker) && waited.Elapsed < TimeSpan.FromMinutes(2) && !process.HasExited)
        {
            await Task.Delay(100);
        }
        Assert.True(File.Exists(marker), "the sleeper task never started");

        Assert.Equal(0, Signals.Interrupt(process.Id));
        var result = await LaminaProcess.WaitAsync(process);

        Assert.True(result.ExitCode == 130, result.ToString());
        var show = await JsonAsync(directory, "runs", "show", RunId(result));
        Assert.Equal("aborted", show.GetProperty("run").GetProperty("status").GetString());
        Assert.Contains(show.GetProperty("metrics").EnumerateArray(), m => m.GetProperty("name").GetString() == "heartbeat");
    }

    [Fact]
    public async Task RunsCompare_ShowsOnlyTheParametersThatDifferAndFinalMetrics()
    {
        var directory = Experiment(git: false);
        var a = await _lamina.RunAsync(directory, "run", "check_normalization", "--json");
        var b = await _lamina.RunAsync(directory, "run", "check_normalization", "--json",
            "--set", "models.my_class_model.preprocessing.params.factor=128");

        var compare = await JsonAsync(directory, "runs", "compare", RunId(a)[..8], RunId(b)[..8]);

        var parameters = compare.GetProperty("parameters").EnumerateArray().ToList();
        var row = Assert.Single(parameters);
        Assert.Equal("models.my_class_model.preprocessing.params.factor", row.GetProperty("key").GetString());
        Assert.Equal(["255", "128"], row.GetProperty("values").EnumerateArray().Select(v => v.GetString()));
        var max = compare.GetProperty("final_metrics").EnumerateArray().Single(m => m.GetProperty("key").GetString() == "value_max");
        var values = max.GetProperty("values").EnumerateArray().Select(v => double.Parse(v.GetString()!, System.Globalization.CultureInfo.InvariantCulture)).ToList();
        Assert.True(values[0] <= 1.0 && values[1] > 1.0, string.Join(", ", values));

        var table = await _lamina.RunAsync(directory, "runs", "compare", RunId(a), RunId(b));
        Assert.Contains("factor", table.Stdout);
        Assert.DoesNotContain("n_layers", table.Stdout);
    }

    [Fact]
    public async Task Validate_FileWithSeveralMistakes_ReportsEachAtItsLineAndStoresNothing()
    {
        var directory = Experiment(git: false);
        var yaml = Path.Combine(directory, "lamina.yaml");
        static string ReplaceFirst(string text, string old, string replacement)
        {
            var index = text.IndexOf(old, StringComparison.Ordinal);
            return text[..index] + replacement + text[(index + old.Length)..];
        }
        var text = ReplaceFirst(ReplaceFirst(ReplaceFirst(File.ReadAllText(yaml),
            "cls: BinaryFocal", "cls: BinaryFocl"),
            "n_epochs: 50", "n_epochs: fifty"),
            "factor: 255.0", "factr: 255.0");
        File.WriteAllText(yaml, text);
        var lines = text.Split('\n');
        int LineOf(string needle) => Array.FindIndex(lines, l => l.Contains(needle, StringComparison.Ordinal)) + 1;

        var result = await _lamina.RunAsync(directory, "validate");
        var run = await _lamina.RunAsync(directory, "run", "check_normalization");

        Assert.Equal(ExitCodes.Validation, result.ExitCode);
        Assert.Contains($"lamina.yaml:{LineOf("BinaryFocl")}:", result.Stdout);
        Assert.Contains("did you mean 'BinaryFocal'?", result.Stdout);
        Assert.Contains($"lamina.yaml:{LineOf("fifty")}:", result.Stdout);
        Assert.Contains($"lamina.yaml:{LineOf("factr")}:", result.Stdout);
        Assert.Contains("4 problems", result.Stdout); // factr is unknown and factor is missing
        Assert.Equal(ExitCodes.Validation, run.ExitCode);
        Assert.Contains("BinaryFocl", run.Stderr);
        var runs = await JsonAsync(directory, "runs", "list");
        Assert.Empty(runs.EnumerateArray());
    }

    [Fact]
    public async Task Validate_PluginWithACompileError_ReportsTheFileLineAndColumn()
    {
        var directory = Experiment(git: false);
        File.WriteAllText(Path.Combine(directory, "Broken.cs"), "public sealed class Broken\n{\n    public int X => undefinedName;\n}\n");

        var result = await _lamina.RunAsync(directory, "validate", "--json");

        Assert.Equal(ExitCodes.Validation, result.ExitCode);
        var diagnostic = Assert.Single(JsonDocument.Parse(result.Stdout).RootElement.GetProperty("diagnostics").EnumerateArray());
        Assert.Equal("Broken.cs", diagnostic.GetProperty("file").GetString());
        Assert.Equal(3, diagnostic.GetProperty("line").GetInt32());
        Assert.Equal(21, diagnostic.GetProperty("column").GetInt32());
        Assert.Contains("CS0103", diagnostic.GetProperty("message").GetString());
    }

    [Fact]
    public async Task ValidateAnalysis_ReportsEveryProblem_AndAcceptsUserFeaturesFromSourcesPath()
    {
        // Given an analysis file whose one feature is written next to it
        var directory = _temp.Combine("analysis");
        Directory.CreateDirectory(Path.Combine(directory, "features"));
        File.WriteAllText(Path.Combine(directory, "features", "Ki67.cs"), """
            using Lamina.Core.Analysis;

            public sealed class Ki67 : IFeature
            {
                public IReadOnlyList<string> ModelRoles => ["nuclei_model"];
                public IReadOnlyList<string> Requires => [];
                public IReadOnlyList<string> Provides => [];
                public Task RunAsync(IFeatureContext context, CancellationToken cancellationToken) => Task.CompletedTask;
            }
            """);
        const string Good = """
            version: 1
            sources_path: features
            analyses:
              - name: ki67
                models:
                  nuclei: {sourcing: auto, reference: 0badcafe}
                features:
                  - cls: Ki67
                    models: {nuclei_model: nuclei}
            """;
        File.WriteAllText(Path.Combine(directory, "good.yaml"), Good);
        File.WriteAllText(Path.Combine(directory, "bad.yaml"),
            Good.Replace("sourcing: auto", "sourcing: autom", StringComparison.Ordinal).Replace("cls: Ki67", "cls: Ki76", StringComparison.Ordinal));

        // When
        var good = await _lamina.RunAsync(directory, "validate", "--analysis", "good.yaml");
        var bad = await _lamina.RunAsync(directory, "validate", "--analysis", "bad.yaml", "--json");

        // Then
        Assert.Equal(0, good.ExitCode);
        Assert.Contains("valid", good.Stdout);
        Assert.Contains("ki67", good.Stdout);
        Assert.Equal(ExitCodes.Validation, bad.ExitCode);
        var diagnostics = JsonDocument.Parse(bad.Stdout).RootElement.GetProperty("diagnostics").EnumerateArray()
            .Select(d => $"{d.GetProperty("line").GetInt32()}:{d.GetProperty("column").GetInt32()} {d.GetProperty("key_path").GetString()}: {d.GetProperty("message").GetString()}")
            .ToList();
        Assert.Equal([
            "6:26 analyses[0].models.nuclei.sourcing: unknown sourcing 'autom'; did you mean 'auto'? (known: auto, manual)",
            "8:14 analyses[0].features[0].cls: no plug-in named 'Ki76'; did you mean 'Ki67'?",
        ], diagnostics);
    }

    [Fact]
    public async Task Run_UnknownTask_SuggestsTheNearestAndStoresNothing()
    {
        var directory = Experiment(git: false);

        var result = await _lamina.RunAsync(directory, "run", "check_normalisation");

        Assert.Equal(ExitCodes.NotFound, result.ExitCode);
        Assert.Contains("did you mean 'check_normalization'?", result.Stderr);
        Assert.Empty((await JsonAsync(directory, "runs", "list")).EnumerateArray());
    }

    [Fact]
    public async Task RunsDelete_RemovesTheRun_AndAnAmbiguousOrUnknownIdIsRefused()
    {
        var directory = Experiment(git: false);
        var run = RunId(await _lamina.RunAsync(directory, "run", "check_normalization", "--json"));

        var unknown = await _lamina.RunAsync(directory, "runs", "show", "ffffffff");
        var refused = await _lamina.RunAsync(directory, "runs", "delete", run);
        var deleted = await _lamina.RunAsync(directory, "runs", "delete", run[..8], "--yes");

        Assert.Equal(ExitCodes.NotFound, unknown.ExitCode);
        Assert.Contains("ffffffff", unknown.Stderr);
        Assert.Equal(ExitCodes.Usage, refused.ExitCode);
        Assert.Contains("--yes", refused.Stderr);
        Assert.True(deleted.ExitCode == 0, deleted.ToString());
        Assert.Empty((await JsonAsync(directory, "runs", "list")).EnumerateArray());
    }
}

/// <summary>Sends SIGINT as a terminal's Ctrl+C does.</summary>
internal static partial class Signals
{
    private const int SigInt = 2;

    public static int Interrupt(int pid) => Kill(pid, SigInt);

    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
