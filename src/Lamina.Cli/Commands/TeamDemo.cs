using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Lamina.Lab.Demo;
using Lamina.Servers;
using Lamina.Tracking;

namespace Lamina.Cli.Commands;

/// <summary>What <c>lamina demo --team</c> is asked for.</summary>
/// <param name="Out">The folder everything goes into (servers, experiment, customer, image, logs).</param>
/// <param name="SlideSize">Side of the synthetic slides, in pixels.</param>
/// <param name="Base">A prebuilt lamina-serve base image (a registry reference or <c>oci:DIR:TAG</c>); null: build it.</param>
/// <param name="KeepServers">Leave the servers running at the end (and print how to use them).</param>
internal sealed record TeamDemoOptions(string Out, int SlideSize, string? Base, bool KeepServers);

/// <summary>What the team demo did: the runs, the published models, the release, the analysis served from the image.</summary>
internal sealed record TeamDemoResult(string Folder, IReadOnlyList<string> Steps)
{
    public Dictionary<string, string> Runs { get; } = [];

    public string? Image { get; set; }

    public string? ResultFolder { get; set; }

    public IReadOnlyDictionary<string, string> Environment { get; set; } = new Dictionary<string, string>();
}

/// <summary>
/// The seed's whole story on real local servers: PostgreSQL (tracking), S3 (artifacts and production buckets), RabbitMQ
/// and a registry started in <c>OUT/servers</c>; then, as child <c>lamina</c> processes with the team's variables,
/// the commands a team runs: migrate the store, a worker, two remote training runs of the sample experiment, publish,
/// a customer repository released to the registry (signed), the image pulled, unpacked and serving an analysis
/// request from a chroot, and the trace from the image tag back to the commits. One narrated line per step.
/// </summary>
internal sealed class TeamDemo(TeamDemoOptions options, Action<string> report)
{
    public const string Queue = "demo";
    public const string Customer = "hospital-a";
    public const string ReleaseVersion = "1.0.0";

    private readonly List<string> _steps = [];
    private readonly Dictionary<string, string> _environment = [];
    private readonly List<IAsyncDisposable> _servers = [];
    private string _root = "";
    private int _commands;

