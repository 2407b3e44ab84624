using Lamina.Cli.Commands;
using Lamina.Cli.Rendering;
using Lamina.Core;
using System.Runtime.InteropServices;
using Lamina.Core.Config;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Lamina.Cli;

/// <summary>Wires the <c>lamina</c> commands and turns errors into one clear line and an exit code.</summary>
public static class LaminaApp
{
    // Kept for callers written before ExitCodes.
    public const int Failure = ExitCodes.Failed;
    public const int Usage = ExitCodes.Usage;
    public const int Interrupted = ExitCodes.Interrupted;

    /// <summary>Every command and its options, for the "did you mean" of an unknown option.</summary>
    internal static readonly CommandIndex Commands = new();

    public static async Task<int> RunAsync(string[] args)
    {
        StandardStreams.EnsureOpen();
        using var cancellation = new CancellationTokenSource();
        // A second signal ends the process at once; exiting (not dying by the signal) lets a run still executing record
        // itself aborted on the way out.
        static void Insist(int signal) => Environment.Exit(128 + signal);
        void Stop(string reason, int signal)
        {
            CliContext.AbortReason = reason;
            CliContext.AbortExitCode = 128 + signal;
            cancellation.Cancel();
        }
        Console.CancelKeyPress += (_, e) =>
        {
            // The first Ctrl+C (or Ctrl+\) stops the work cleanly (a run is marked aborted); a second one ends the process.
            e.Cancel = true;
            var signal = e.SpecialKey == ConsoleSpecialKey.ControlBreak ? 3 : 2;
            if (cancellation.IsCancellationRequested) Insist(signal);
            else if (signal == 3) Stop("aborted by the user (SIGQUIT, Ctrl+\\)", 3);
            else Stop("aborted by the user (SIGINT, Ctrl+C)", 2);
        };

        // A service manager's stop and a closed terminal end the work as Ctrl+C does, the signal named in the run; a
        // second one of either ends the process.
        using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
        {
            context.Cancel = true;
            if (cancellation.IsCancellationRequested) Insist(15);
            else Stop("aborted: the process received SIGTERM", 15);
        });
        using var hangUp = PosixSignalRegistration.Create(PosixSignal.SIGHUP, context =>
        {
            context.Cancel = true;
            if (cancellation.IsCancellationRequested) Insist(1);
            else Stop("aborted: the process received SIGHUP (its terminal was closed)", 1);
        });
        CliContext.Cancellation = cancellation.Token;
        if (Console.IsOutputRedirected)
        {
            // Into a file or a pipe: plain text, and no line wrapping that would break messages apart.
            AnsiConsole.Profile.Capabilities.Ansi = false;
            AnsiConsole.Profile.Width = 240;
        }

