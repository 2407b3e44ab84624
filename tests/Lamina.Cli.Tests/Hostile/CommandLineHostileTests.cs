using System.Text.Json;

namespace Lamina.Cli.Tests.Hostile;

/// <summary>
/// A copy of the sample experiment and a store holding two runs, one of which logged metrics that are not finite
/// (NaN, +∞, −∞): what the hostile command lines run against.
/// </summary>
public sealed class HostileStore : IAsyncLifetime
{
    private readonly TemporaryDirectory _temp = new();

    internal LaminaProcess Lamina { get; private set; } = null!;

    /// <summary>The experiment folder every command runs in.</summary>
    public string Directory { get; private set; } = "";

    public string NotFiniteRun { get; private set; } = "";

    public string FiniteRun { get; private set; } = "";

    private const string NotFiniteTask = """

          not_finite:
            type: custom
            params:
              cls: NotFinite
        """;

    private const string NotFinitePlugin = """
        using Lamina.Core.Plugins;

        public sealed class NotFinite : ICustomTask
        {
            public Task RunAsync(IRunContext run, CancellationToken cancellationToken)
            {
                run.LogMetric("loss", 0.5, 0);
                run.LogMetric("loss", double.NaN, 1);
                run.LogMetric("gradient", double.PositiveInfinity, 0);
                run.LogMetric("margin", double.NegativeInfinity, 0);
                return Task.CompletedTask;
            }
        }
        """;