    /// <summary>Runs every step; the servers stop at the end, however it ends, unless kept.</summary>
    /// <exception cref="TeamDemoException">A step failed (named), or the output folder is not empty.</exception>
    public async Task<TeamDemoResult> RunAsync(CancellationToken cancellationToken)
    {
        _root = Path.GetFullPath(options.Out);
        if (Directory.Exists(_root) && Directory.EnumerateFileSystemEntries(_root).Any()) throw TeamDemoException.OutputNotEmpty(_root);
        Directory.CreateDirectory(Path.Combine(_root, "logs"));
        var result = new TeamDemoResult(_root, _steps);
        Process? worker = null;
        ChrootedService? service = null;
        try
        {
            await StepAsync("servers", () => StartServersAsync(cancellationToken));
            result.Environment = _environment;

            await StepAsync("store migrate", async () =>
            {
                await LaminaAsync(_root, ["store", "migrate", "--tracking", _environment["LAMINA_TRACKING"]], cancellationToken);
                return "lamina store migrate: the PostgreSQL schema is up to date";
            });

            worker = await StepAsync("worker", () => StartWorkerAsync(cancellationToken),
                w => $"lamina worker --queue {Queue} --name demo-worker: running (pid {w.Id.ToString(CultureInfo.InvariantCulture)}), its output in logs/worker.log");

            var experiment = Path.Combine(_root, DemoRunner.Sample);
            await StepAsync("experiment", () => WriteExperimentAsync(experiment, cancellationToken));

            var runs = new List<string>();
            foreach (var task in DemoRunner.TrainingTasks)
            {
                var run = await StepAsync($"train {task}", async () =>
                {
                    var output = await LaminaAsync(experiment, ["run", task, "--remote", Queue, "--follow", "--json"], cancellationToken);
                    using var json = JsonDocument.Parse(output);
                    var id = json.RootElement.GetProperty("run_id").GetString()!;
                    var status = json.RootElement.GetProperty("status").GetString();
                    if (status != "completed") throw new InvalidOperationException($"run {id} ended {status}: {json.RootElement.GetProperty("error")}");
                    return id;
                }, id => $"lamina run {task} --remote {Queue} --follow: run {id[..8]} trained by the worker, completed");
                runs.Add(run);
                result.Runs[task] = run;
            }

            await StepAsync("publish", async () =>
            {
                foreach (var run in runs)
                {
                    await LaminaAsync(experiment, ["publish", run, "--reason", "lamina demo --team"], cancellationToken);
                }
                return $"lamina publish {string.Join(", ", runs.Select(r => r[..8]))}: both models copied to the S3 production store (s3://production/models)";
            });

            var customer = Path.Combine(_root, "customers", Customer);
            await StepAsync("customer repository", () => WriteCustomerAsync(customer, experiment, runs[0], runs[1], cancellationToken));

            var keys = Path.Combine(_root, "keys");
            await StepAsync("keys", async () =>
            {
                await LaminaAsync(_root, ["keys", "generate", "--out", keys, "--name", "release"], cancellationToken);
                return "lamina keys generate --out keys --name release: keys/release.key and keys/release.pub (ECDSA P-256, cosign's format)";
            });

            var baseImage = await StepAsync("base image", () => BaseImageAsync(cancellationToken), b => $"lamina-serve base image: {b}");

            var image = $"{Registry.Address}/customers/{Customer}:{ReleaseVersion}";
            await StepAsync("release", async () =>
            {
                var output = await LaminaAsync(customer, ["release", customer, "--version", ReleaseVersion, "--push", "--key", Path.Combine(keys, "release.key"),
                    "--base", baseImage, "--work-dir", Path.Combine(_root, "release"), "--json"], cancellationToken);
                return $"lamina release customers/{Customer} --push --key keys/release.key: {image} built, signed and pushed ({Digest(output)})";
            });
            result.Image = image;

            await StepAsync("verify-image", async () =>
            {
                await LaminaAsync(_root, ["verify-image", image, "--key", Path.Combine(keys, "release.pub")], cancellationToken);
                return $"lamina verify-image {image} --key keys/release.pub: signature, manifest, every layer and the signed provenance check out";
            });

            var unpacked = Path.Combine(_root, "image", "unpacked");
            await StepAsync("pull and unpack", async () =>
            {
                var layout = Path.Combine(_root, "image", "layout");
                Directory.CreateDirectory(Path.GetDirectoryName(layout)!);
                await ToolAsync("skopeo", ["copy", "--src-tls-verify=false", $"docker://{image}", $"oci:{layout}:{ReleaseVersion}"], _root, cancellationToken);
                await ToolAsync("umoci", ["unpack", "--image", $"{layout}:{ReleaseVersion}", unpacked], _root, cancellationToken);
                return $"skopeo copy docker://{image} oci:image/layout:{ReleaseVersion}; umoci unpack: the image's root filesystem in image/unpacked/rootfs";
            });

            service = await StepAsync("serve", () => StartServiceAsync(unpacked, cancellationToken),
                s => $"lamina-serve started from the image's own entry point in a chroot of image/unpacked/rootfs (pid {s.ProcessId.ToString(CultureInfo.InvariantCulture)}), ready");

            result.ResultFolder = await StepAsync("submit", async () =>
            {
                var heldOut = Path.Combine(_root, "held-out");
                await LaminaAsync(_root, ["synth", "--out", heldOut, "--slides", "1", "--size", $"{options.SlideSize}x{options.SlideSize}", "--seed", "101"], cancellationToken);
                var slide = Directory.GetFiles(heldOut, "*.tif").Single();
                var results = Path.Combine(_root, "results", "held-out");
                // lamina submit names the slide and the results folder by the paths the service sees: the slide is put at
                // the same path inside the image's root filesystem, and the results come back out of it.
                var rootfs = Path.Combine(unpacked, "rootfs");
                var slideInImage = Path.Combine(rootfs, slide.TrimStart('/'));
                Directory.CreateDirectory(Path.GetDirectoryName(slideInImage)!);
                File.Copy(slide, slideInImage);
                Directory.CreateDirectory(Path.Combine(rootfs, Path.GetDirectoryName(results)!.TrimStart('/')));
                var output = await LaminaAsync(_root, ["submit", slide, "--analysis", "breast", "--out", results, "--wait", "--timeout", "900"], cancellationToken);
                await File.WriteAllTextAsync(Path.Combine(_root, "submit.txt"), output, cancellationToken);
                CopyFolder(Path.Combine(rootfs, results.TrimStart('/')), results);
                return results;
            }, folder => $"lamina submit held-out/{Path.GetFileName(Directory.GetFiles(Path.Combine(_root, "held-out"), "*.tif").Single())} --analysis breast --wait: analysed by the image's lamina-serve in its chroot, results copied out to {Path.GetRelativePath(_root, folder)}/");

            await StepAsync("trace", async () =>
            {
                var output = await LaminaAsync(_root, ["trace", image], cancellationToken);
                await File.WriteAllTextAsync(Path.Combine(_root, "trace.txt"), output, cancellationToken);
                // The customer's analysis uses what it needs of the published models: the trace names those runs.
                var traced = runs.Where(r => output.Contains(r, StringComparison.Ordinal)).Select(r => r[..8]).ToList();
                var commits = Regex.Matches(output, @"git commit ([0-9a-f]{40})").Select(m => m.Groups[1].Value[..12]).Distinct().ToList();
                if (traced.Count == 0 || commits.Count == 0) throw new InvalidOperationException($"the trace of {image} does not reach the training runs and their commits (trace.txt)");
                return $"lamina trace {image}: image → bundle → models → training run(s) {string.Join(", ", traced)} → commit(s) {string.Join(", ", commits)}, every digest checked (trace.txt)";
            });
            return result;
        }
        finally
        {
            if (service is not null) await service.DisposeAsync();
            if (worker is not null) StopWorker(worker);
            if (!options.KeepServers)
            {
                for (var i = _servers.Count - 1; i >= 0; i--) await _servers[i].DisposeAsync();
                if (_servers.Count > 0) report("stopped the servers; their data stays in servers/");
            }
            else if (_servers.Count > 0)
            {
                report("the servers are still running (--keep-servers); stop them by their pids in servers/*/ (postgres: pg_ctl -D servers/postgres/data stop). To use them:");
                foreach (var line in ExportLines(_environment).Split('\n', StringSplitOptions.RemoveEmptyEntries)) report(line);
            }
        }
    }

