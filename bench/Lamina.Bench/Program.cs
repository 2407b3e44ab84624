using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Lamina.Bench;
using Lamina.Core.Slides;
using Lamina.Core.Slides.Tiling;
using Lamina.Core.Slides.Tissue;

// Slide tiling benchmark: Lamina's tile pipeline against raw openslide_read_region calls in the same process.
// Usage:
//   Lamina.Bench tiling <slide> [--size 256] [--tiles 1500] [--threads N] [--tile-list FILE]
//   Lamina.Bench memory <slide> [--size 256]     (the whole slide through the pipeline; prints peak RSS)
//   Lamina.Bench backbone [--tiles 64] [--batches 1,8,16,32] [--threads N] [--model resnet18|FILE.onnx]
//   Lamina.Bench analyze <analysis.yaml> <slide> [--rounds 3] [--readers N] | --memory [--max-tiles N]   (LAMINA_HOME: the models' store)
//   Lamina.Bench training [--rows 10000] [--dim 512] [--epochs 5] [--batch 64] [--threads N] [--data FILE]
//   Lamina.Bench stores --postgres URI --sqlite FILE [--points 100000] [--batch 100] [--runs 10000]
//   Lamina.Bench queues --broker amqp://… --work DIR [--runs 500] [--workers 2] [--latency 20]
//   Lamina.Bench serve --broker amqp://… --metrics http://HOST:PORT --config bundle/analysis.yaml --out DIR [--memory-runs 20] SLIDE…   (a running lamina-serve)
//   Lamina.Bench ui [--sqlite FILE] [--postgres URI] [--runs 10000] [--points 1000]   (the web UI's runs table and series)
//   Lamina.Bench stores-s3 <s3://bucket/prefix> <folder> [--size-mb 100] [--rounds 3]   (LAMINA_S3_ENDPOINT, AWS_*)
var command = args.ElementAtOrDefault(0);
if (command == "queues")
{
    return await QueuesBench.RunAsync(args);
}
if (command == "serve")
{
    return await ServeBench.RunAsync(args);
}
if (command == "stores-s3")
{
    return await ProductionStoresBench.RunAsync(args);
}
if (command == "backbone")
{
    return BackboneBench.Run(args);
}
if (command == "analyze")
{
    return await AnalyzeBench.RunAsync(args);
}
if (command == "training")
{
    return TrainingBench.Run(args);
}
if (command == "ui")
{
    return await UiBench.RunAsync(args);
}
if (command == "stores")
{
    return await StoresBench.RunAsync(args);
}
var slidePath = args.ElementAtOrDefault(1);
if (command is not ("tiling" or "memory") || slidePath is null)
{
    Console.Error.WriteLine("usage: Lamina.Bench tiling|memory <slide> [--size 256] [--tiles 1500] [--threads N] [--tile-list FILE] | backbone [--tiles 64] [--batches 1,8,16,32]");
    return 2;
}
string? Option(string name) => Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length ? args[i + 1] : null;
var size = int.Parse(Option("--size") ?? "256", CultureInfo.InvariantCulture);
var threads = int.Parse(Option("--threads") ?? Environment.ProcessorCount.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);

using var slide = Slide.Open(slidePath);
var mask = new OtsuTissueDetector().Detect(slide);
var full = Tiler.Plan(slide, new TilingOptions(size, Level: 0, MinTissueFraction: 0.5), mask);

if (command == "memory")
{
    var watch = Stopwatch.StartNew();
    long tiles = 0;
    await foreach (var batch in TilePipeline.ReadAsync(slide, full, new TilePipelineOptions(Readers: threads)))
    {
        tiles += batch.Count;
    }
    Report("lamina-memory", tiles, watch.Elapsed.TotalSeconds, new() { ["peak_rss_mb"] = PeakRssMegabytes(), ["slide_width"] = slide.Width, ["slide_height"] = slide.Height });
    return 0;
}

// The same tiles for every contender: an even sample over the tissue tiles, in plan order.
var wanted = int.Parse(Option("--tiles") ?? "1500", CultureInfo.InvariantCulture);
var step = Math.Max(1, full.Tiles.Count / wanted);
var plan = full.WithTiles([.. full.Tiles.Where((_, i) => i % step == 0).Take(wanted)]);
if (Option("--tile-list") is { } list)
{
    await File.WriteAllLinesAsync(list, plan.Tiles.Select(t => $"{t.X} {t.Y}"));
}

var raw = RawOpenSlide.Open(slidePath);
try
{
    // Warm the file cache and both code paths before timing anything.
    RawLoop(raw, plan, 1, 50);
    await LaminaLoop(slide, plan, 1, 50);

    var best = new Dictionary<string, double>();
    void Keep(string name, double seconds) => best[name] = Math.Min(best.GetValueOrDefault(name, double.MaxValue), seconds);
    // Interleaved rounds, so that drift in the machine's speed hits every contender alike.
    for (var round = 0; round < 3; round++)
    {
        Keep("raw-1", RawLoop(raw, plan, 1, plan.Tiles.Count));
        Keep("lamina-1", await LaminaLoop(slide, plan, 1, plan.Tiles.Count));
        Keep($"raw-{threads}", RawLoop(raw, plan, threads, plan.Tiles.Count));
        Keep($"lamina-{threads}", await LaminaLoop(slide, plan, threads, plan.Tiles.Count));
    }
    foreach (var (name, seconds) in best)
    {
        Report(name, plan.Tiles.Count, seconds, []);
    }
}
finally
{
    RawOpenSlide.Close(raw);
}
return 0;

static unsafe double RawLoop(IntPtr raw, TilePlan plan, int threads, int count)
{
    var tiles = plan.Tiles.Take(count).ToArray();
    var size = plan.ReadSize;
    var watch = Stopwatch.StartNew();
    Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, worker =>
    {
        var buffer = new uint[size * size];
        fixed (uint* destination = buffer)
        {
            for (var i = worker; i < tiles.Length; i += threads)
            {
                RawOpenSlide.ReadRegion(raw, destination, tiles[i].X, tiles[i].Y, plan.ReadLevel, size, size);
            }
        }
    });
    if (RawOpenSlide.GetError(raw) != IntPtr.Zero) throw new InvalidOperationException("OpenSlide reported an error");
    return watch.Elapsed.TotalSeconds;
}

static async Task<double> LaminaLoop(Slide slide, TilePlan plan, int readers, int count)
{
    var subset = plan.WithTiles([.. plan.Tiles.Take(count)]);
    var watch = Stopwatch.StartNew();
    long checksum = 0;
    await foreach (var batch in TilePipeline.ReadAsync(slide, subset, new TilePipelineOptions(Readers: readers)))
    {
        checksum += batch.Pixels[0];
    }
    GC.KeepAlive(checksum);
    return watch.Elapsed.TotalSeconds;
}

static void Report(string name, long tiles, double seconds, Dictionary<string, object> extra)
{
    var row = new Dictionary<string, object> { ["name"] = name, ["tiles"] = tiles, ["seconds"] = seconds, ["tiles_per_s"] = tiles / seconds };
    foreach (var (key, value) in extra) row[key] = value;
    Console.WriteLine(JsonSerializer.Serialize(row));
}

static double PeakRssMegabytes()
{
    var line = File.ReadLines("/proc/self/status").First(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
    return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024.0;
}