        var app = new CommandApp();
        app.Configure(config =>
        {
            config.SetApplicationName("lamina");
            config.PropagateExceptions();
            config.UseStrictParsing();
            Commands.Add<ValidateCommand>(config, "validate")
                .WithDescription("Check an experiment file and compile its plug-ins; report every problem at once.");
            Commands.Add<RunCommand>(config, "run")
                .WithDescription("Run a task of the experiment file and track it.")
                .WithExample("run", "check_normalization", "--set", "models.my_class_model.preprocessing.params.factor=128")
                .WithExample("run", "simple_train", "--remote", "gpu", "--follow");
            config.AddBranch("runs", runs =>
            {
                runs.SetDescription("Inspect tracked runs.");
                Commands.Add<RunsListCommand>(runs, "runs", "list").WithDescription("List runs, newest first.");
                Commands.Add<RunsShowCommand>(runs, "runs", "show").WithDescription("Show everything recorded about a run.");
                Commands.Add<RunsCompareCommand>(runs, "runs", "compare").WithDescription("Compare runs: differing parameters and final metrics.");
                Commands.Add<RunsDeleteCommand>(runs, "runs", "delete").WithDescription("Delete a run.");
                Commands.Add<RunsFollowCommand>(runs, "runs", "follow").WithDescription("Show a run's console and metrics as they come, until it ends.");
                Commands.Add<RunsAbortCommand>(runs, "runs", "abort").WithDescription("Abort a run: a queued one never starts, a running one stops within seconds.");
                Commands.Add<RunsRequeueCommand>(runs, "runs", "requeue").WithDescription("Queue a failed or aborted run again for a worker: a new attempt of the same run.");
            });
            Commands.Add<WorkerCommand>(config, "worker")
                .WithDescription("Take runs from queues (LAMINA_BROKER) and execute them, reporting into the tracking store.")
                .WithExample("worker", "--queue", "gpu", "--gpus", "0,1", "--concurrency", "2");
            config.AddBranch("workers", workers =>
            {
                workers.SetDescription("The workers registered in the tracking store.");
                Commands.Add<WorkersListCommand>(workers, "workers", "list").WithDescription("Who, where, GPUs, current runs, last heartbeat.");
            });
            config.AddBranch("queues", queues =>
            {
                queues.SetDescription("The queues of remote runs.");
                Commands.Add<QueuesListCommand>(queues, "queues", "list").WithDescription("Depth, consumers, oldest waiting run; warns of a queue no live worker serves.");
                Commands.Add<QueuesSetCommand>(queues, "queues", "set").WithDescription("Set a queue's number of attempts per run.");
            });
            config.AddBranch("datasets", datasets =>
            {
                datasets.SetDescription("Inspect tile data sets.");
                Commands.Add<DatasetsListCommand>(datasets, "datasets", "list").WithDescription("List data sets, newest first.");
                Commands.Add<DatasetsShowCommand>(datasets, "datasets", "show").WithDescription("Show a data set: slides, split, label counts.");
            });
            Commands.Add<ReproduceCommand>(config, "reproduce")
                .WithDescription("Re-run a completed run from its commit, diff and configuration in a clean work tree; compare model digests.");
            config.AddBranch("models", models =>
            {
                models.SetDescription("Model packages across runs.");
                Commands.Add<ModelsListCommand>(models, "models", "list").WithDescription("List models, newest first.");
                Commands.Add<ModelsShowCommand>(models, "models", "show").WithDescription("Show a model card; --export writes the package.");
                Commands.Add<ModelsImportCommand>(models, "models", "import").WithDescription("Import an ONNX classifier trained elsewhere as a model package.");
            });
            Commands.Add<PublishCommand>(config, "publish")
                .WithDescription("Publish a completed run's model into the production store; the run becomes immutable.")
                .WithExample("publish", "3f2a9c1e", "--model", "tumour", "--reason", "validated on cohort B");
            config.AddBranch("audit", audit =>
            {
                audit.SetDescription("The append-only, hash-chained audit trail.");
                Commands.Add<AuditLogCommand>(audit, "audit", "log").WithDescription("List audit entries, oldest first.");
                Commands.Add<AuditVerifyCommand>(audit, "audit", "verify").WithDescription("Recompute the hash chain; report the first broken entry.");
            });
            config.AddBranch("store", store =>
            {
                store.SetDescription("The stores themselves: bring a PostgreSQL schema up to date, copy one store into another.");
                Commands.Add<StoreMigrateCommand>(store, "store", "migrate").WithDescription("Bring a PostgreSQL tracking store's schema up to this Lamina's (clients never migrate it).");
                Commands.Add<StoreCopyCommand>(store, "store", "copy")
                    .WithDescription("Copy every run, blob, data set, published model and audit entry of one store into another, keeping ids and digests.")
                    .WithExample("store", "copy", "--from", "/media/backup/lamina", "--to", "/srv/lamina");
            });
            config.AddBranch("config", settings =>
            {
                settings.SetDescription("This machine's Lamina settings.");
                Commands.Add<ConfigShowCommand>(settings, "config", "show")
                    .WithDescription("Show the stores every command opens (LAMINA_TRACKING, LAMINA_ARTIFACTS, LAMINA_PRODUCTION) and where each setting came from; secrets masked.");
            });
            config.AddBranch("slide", slide =>
            {
                slide.SetDescription("Inspect whole-slide images and their tiling.");
                Commands.Add<SlideInfoCommand>(slide, "slide", "info").WithDescription("Show a slide's levels, microns per pixel, vendor and associated images.");
                Commands.Add<SlideTilesCommand>(slide, "slide", "tiles")
                    .WithDescription("Detect tissue and tile a slide; count the tiles, and draw them as GeoJSON or a PNG.")
                    .WithExample("slide", "tiles", "slide.svs", "--size", "256", "--mpp", "0.5", "--geojson", "tiles.geojson");
            });
            config.AddBranch("stain", stain =>
            {
                stain.SetDescription("Stain normalisation, to look at before training with it.");
                Commands.Add<StainNormalizeCommand>(stain, "stain", "normalize")
                    .WithDescription("Normalise an image's stain to a target's (Reinhard or Macenko) and print the fitted statistics.")
                    .WithExample("stain", "normalize", "tile.png", "--target", "target.png", "--method", "macenko", "--out", "normalised.png");
            });
            Commands.Add<SynthCommand>(config, "synth")
                .WithDescription("Write synthetic H&E-like slides (pyramidal TIFF) with their ground truth (QuPath GeoJSON).")
                .WithExample("synth", "--out", "synthetic", "--slides", "3", "--size", "20000x15000", "--seed", "1");
            Commands.Add<AnalyzeCommand>(config, "analyze")
                .WithDescription("Analyse a whole-slide image: features in dependency order, results into a folder.")
                .WithExample("analyze", "slide.tif", "--config", "analysis.yaml", "--out", "results");
            Commands.Add<ResolveCommand>(config, "resolve")
                .WithDescription("Pin an analysis file: its run ids become published model folders, with a lock of every digest.")
                .WithExample("resolve", "analysis.yaml", "-o", "release/resolved.yaml");
            Commands.Add<BundleCommand>(config, "bundle")
                .WithDescription("Lay out a resolved analysis file with its models, plug-ins and provenance, to run offline.")
                .WithExample("bundle", "release/resolved.yaml", "-o", "bundle");
            Commands.Add<VerifyCommand>(config, "verify")
                .WithDescription("Re-check every file of a bundle against its provenance and lock.");
            config.AddBranch("keys", keys =>
            {
                keys.SetDescription("Signing keys (ECDSA P-256, cosign's formats).");
                Commands.Add<KeysGenerateCommand>(keys, "keys", "generate")
                    .WithDescription("Write a key pair: NAME.key (PKCS#8 PEM, encrypted when LAMINA_SIGNING_PASSWORD is set) and NAME.pub (as cosign.pub).")
                    .WithExample("keys", "generate", "--out", "keys", "--name", "release");
            });
            Commands.Add<VerifyImageCommand>(config, "verify-image")
                .WithDescription("Verify an image offline: manifest, config and every layer against their digests, its cosign signature and signed provenance.")
                .WithExample("verify-image", "registry.example/customers/hospital-a:1.2.0", "--key", "lamina.pub");
            Commands.Add<TraceCommand>(config, "trace")
                .WithDescription("Walk a report, image, bundle, model card or run back to its commit, data and slides, checking every digest.")
                .WithExample("trace", "localhost:5000/customers/hospital-a:1.4.0");
            Commands.Add<SubmitCommand>(config, "submit")
                .WithDescription("Put an analysis request on the analysis service's queue (RabbitMQ); with --wait, wait for its result.")
                .WithExample("submit", "slide.tif", "--analysis", "breast", "--out", "results/1", "--wait");
            Commands.Add<ServeCommand>(config, "serve")
                .WithDescription("Run the analysis service in this process (as lamina-serve): take requests from the queue, analyse, publish events.")
                .WithExample("serve", "--bundle", "bundle", "--http", "http://127.0.0.1:8080");
            config.AddBranch("image", image =>
            {
                image.SetDescription("OCI images of bundles, built without a Docker engine.");
                Commands.Add<ImageBuildCommand>(image, "image", "build")
                    .WithDescription("Build a customer image: a base with lamina-serve plus one layer with the bundle; the same inputs give the same digest.")
                    .WithExample("image", "build", "--bundle", "bundle", "--base", "oci:base:0.1.0", "--tag", "hospital-a:1.0.0", "--oci-layout", "images");
                Commands.Add<ImageBaseCommand>(image, "image", "base")
                    .WithDescription("Build Lamina's base image: a minimal Debian with OpenSlide and lamina-serve, reproducibly.")
                    .WithExample("image", "base", "--serve", "out/lamina-serve", "--oci-layout", "out/images");
            });
            Commands.Add<ReleaseCommand>(config, "release")
                .WithDescription("Build, sign and push a customer's image from its git repository, and record the release; --all for every customer.")
                .WithExample("release", "customers/hospital-a", "--push", "--key", "release.key")
                .WithExample("release", "--all", "customers", "--base", "lamina-serve:0.1", "--push");
            config.AddBranch("releases", releases =>
            {
                releases.SetDescription("What runs where: customer releases.");
                Commands.Add<ReleasesListCommand>(releases, "releases", "list").WithDescription("List releases (customer, version, image digest, base, commit, models), oldest first.");
            });
            config.AddBranch("tokens", tokens =>
            {
                tokens.SetDescription("Tokens of the web UI (lamina ui): kept hashed in the tracking store, revocable, expiring.");
                Commands.Add<TokensCreateCommand>(tokens, "tokens", "create")
                    .WithDescription("Make a token for someone: viewer (reads), operator (also aborts and requeues runs) or admin (also manages tokens); the secret is printed once.")
                    .WithExample("tokens", "create", "--owner", "alice", "--role", "operator", "--expires-in", "30d");
                Commands.Add<TokensListCommand>(tokens, "tokens", "list").WithDescription("List tokens, newest first: owner, role, expiry, whether valid, expired or revoked.");
                Commands.Add<TokensRevokeCommand>(tokens, "tokens", "revoke").WithDescription("Revoke a token by id: it stops working at once.");
            });
            Commands.Add<UiCommand>(config, "ui")
                .WithDescription("Serve the web UI: runs, comparisons, models, releases, lineage, audit, queues; tokens needed beyond localhost.")
                .WithExample("ui")
                .WithExample("ui", "--host", "0.0.0.0", "--port", "8470");
            Commands.Add<DemoCommand>(config, "demo")
                .WithDescription("Run the main job: the sample experiment's custom task in a fresh copy of the sample.");
        });

