using System.ComponentModel;
using System.Globalization;
using Lamina.Cli.Rendering;
using Lamina.Core.Outputs;
using Lamina.Lab.Synthetic;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Lamina.Cli.Commands;

/// <summary><c>lamina synth</c>: synthetic H&amp;E-like slides with their ground truth.</summary>
public sealed class SynthCommand : Command<SynthCommand.Settings>
{
    public sealed class Settings : OutputSettings
    {
        [CommandOption("-o|--out <DIR>")]
        [Description("Folder for slide-000.tif, slide-000.geojson, ... (created if missing; slides already there are refused without --force).")]
        public string? Out { get; init; }

        [CommandOption("--force")]
        [Description("Replace slides and ground truth files of the same names already in the folder.")]
        public bool Force { get; init; }

        [CommandOption("-n|--slides <N>")]
        [Description("How many slides (default 1).")]
        [DefaultValue(1)]
        public int Slides { get; init; } = 1;

        [CommandOption("--size <WxH>")]
        [Description("Level-0 size in pixels, e.g. 20000x15000 (default 4096x4096).")]
        [DefaultValue("4096x4096")]
        public string Size { get; init; } = "4096x4096";

        [CommandOption("--seed <S>")]
        [Description("Seed of the first slide; slide i uses S + i (default 0). The same seed gives the same bytes.")]
        [DefaultValue(0)]
        public int Seed { get; init; }

        [CommandOption("--mpp <MICRONS>")]
        [Description("Microns per pixel stored in the slides (default 0.25, i.e. 40x).")]
        [DefaultValue(0.25)]
        public double Mpp { get; init; } = 0.25;

        [CommandOption("--stain <SPEC>")]
        [Description("Another laboratory's staining and scanner, as NAME or NAME:STRENGTH: blue, dark, faded, pink, random (drawn from each slide's seed) or none, at a strength from 0 to 2 (default 1), e.g. pink:0.5.")]
        public string? Stain { get; init; }

        [CommandOption("--haematoxylin <RGB>")]
        [Description("The colour the haematoxylin takes (the darkest carcinoma nuclei; the renderer's own is 66,30,116); overrides --stain's.")]
        public string? Haematoxylin { get; init; }

        [CommandOption("--eosin <RGB>")]
        [Description("The colour the eosin takes (the stroma; the renderer's own is 230,148,186); overrides --stain's.")]
        public string? Eosin { get; init; }

        [CommandOption("--scanner-gamma <G>")]
        [Description("The scanner's gamma (1: none; below 1 lighter, above 1 darker); overrides --stain's.")]
        public double? ScannerGamma { get; init; }

        [CommandOption("--white-point <RGB>")]
        [Description("What the scanner makes of white (255,255,255: neutral); overrides --stain's.")]
        public string? WhitePoint { get; init; }

        /// <summary>The most pixels one synthetic slide may have (65,536², 4.3 gigapixels).</summary>
        public const long MaxPixels = 1L << 32;

        /// <summary>The most slides one command draws.</summary>
        public const int MaxSlides = 1000;

        public override ValidationResult Validate()
        {
            if (string.IsNullOrWhiteSpace(Out)) return ValidationResult.Error("--out: the folder to write the slides to is required");
            if (Slides < 1) return ValidationResult.Error($"--slides: at least 1 slide, not {Slides}");
            if (ParseSize(Size) is not var (width, height)) return ValidationResult.Error($"--size: expected WIDTHxHEIGHT in pixels such as 4096x4096, not '{Size}'");
            if (width < SynthOptions.MinimumEdge || height < SynthOptions.MinimumEdge)
            {
                return ValidationResult.Error($"--size: each side must be at least {SynthOptions.MinimumEdge} pixels, not {Size}");
            }
            // Test slides, drawn in minutes: a gigantic one or thousands would run for hours before anything is written.
            if ((long)width * height > MaxPixels)
            {
                return ValidationResult.Error($"--size: {width.ToString("N0", CultureInfo.InvariantCulture)} × {height.ToString("N0", CultureInfo.InvariantCulture)} is {((long)width * height).ToString("N0", CultureInfo.InvariantCulture)} pixels; a synthetic slide may have at most {MaxPixels.ToString("N0", CultureInfo.InvariantCulture)} (65,536 × 65,536)");
            }
            if (Slides > MaxSlides) return ValidationResult.Error($"--slides: at most {MaxSlides} slides, not {Slides.ToString(CultureInfo.InvariantCulture)}");
            if (!(Mpp is > 0.01 and <= 10)) return ValidationResult.Error($"--mpp: microns per pixel must be between 0.01 and 10, not {Mpp.ToString(CultureInfo.InvariantCulture)}");
            if ((long)Seed + Slides - 1 > int.MaxValue) return ValidationResult.Error($"--seed: {Seed} + {Slides} slides passes the largest seed");
            try
            {
                StainOf(Seed);
            }
            catch (SynthException e)
            {
                return ValidationResult.Error(e.Message);
            }
            return ValidationResult.Success();
        }

        /// <summary>The stain and scanner variation of the slide drawn from <paramref name="seed"/>, or null for none asked.</summary>
        internal StainVariation? StainOf(int seed)
        {
            if (Stain is null && Haematoxylin is null && Eosin is null && ScannerGamma is null && WhitePoint is null) return null;
            var variation = Stain is null ? StainVariation.None : StainVariation.Parse(Stain, seed);
            variation = variation with
            {
                Haematoxylin = Haematoxylin is null ? variation.Haematoxylin : StainVariation.ParseColour(Haematoxylin, "--haematoxylin"),
                Eosin = Eosin is null ? variation.Eosin : StainVariation.ParseColour(Eosin, "--eosin"),
                Gamma = ScannerGamma ?? variation.Gamma,
                WhitePoint = WhitePoint is null ? variation.WhitePoint : StainVariation.ParseColour(WhitePoint, "--white-point"),
            };
            variation.Validate();
            return variation;
        }