    public async Task InitializeAsync()
    {
        Lamina = new LaminaProcess(_temp.Combine("home"));
        Directory = _temp.Combine("experiment");
        var sample = TestPaths.Sample("normalization-test");
        foreach (var file in System.IO.Directory.GetFiles(sample, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(Directory, Path.GetRelativePath(sample, file));
            System.IO.Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
        await File.AppendAllTextAsync(Path.Combine(Directory, "lamina.yaml"), NotFiniteTask);
        await File.WriteAllTextAsync(Path.Combine(Directory, "NotFinite.cs"), NotFinitePlugin);
        NotFiniteRun = await RunAsync("not_finite");
        FiniteRun = await RunAsync("check_normalization");
    }

    private async Task<string> RunAsync(string task)
    {
        var result = await Lamina.RunAsync(Directory, "run", task, "--json");
        Assert.True(result.ExitCode == 0, result.ToString());
        return JsonDocument.Parse(result.Stdout).RootElement.GetProperty("run_id").GetString()!;
    }

    public Task DisposeAsync()
    {
        _temp.Dispose();
        return Task.CompletedTask;
    }
}

/// <summary>
/// Issue 12: mistyped and inapplicable options, markup in values, errors with <c>--json</c>, metrics that are not finite.
/// Every failure is one line on standard error with the exit code of its kind, never a stack trace or an
/// "unexpected error"; with <c>--json</c> standard output holds the error object and nothing else.
/// </summary>
public sealed class CommandLineHostileTests(HostileStore store) : IClassFixture<HostileStore>
{
    // args (with "RUN" standing for a stored run id), exit code, a fragment of the one line on stderr.
    public static TheoryData<string[], int, string> Failures => new()
    {
        // Mistyped options, one for every command: the option named, with the nearest one.
        { ["run", "check_normalization", "--sett", "a=b"], ExitCodes.Usage, "unknown option '--sett' to 'lamina run'; did you mean '--set'?" },
        { ["validate", "--fil", "lamina.yaml"], ExitCodes.Usage, "unknown option '--fil' to 'lamina validate'; did you mean '--file'?" },
        { ["validate", "-z"], ExitCodes.Usage, "unknown option '-z' to 'lamina validate' (its options: --analysis, --file, --json, --set, --verbose, -f)" },
        { ["runs", "list", "--colour"], ExitCodes.Usage, "unknown option '--colour' to 'lamina runs list' (its options:" },
        { ["runs", "list", "--limt", "3"], ExitCodes.Usage, "did you mean '--limit'?" },
        { ["runs", "show", "RUN", "--jsn"], ExitCodes.Usage, "unknown option '--jsn' to 'lamina runs show'; did you mean '--json'?" },
        { ["runs", "compare", "RUN", "RUN", "--jsonn"], ExitCodes.Usage, "did you mean '--json'?" },
        { ["runs", "delete", "RUN", "--yess"], ExitCodes.Usage, "unknown option '--yess' to 'lamina runs delete'; did you mean '--yes'?" },
        { ["datasets", "list", "--verbos"], ExitCodes.Usage, "to 'lamina datasets list'; did you mean '--verbose'?" },
        { ["datasets", "show", "abcd", "--verbos"], ExitCodes.Usage, "to 'lamina datasets show'; did you mean '--verbose'?" },
        { ["reproduce", "RUN", "--verbos"], ExitCodes.Usage, "to 'lamina reproduce'; did you mean '--verbose'?" },
        { ["models", "list", "--verbos"], ExitCodes.Usage, "to 'lamina models list'; did you mean '--verbose'?" },
        { ["models", "show", "RUN", "--verbos"], ExitCodes.Usage, "to 'lamina models show'; did you mean '--verbose'?" },
        { ["models", "import", "x.onnx", "--verbos"], ExitCodes.Usage, "to 'lamina models import'; did you mean '--verbose'?" },
        { ["publish", "RUN", "--verbos"], ExitCodes.Usage, "to 'lamina publish'; did you mean '--verbose'?" },
        { ["audit", "log", "--verbos"], ExitCodes.Usage, "to 'lamina audit log'; did you mean '--verbose'?" },
        { ["audit", "verify", "--verbos"], ExitCodes.Usage, "to 'lamina audit verify'; did you mean '--verbose'?" },
        { ["slide", "info", "x.svs", "--verbos"], ExitCodes.Usage, "to 'lamina slide info'; did you mean '--verbose'?" },
        { ["slide", "tiles", "x.svs", "--verbos"], ExitCodes.Usage, "to 'lamina slide tiles'; did you mean '--verbose'?" },
        { ["synth", "--out", "o", "--verbos"], ExitCodes.Usage, "to 'lamina synth'; did you mean '--verbose'?" },
        { ["analyze", "x.svs", "--verbos"], ExitCodes.Usage, "to 'lamina analyze'; did you mean '--verbose'?" },
        { ["resolve", "x.yaml", "--verbos"], ExitCodes.Usage, "to 'lamina resolve'; did you mean '--verbose'?" },
        { ["bundle", "x.yaml", "--verbos"], ExitCodes.Usage, "to 'lamina bundle'; did you mean '--verbose'?" },
        { ["verify", "x", "--verbos"], ExitCodes.Usage, "to 'lamina verify'; did you mean '--verbose'?" },
        { ["trace", "x", "--verbos"], ExitCodes.Usage, "to 'lamina trace'; did you mean '--verbose'?" },
        { ["demo", "--verbos"], ExitCodes.Usage, "to 'lamina demo'; did you mean '--verbose'?" },

        // Options that exist, but not for this command or not together.
        { ["runs", "delete", "RUN", "--json"], ExitCodes.Usage, "option '--json' does not apply to 'lamina runs delete' (its options: --verbose, --yes, -y)" },
        { ["runs", "show", "RUN", "--diff", "--log"], ExitCodes.Usage, "--diff, --log and --json do not go together" },
        { ["runs", "list", "--yes"], ExitCodes.Usage, "option '--yes' does not apply to 'lamina runs list'" },
        { ["run", "check_normalization", "--analysis", "analysis.yaml"], ExitCodes.Usage, "option '--analysis' does not apply to 'lamina run'" },
        { ["validate", "--analysis", "analysis.yaml", "--set", "a=b"], ExitCodes.Usage, "--set does not apply with --analysis" },
        { ["validate", "--analysis", "analysis.yaml", "--file", "lamina.yaml"], ExitCodes.Usage, "--file does not apply with --analysis" },

        // Commands and arguments that do not exist, values of the wrong type.
        { ["runs", "lst"], ExitCodes.Usage, "unknown command 'lamina runs lst'; did you mean 'lamina runs list'?" },
        { ["vaildate"], ExitCodes.Usage, "unknown command 'lamina vaildate'; did you mean 'lamina validate'?" },
        { ["runs", "list", "extra"], ExitCodes.Usage, "unexpected argument 'extra': 'lamina runs list' takes no more arguments" },
        { ["runs", "list", "-n", "abc"], ExitCodes.Usage, "-n: 'abc' is not valid: expected a whole number" },
        { ["runs", "list", "--limit=-1"], ExitCodes.Usage, "--limit must be at least 1, not -1" },
        { ["--sett", "a=b"], ExitCodes.Usage, "unknown option '--sett': name a command first" },
        { ["run", "check_normalization", "-f"], ExitCodes.Usage, "option '--file' needs a value" },
        { ["runs", "compare", "RUN"], ExitCodes.Usage, "compare needs at least two runs" },
        { ["runs", "delete", "RUN"], ExitCodes.Usage, "without confirmation: add --yes" },

        // Markup characters in what the user typed are text, never Spectre markup.
        { ["run", "check_normalization", "--set", "models.m.metrics=[{cls: accuracy"], ExitCodes.Validation, "YAML syntax error" },
        { ["run", "[red]boom[/]"], ExitCodes.NotFound, "no task named '[red]boom[/]'" },
        { ["runs", "show", "[bold]"], ExitCodes.Usage, "'[bold]' is not a run id" },
        { ["slide", "info", "[x].svs"], ExitCodes.NotFound, "slide '[x].svs' does not exist" },
        { ["models", "import", "[model].onnx", "--classes", "a,b"], ExitCodes.NotFound, "[model].onnx' does not exist" },

        // Values out of range.
        { ["slide", "tiles", "SLIDE", "--size", "-5"], ExitCodes.Validation, "the tile size must be between 16 and 4096 pixels, not -5" },
        { ["slide", "tiles", "SLIDE", "--level", "1", "--mpp", "0.5"], ExitCodes.Validation, "give the scale either as a level or as microns per pixel, not both" },
        { ["synth", "--out", "o", "--slides", "0"], ExitCodes.Usage, "--slides: at least 1" },

        // Not found, by kind.
        { ["runs", "show", "ffffffff"], ExitCodes.NotFound, "no run matches 'ffffffff'" },
        { ["models", "show", "ffffffff"], ExitCodes.NotFound, "no run matches 'ffffffff'" },
        { ["publish", "ffffffff"], ExitCodes.NotFound, "no run matches 'ffffffff'" },
        { ["datasets", "show", "ffffffff"], ExitCodes.NotFound, "no data set matches 'ffffffff'" },
        { ["datasets", "show", "xy"], ExitCodes.Usage, "'xy' is not a data set id" },
        { ["verify", "no-such-bundle"], ExitCodes.NotFound, "no bundle folder" },
        { ["trace", "nope"], ExitCodes.Usage, "'nope' is not a run id" },
        { ["audit", "verify", "--expect", "head"], ExitCodes.Usage, "expected SEQ:HASH" },
    };

    private string[] Arguments(string[] args)
    {
        var run = 0;
        return [.. args.Select(a => a switch
        {
            "RUN" => run++ % 2 == 0 ? store.FiniteRun : store.NotFiniteRun,
            "SLIDE" => TestPaths.TestData("CMU-1-Small-Region.svs"),
            _ => a,
        })];
    }

    [Theory]
    [MemberData(nameof(Failures))]
    public async Task Failure_IsOneLineOnStandardError_WithTheExitCodeOfItsKind(string[] args, int exitCode, string expected)
    {
        var result = await store.Lamina.RunAsync(store.Directory, Arguments(args));

        Assert.True(result.ExitCode == exitCode, result.ToString());
        AssertOneCleanLine(result, expected);
        if (!args.Contains("--json")) Assert.Equal("", result.Stdout);
    }

    [Theory]
    [MemberData(nameof(Failures))]
    public async Task Failure_WithJson_IsAnErrorObjectOnStandardOutput(string[] args, int exitCode, string expected)
    {
        // A command that takes no --json gets the usage error of --json itself; every other keeps its error.
        var result = await store.Lamina.RunAsync(store.Directory, [.. Arguments(args), "--json"]);

        Assert.NotEqual(0, result.ExitCode);
        var error = JsonDocument.Parse(result.Stdout).RootElement;
        Assert.Equal(["error"], error.EnumerateObject().Select(p => p.Name));
        var code = error.GetProperty("error").GetProperty("code").GetString();
        Assert.Equal(Code(result.ExitCode), code);
        Assert.False(string.IsNullOrWhiteSpace(error.GetProperty("error").GetProperty("message").GetString()));
        Assert.True(error.GetProperty("error").TryGetProperty("at", out _));
        var message = error.GetProperty("error").GetProperty("message").GetString()!;
        if (!message.StartsWith("option '--json' does not apply", StringComparison.Ordinal) || expected.Contains("'--json'", StringComparison.Ordinal))
        {
            Assert.True(result.ExitCode == exitCode, result.ToString());
            Assert.Contains(expected, message);
        }
        Assert.DoesNotContain("   at ", result.Stderr);
    }

    [Fact]
    public async Task RunNotFound_WithJson_NamesTheRunInAt()
    {
        var result = await store.Lamina.RunAsync(store.Directory, "runs", "show", "ffffffff", "--json");

        Assert.Equal(ExitCodes.NotFound, result.ExitCode);
        var error = JsonDocument.Parse(result.Stdout).RootElement.GetProperty("error");
        Assert.Equal("not_found", error.GetProperty("code").GetString());
        Assert.Equal("ffffffff", error.GetProperty("at").GetString());
    }

    [Fact]
    public async Task InvalidSet_WithJson_CarriesEveryDiagnostic()
    {
        var result = await store.Lamina.RunAsync(store.Directory, "run", "check_normalization", "--set", "models.m.metrics=[{cls: accuracy", "--json");

        Assert.Equal(ExitCodes.Validation, result.ExitCode);
        var error = JsonDocument.Parse(result.Stdout).RootElement.GetProperty("error");
        Assert.Equal("validation", error.GetProperty("code").GetString());
        Assert.Contains("YAML syntax error", Assert.Single(error.GetProperty("diagnostics").EnumerateArray()).GetProperty("message").GetString());
    }

    [Fact]
    public async Task UnknownOption_IsRefusedBeforeAnythingRuns()
    {
        // Issue 12: `run TASK --sett key=value` exited 0 having run with the default.
        var before = JsonDocument.Parse((await store.Lamina.RunAsync(store.Directory, "runs", "list", "--json")).Stdout).RootElement.GetArrayLength();

        var result = await store.Lamina.RunAsync(store.Directory, "run", "check_normalization", "--sett", "models.my_class_model.preprocessing.params.factor=128");

        Assert.Equal(ExitCodes.Usage, result.ExitCode);
        var after = JsonDocument.Parse((await store.Lamina.RunAsync(store.Directory, "runs", "list", "--json")).Stdout).RootElement.GetArrayLength();
        Assert.Equal(before, after);
    }

    [Fact]
    public async Task NotFiniteMetrics_ShowAsNaNAndInfinity_InTheTable()
    {
        var result = await store.Lamina.RunAsync(store.Directory, "runs", "show", store.NotFiniteRun);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Matches(@"loss\s+│\s+2\s+│\s+NaN \(1\)", result.Stdout);
        Assert.Matches(@"gradient\s+│\s+1\s+│\s+Infinity \(0\)", result.Stdout);
        Assert.Matches(@"margin\s+│\s+1\s+│\s+-Infinity \(0\)", result.Stdout);
    }

    [Fact]
    public async Task NotFiniteMetrics_WithJson_AreStrings()
    {
        var result = await store.Lamina.RunAsync(store.Directory, "runs", "show", store.NotFiniteRun, "--json");

        Assert.True(result.ExitCode == 0, result.ToString());
        var metrics = JsonDocument.Parse(result.Stdout).RootElement.GetProperty("metrics").EnumerateArray()
            .ToDictionary(m => m.GetProperty("name").GetString()!);
        Assert.Equal("NaN", metrics["loss"].GetProperty("last").GetString());
        Assert.Equal(0.5, metrics["loss"].GetProperty("max").GetDouble());
        Assert.Equal("Infinity", metrics["gradient"].GetProperty("last").GetString());
        Assert.Equal("-Infinity", metrics["margin"].GetProperty("last").GetString());
    }

    [Fact]
    public async Task NotFiniteMetrics_ListAndCompare_WithAndWithoutJson()
    {
        var list = await store.Lamina.RunAsync(store.Directory, "runs", "list");
        var listJson = await store.Lamina.RunAsync(store.Directory, "runs", "list", "--json");
        var compare = await store.Lamina.RunAsync(store.Directory, "runs", "compare", store.NotFiniteRun, store.FiniteRun);
        var compareJson = await store.Lamina.RunAsync(store.Directory, "runs", "compare", store.NotFiniteRun[..8], store.FiniteRun[..8], "--json");

        Assert.True(list.ExitCode == 0, list.ToString());
        Assert.Contains("not_finite", list.Stdout);
        Assert.True(listJson.ExitCode == 0, listJson.ToString());
        Assert.Contains(JsonDocument.Parse(listJson.Stdout).RootElement.EnumerateArray(), r => r.GetProperty("task_name").GetString() == "not_finite");
        Assert.True(compare.ExitCode == 0, compare.ToString());
        Assert.Matches(@"loss\s+│\s+NaN", compare.Stdout);
        Assert.Matches(@"margin\s+│\s+-Infinity", compare.Stdout);
        Assert.True(compareJson.ExitCode == 0, compareJson.ToString());
        var final = JsonDocument.Parse(compareJson.Stdout).RootElement.GetProperty("final_metrics").EnumerateArray()
            .ToDictionary(m => m.GetProperty("key").GetString()!, m => m.GetProperty("values")[0].GetString());
        Assert.Equal("NaN", final["loss"]);
        Assert.Equal("Infinity", final["gradient"]);
    }

    private static string Code(int exitCode) => exitCode switch
    {
        ExitCodes.Usage => "usage",
        ExitCodes.Validation => "validation",
        ExitCodes.NotFound => "not_found",
        ExitCodes.Conflict => "conflict",
        ExitCodes.Integrity => "integrity",
        ExitCodes.Unavailable => "unavailable",
        ExitCodes.Internal => "internal",
        _ => "failed",
    };

    private static void AssertOneCleanLine(LaminaResult result, string expected)
    {
        Assert.DoesNotContain("unexpected error", result.Stderr);
        Assert.DoesNotContain("Unhandled exception", result.Stderr);
        Assert.DoesNotContain("   at ", result.Stderr);
        Assert.DoesNotContain("internal error", result.Stderr);
        Assert.Contains(expected, result.Stderr);
        if (result.ExitCode != ExitCodes.Validation)
        {
            var line = Assert.Single(result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.StartsWith("error: ", line);
        }
    }
}