    private LocalRegistry Registry => _servers.OfType<LocalRegistry>().Single();

    private async Task<T> StepAsync<T>(string step, Func<Task<T>> body, Func<T, string>? narrate = null)
    {
        T value;
        try
        {
            value = await body();
        }
        catch (Exception e) when (e is not OperationCanceledException and not TeamDemoException)
        {
            throw TeamDemoException.StepFailed(step, _root, e.Message, e);
        }
        catch (TeamDemoException e) when (e.At != step)
        {
            throw TeamDemoException.StepFailed(step, _root, e.Message, e);
        }
        var line = narrate is null ? value?.ToString() ?? step : narrate(value);
        _steps.Add(line);
        report(line);
        return value;
    }

    private async Task<string> StartServersAsync(CancellationToken cancellationToken)
    {
        var folder = Path.Combine(_root, "servers");
        var lifetime = new LocalServerOptions(StopWithOwner: !options.KeepServers);
        var postgres = LocalPostgres.StartAsync(Path.Combine(folder, "postgres"), "lamina", lifetime, cancellationToken);
        var s3 = LocalS3.StartAsync(Path.Combine(folder, "s3"), ["artifacts", "production"], lifetime, cancellationToken);
        var rabbit = LocalRabbitMq.StartAsync(Path.Combine(folder, "rabbitmq"), null, lifetime, cancellationToken);
        var registry = LocalRegistry.StartAsync(Path.Combine(folder, "registry"), null, lifetime, cancellationToken);
        try
        {
            await Task.WhenAll(postgres, s3, rabbit, registry);
        }
        finally
        {
            // Whatever started is stopped at the end, also when another failed.
            foreach (var started in new Task[] { postgres, s3, rabbit, registry }.Where(t => t.IsCompletedSuccessfully))
            {
                _servers.Add(started switch
                {
                    Task<LocalPostgres> p => p.Result,
                    Task<LocalS3> s => s.Result,
                    Task<LocalRabbitMq> r => r.Result,
                    Task<LocalRegistry> g => g.Result,
                    _ => throw new InvalidOperationException("unknown server"),
                });
            }
        }
        var tracking = await postgres.Result.CreateDatabaseAsync("lamina", cancellationToken);
        _environment["LAMINA_TRACKING"] = tracking;
        _environment["LAMINA_ARTIFACTS"] = "s3://artifacts/lamina";
        _environment["LAMINA_PRODUCTION"] = "s3://production/models";
        _environment["LAMINA_BROKER"] = rabbit.Result.Uri.ToString();
        foreach (var (name, value) in s3.Result.EnvironmentVariables) _environment[name] = value;
        _environment["LAMINA_INSECURE_REGISTRIES"] = registry.Result.Address;
        return $"started PostgreSQL on 127.0.0.1:{postgres.Result.Port}, S3 (s3rver; buckets artifacts, production) on {s3.Result.Endpoint}, " +
            $"RabbitMQ on 127.0.0.1:{rabbit.Result.Port}, a registry (docker-registry) on {registry.Result.Address}, in servers/";
    }