        internal (int Width, int Height) Dimensions => ParseSize(Size) ?? throw new InvalidOperationException("validated");

        internal static (int Width, int Height)? ParseSize(string text)
        {
            var parts = text.Trim().ToLowerInvariant().Split('x');
            return parts.Length == 2
                && int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var width)
                && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var height)
                && width > 0 && height > 0
                ? (width, height)
                : null;
        }
    }

    /// <summary>One written slide, as <c>--json</c> prints it.</summary>
    internal sealed record SlideEntry(
        string Slide, string GroundTruth, int Width, int Height, int Seed, double Mpp,
        double CarcinomaMm2, double CarcinomaPixels, int CarcinomaRegions, int Mitoses, double TissueMm2);

    public override int Execute(CommandContext context, Settings settings)
    {
        var (width, height) = settings.Dimensions;
        var directory = Path.GetFullPath(settings.Out!);
        var cancellation = CliContext.Cancellation;
        var jobs = Enumerable.Range(0, settings.Slides)
            .Select(i => (Name: $"slide-{i:000}", Options: new SynthOptions(width, height, settings.Seed + i, settings.Mpp) { Stain = settings.StainOf(settings.Seed + i) }))
            .ToList();
        // Before any slide is drawn: the folder writable, no slide of the same name there (unless --force), leftovers of killed runs gone.
        OutputFiles.Prepare(directory, jobs.SelectMany(j => new[] { j.Name + ".tif", j.Name + ".geojson" }), settings.Force);
        var summaries = new List<SynthSummary>();
        SynthSummary Make((string Name, SynthOptions Options) job, IProgress<double>? progress)
        {
            // Each file is written under a temporary name and renamed whole; the ground truth first, so a slide is never without it.
            var (slide, truth) = (Path.Combine(directory, job.Name + ".tif"), Path.Combine(directory, job.Name + ".geojson"));
            var (stagedSlide, stagedTruth) = (OutputFiles.StagingPath(slide), OutputFiles.StagingPath(truth));
            try
            {
                var summary = SyntheticSlideGenerator.Generate(job.Options, stagedSlide, stagedTruth, progress, cancellation);
                OutputFiles.MoveIntoPlace(stagedTruth, truth, settings.Force);
                OutputFiles.MoveIntoPlace(stagedSlide, slide, settings.Force);
                return summary with { SlidePath = slide, GroundTruthPath = truth };
            }
            finally
            {
                OutputFiles.Discard(stagedSlide);
                OutputFiles.Discard(stagedTruth);
            }
        }

        if (!settings.Json && !Console.IsOutputRedirected)
        {
            AnsiConsole.Progress()
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new SpinnerColumn())
                .Start(progress =>
                {
                    var tasks = jobs.Select(j => progress.AddTask(j.Name, autoStart: false, maxValue: 1)).ToList();
                    for (var i = 0; i < jobs.Count; i++)
                    {
                        var task = tasks[i];
                        task.StartTask();
                        summaries.Add(Make(jobs[i], new DirectProgress(value => task.Value = value)));
                        task.Value = 1;
                        task.StopTask();
                    }
                });
        }
        else
        {
            foreach (var job in jobs)
            {
                summaries.Add(Make(job, null));
                if (settings.Json) Console.Error.WriteLine($"wrote {job.Name}.tif");
            }
        }

        var entries = summaries.Select(s => new SlideEntry(
            Path.GetFileName(s.SlidePath), Path.GetFileName(s.GroundTruthPath), s.Width, s.Height, s.Seed, s.MicronsPerPixel,
            Math.Round(s.CarcinomaAreaMm2, 6), Math.Round(s.CarcinomaAreaPixels, 2), s.CarcinomaRegions, s.MitosisCount, Math.Round(s.TissueAreaMm2, 6))).ToList();
        if (settings.Json)
        {
            JsonOutput.Write(new { Directory = directory, Slides = entries });
            return 0;
        }
        var table = new Table().AddColumns("slide", "size", "seed", "carcinoma mm²", "regions", "mitoses", "tissue mm²");
        foreach (var e in entries)
        {
            table.AddRow(
                Markup.Escape(e.Slide),
                $"{e.Width} x {e.Height}",
                e.Seed.ToString(CultureInfo.InvariantCulture),
                e.CarcinomaMm2.ToString("0.000", CultureInfo.InvariantCulture),
                e.CarcinomaRegions.ToString(CultureInfo.InvariantCulture),
                e.Mitoses.ToString(CultureInfo.InvariantCulture),
                e.TissueMm2.ToString("0.000", CultureInfo.InvariantCulture));
        }
        AnsiConsole.Write(table);
        foreach (var (name, stain) in jobs.Where(j => j.Options.Stain is not null).Select(j => (j.Name, j.Options.Stain!)))
        {
            AnsiConsole.Console.MarkupLineEscaped($"[grey]{name}: stained and scanned as {stain}[/]");
        }
        AnsiConsole.Console.MarkupLineEscaped($"[grey]slides and ground truth (QuPath GeoJSON) in {directory}[/]");
        return 0;
    }

    // Reports on libvips' thread straight away; Progress<T> would post late updates after the slide is done.
    private sealed class DirectProgress(Action<double> report) : IProgress<double>
    {
        public void Report(double value) => report(value);
    }
}