        try
        {
            return await app.RunAsync(args);
        }
        catch (Exception e)
        {
            try
            {
                return Report(e, args);
            }
            catch (Exception unreported) when (unreported is IOException or ObjectDisposedException or UnauthorizedAccessException)
            {
                return Failure; // standard error cannot be written; the exit code still says it
            }
        }
        finally
        {
            TraceAssemblies();
        }
    }

    /// <summary>
    /// With <c>LAMINA_TRACE_ASSEMBLIES=1</c>, writes the Lamina assemblies the process loaded to standard error at exit:
    /// how a test shows that an analysis of a bundle ran with Lamina.Core alone, as the production service does.
    /// </summary>
    private static void TraceAssemblies()
    {
        if (Environment.GetEnvironmentVariable("LAMINA_TRACE_ASSEMBLIES") is not ("1" or "true")) return;
        var lamina = AppDomain.CurrentDomain.GetAssemblies()
            .Select(a => a.GetName().Name ?? "")
            .Where(n => n.StartsWith("Lamina.", StringComparison.Ordinal) || n == "lamina")
            .Order(StringComparer.Ordinal);
        Console.Error.WriteLine($"lamina assemblies loaded: {string.Join(", ", lamina)}");
    }

    private static int Report(Exception exception, string[] args) => ErrorReport.Write(exception, args, Commands);
}