    private async Task<Process> StartWorkerAsync(CancellationToken cancellationToken)
    {
        var log = Path.Combine(_root, "logs", "worker.log");
        var start = Lamina(_root, ["worker", "--queue", Queue, "--name", "demo-worker", "--work", Path.Combine(_root, "worker")]);
        // Its output goes to a file nobody has to drain: through sh's exec, the process started is the worker itself.
        var command = string.Join(' ', new[] { start.FileName }.Concat(start.ArgumentList).Select(Quote));
        start.FileName = "/bin/sh";
        start.ArgumentList.Clear();
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add($"exec {command} >>{Quote(log)} 2>&1 </dev/null");
        start.RedirectStandardOutput = start.RedirectStandardError = false;
        var worker = Process.Start(start)!;
        OwnerWatchdog.Start($"kill -9 {worker.Id.ToString(CultureInfo.InvariantCulture)} 2>/dev/null");
        // A worker that cannot start (a store it cannot reach) says so at once.
        try
        {
            await Task.Delay(500, cancellationToken);
        }
        catch (OperationCanceledException)
        {
            StopWorker(worker);
            throw;
        }
        if (worker.HasExited) throw new InvalidOperationException($"lamina worker exited at once (exit code {worker.ExitCode}): {Tail(log)}");
        return worker;
    }

    private static void StopWorker(Process worker)
    {
        try
        {
            if (!worker.HasExited)
            {
                // SIGTERM: the worker stops taking runs and leaves; killed if it does not within 20 s.
                using (var term = Process.Start(new ProcessStartInfo("kill") { ArgumentList = { "-TERM", worker.Id.ToString(CultureInfo.InvariantCulture) }, UseShellExecute = false }))
                {
                    term?.WaitForExit();
                }
                if (!worker.WaitForExit(20_000)) worker.Kill(entireProcessTree: true);
            }
        }
        catch (InvalidOperationException)
        {
        }
        worker.Dispose();
    }

    private async Task<string> WriteExperimentAsync(string experiment, CancellationToken cancellationToken)
    {
        var files = SampleExperiments.WriteTo(DemoRunner.Sample, experiment);
        var origin = Path.Combine(_root, "origin.git");
        await GitAsync(experiment, ["init", "-q", "-b", "main"], cancellationToken);
        await GitAsync(experiment, ["add", "-A"], cancellationToken);
        await GitAsync(experiment, ["commit", "-q", "-m", "Sample experiment from lamina demo --team"], cancellationToken);
        await GitAsync(_root, ["init", "-q", "--bare", origin], cancellationToken);
        await GitAsync(experiment, ["remote", "add", "origin", origin], cancellationToken);
        await GitAsync(experiment, ["push", "-q", "origin", "HEAD:main"], cancellationToken);
        await GitAsync(experiment, ["fetch", "-q", "origin"], cancellationToken);
        // The slides go in slides/, which the experiment's .gitignore keeps out of the commit.
        var size = $"{options.SlideSize}x{options.SlideSize}";
        await LaminaAsync(experiment, ["synth", "--out", "slides", "--slides", "4", "--size", size, "--seed", "1"], cancellationToken);
        return $"wrote the sample experiment ({files.Count} files) to {DemoRunner.Sample}/, committed and pushed to origin.git; lamina synth --out slides --slides 4 --size {size}";
    }

    private async Task<string> WriteCustomerAsync(string customer, string experiment, string carcinomaRun, string mitosisRun, CancellationToken cancellationToken)
    {
        var sample = SourceRepository.Find() is { } repository ? Path.Combine(repository, "samples", "customers", Customer) : null;
        if (sample is null || !File.Exists(Path.Combine(sample, "customer.yaml")))
        {
            throw new InvalidOperationException($"the sample customer repository samples/customers/{Customer} is not found above {AppContext.BaseDirectory} (run the demo from a build of Lamina's repository)");
        }
        CopyFolder(sample, customer);
        var analysisFile = Path.Combine(customer, "analysis.yaml");
        var analysis = await File.ReadAllTextAsync(analysisFile, cancellationToken);
        analysis = analysis.Replace("RUN_ID_CARCINOMA", carcinomaRun, StringComparison.Ordinal).Replace("RUN_ID_MITOSIS", mitosisRun, StringComparison.Ordinal);
        if (Regex.Match(analysis, @"RUN_ID_[A-Z_]+") is { Success: true } left)
        {
            throw new InvalidOperationException($"{analysisFile}: the placeholder {left.Value} is not one the demo fills in (RUN_ID_CARCINOMA, RUN_ID_MITOSIS)");
        }
        // The models' preprocessing names the experiment's plug-ins: their sources travel in the customer repository.
        if (!analysis.Contains("sources_path", StringComparison.Ordinal))
        {
            var plugins = Path.Combine(customer, "plugins");
            Directory.CreateDirectory(plugins);
            foreach (var source in Directory.GetFiles(experiment, "*.cs")) File.Copy(source, Path.Combine(plugins, Path.GetFileName(source)));
            analysis = Regex.Replace(analysis, @"^version: 1\s*$", "version: 1\nsources_path:\n  - plugins/   # the sample experiment's plug-ins, which the models' preprocessing names", RegexOptions.Multiline);
        }
        await File.WriteAllTextAsync(analysisFile, analysis, cancellationToken);
        var customerFile = Path.Combine(customer, "customer.yaml");
        var image = $"{Registry.Address}/customers/{Customer}";
        var text = Regex.Replace(await File.ReadAllTextAsync(customerFile, cancellationToken), @"^image:.*$", $"image: {image}", RegexOptions.Multiline);
        await File.WriteAllTextAsync(customerFile, text, cancellationToken);
        await GitAsync(customer, ["init", "-q", "-b", "release"], cancellationToken);
        await GitAsync(customer, ["add", "-A"], cancellationToken);
        await GitAsync(customer, ["commit", "-q", "-m", $"{Customer}: the demo's published runs {carcinomaRun[..8]} and {mitosisRun[..8]}"], cancellationToken);
        return $"customers/{Customer}: samples/customers/{Customer} with its run ids filled in and image {image}, committed on branch release";
    }

    private async Task<string> BaseImageAsync(CancellationToken cancellationToken)
    {
        if (options.Base is { } given) return given;
        var repository = SourceRepository.Find()
            ?? throw new InvalidOperationException($"no Lamina repository above {AppContext.BaseDirectory} to publish lamina-serve from: give a prebuilt base with --base REF");
        var version = typeof(TeamDemo).Assembly.GetName().Version is { } v ? $"{v.Major}.{v.Minor}.{v.Build}" : "0.1.0";
        var serve = Path.Combine(LaminaHome.Resolve().Root, "cache", "demo", "lamina-serve");
        await ToolAsync("dotnet", ["publish", Path.Combine(repository, "src", "Lamina.Serve"), "-c", "Release", "-r", "linux-x64", "--self-contained",
            "-p:ContinuousIntegrationBuild=true", "-o", serve, "-nologo", "-v", "quiet"], repository, cancellationToken);
        var tag = $"{Registry.Address}/lamina-serve:{version}";
        await LaminaAsync(_root, ["image", "base", "--serve", serve, "--tag", tag, "--push"], cancellationToken);
        return tag;
    }

    private async Task<ChrootedService> StartServiceAsync(string unpacked, CancellationToken cancellationToken)
    {
        using var config = JsonDocument.Parse(await File.ReadAllBytesAsync(Path.Combine(unpacked, "config.json"), cancellationToken));
        var process = config.RootElement.GetProperty("process");
        var port = LocalPorts.Free();
        var arguments = process.GetProperty("args").EnumerateArray().Select(a => a.GetString()!)
            .Concat(["--broker", _environment["LAMINA_BROKER"], "--http", $"http://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}"]).ToList();
        var environment = process.GetProperty("env").EnumerateArray().Select(e => e.GetString()!).ToList();
        var service = await ChrootedService.StartAsync(Path.Combine(unpacked, "rootfs"), arguments, environment,
            new LocalServerOptions(StopWithOwner: true), cancellationToken);
        try
        {
            await service.WaitReadyAsync(new Uri($"http://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}/health/ready"), TimeSpan.FromMinutes(3), cancellationToken);
        }
        catch
        {
            await File.WriteAllTextAsync(Path.Combine(_root, "logs", "lamina-serve.log"), service.Log, CancellationToken.None);
            await service.DisposeAsync();
            throw;
        }
        return service;
    }

    /// <summary>The current lamina, as the child process of a command: <c>dotnet lamina.dll</c> or the published executable.</summary>
    private ProcessStartInfo Lamina(string workingDirectory, IReadOnlyList<string> arguments)
    {
        var host = Environment.ProcessPath ?? "dotnet";
        var start = new ProcessStartInfo(host) { WorkingDirectory = workingDirectory, UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        if (Path.GetFileNameWithoutExtension(host) == "dotnet") start.ArgumentList.Add(typeof(TeamDemo).Assembly.Location);
        foreach (var a in arguments) start.ArgumentList.Add(a);
        // The team's stores and nothing of this shell's: no other database, bucket or broker may be reached.
        foreach (var name in start.Environment.Keys.Where(IsStoreSetting).ToList()) start.Environment.Remove(name);
        foreach (var (name, value) in _environment) start.Environment[name] = value;
        start.Environment["NO_COLOR"] = "1";
        return start;
    }

    private static bool IsStoreSetting(string name) =>
        name is "LAMINA_TRACKING" or "LAMINA_ARTIFACTS" or "LAMINA_PRODUCTION" or "LAMINA_BROKER" or "LAMINA_S3_ENDPOINT" or "LAMINA_INSECURE_REGISTRIES"
        || name.StartsWith("LAMINA_SERVE_", StringComparison.Ordinal) || name.StartsWith("LAMINA_PRODUCTION_", StringComparison.Ordinal)
        || name.StartsWith("AWS_", StringComparison.Ordinal) || name.StartsWith("PG", StringComparison.Ordinal);

    private Task<string> LaminaAsync(string workingDirectory, IReadOnlyList<string> arguments, CancellationToken cancellationToken) =>
        RunAsync(Lamina(workingDirectory, arguments), $"lamina {string.Join(' ', arguments.Select(Mask))}", cancellationToken);

    private Task<string> ToolAsync(string program, IReadOnlyList<string> arguments, string workingDirectory, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo(program) { WorkingDirectory = workingDirectory, UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in arguments) start.ArgumentList.Add(a);
        return RunAsync(start, $"{program} {string.Join(' ', arguments)}", cancellationToken);
    }

    private static async Task GitAsync(string directory, IReadOnlyList<string> arguments, CancellationToken cancellationToken) =>
        await GitCommand.RunAsync(directory, ["-c", "user.name=Lamina demo", "-c", "user.email=demo@lamina.invalid", .. arguments], cancellationToken);

    /// <summary>Runs a child to its end, its output in <c>logs/NN-….log</c>; a non-zero exit fails with the command and its last lines.</summary>
    private async Task<string> RunAsync(ProcessStartInfo start, string display, CancellationToken cancellationToken)
    {
        var number = Interlocked.Increment(ref _commands);
        var name = Regex.Replace(display.Split(' ').Take(3).Aggregate((a, b) => $"{a}-{b}"), "[^A-Za-z0-9.-]+", "_");
        var log = Path.Combine(_root, "logs", $"{number.ToString("00", CultureInfo.InvariantCulture)}-{name[..Math.Min(name.Length, 40)]}.log");
        Process process;
        try
        {
            process = Process.Start(start)!;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException($"cannot run {start.FileName}: {e.Message} (is it installed? scripts/ensure-native.sh installs the native tools)", e);
        }
        using (process)
        {
            var output = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
            var error = process.StandardError.ReadToEndAsync(CancellationToken.None);
            try
            {
                await process.WaitForExitAsync(cancellationToken);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                throw;
            }
            var (stdout, stderr) = (await output, await error);
            await File.WriteAllTextAsync(log, $"$ {display}\n--- exit {process.ExitCode}\n--- stdout\n{stdout}\n--- stderr\n{stderr}", CancellationToken.None);
            if (process.ExitCode != 0)
            {
                var said = string.Join(" | ", (stderr.Trim().Length > 0 ? stderr : stdout).Split('\n', StringSplitOptions.RemoveEmptyEntries).TakeLast(3).Select(l => l.Trim()));
                throw new InvalidOperationException($"{display} exited with code {process.ExitCode}: {said} (logs/{Path.GetFileName(log)})");
            }
            return stdout;
        }
    }

    private string Mask(string argument) =>
        _environment.TryGetValue("LAMINA_TRACKING", out var tracking) && argument == tracking ? Regex.Replace(argument, "(?<=://[^:/@]+:)[^@]+(?=@)", "***") : argument;

    private static string Digest(string json)
    {
        try
        {
            using var document = JsonDocument.Parse(json);
            return FindDigest(document.RootElement) ?? "digest not printed";
        }
        catch (JsonException)
        {
            return Regex.Match(json, "sha256:[0-9a-f]{64}") is { Success: true } m ? m.Value : "digest not printed";
        }
    }

    private static string? FindDigest(JsonElement element) => element.ValueKind switch
    {
        JsonValueKind.Object => element.TryGetProperty("image_digest", out var d) || element.TryGetProperty("digest", out d) ? d.GetString()
            : element.EnumerateObject().Select(p => FindDigest(p.Value)).FirstOrDefault(x => x is not null),
        JsonValueKind.Array => element.EnumerateArray().Select(FindDigest).FirstOrDefault(x => x is not null),
        _ => null,
    };

    private static void CopyFolder(string from, string to)
    {
        foreach (var file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(to, Path.GetRelativePath(from, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
    }

    private static string Tail(string file) => File.Exists(file) ? string.Join(" | ", File.ReadLines(file).TakeLast(5)) : "";

    private static string Quote(string value) => "'" + value.Replace("'", "'\\''", StringComparison.Ordinal) + "'";

    /// <summary>The variables that point a shell at the servers, for <c>--keep-servers</c>.</summary>
    public static string ExportLines(IReadOnlyDictionary<string, string> environment)
    {
        var text = new StringBuilder();
        foreach (var (name, value) in environment.OrderBy(e => e.Key, StringComparer.Ordinal)) text.Append(CultureInfo.InvariantCulture, $"export {name}={Quote(value)}\n");
        return text.ToString();
    }
}
