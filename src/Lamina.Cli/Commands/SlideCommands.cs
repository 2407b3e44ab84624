using System.ComponentModel;
using System.Globalization;
using Lamina.Cli.Rendering;
using Lamina.Core.Slides;
using Lamina.Core.Slides.Tiling;
using Lamina.Core.Slides.Tissue;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Lamina.Cli.Commands;

/// <summary>Options of the commands that open one slide.</summary>
public class SlideSettings : OutputSettings
{
    [CommandArgument(0, "<FILE>")]
    [Description("The slide file (anything OpenSlide reads: .svs, .ndpi, .mrxs, tiled .tif…).")]
    public string File { get; init; } = "";

    [CommandOption("--mpp-override <MPP>")]
    [Description("Microns per level-0 pixel, for slides that do not record it (replaces what the file says).")]
    public double? MppOverride { get; init; }
}

/// <summary><c>lamina slide info &lt;file&gt;</c>.</summary>
public sealed class SlideInfoCommand : Command<SlideSettings>
{
    public override int Execute(CommandContext context, SlideSettings settings)
    {
        using var slide = Slide.Open(settings.File, settings.MppOverride);
        var associated = slide.AssociatedImageNames.Select(n => (Name: n, Size: slide.AssociatedImageSize(n))).ToList();
        var properties = slide.Properties
            .Where(p => p.Key.StartsWith("openslide.", StringComparison.Ordinal)
                        && !p.Key.StartsWith("openslide.level[", StringComparison.Ordinal)
                        && !p.Key.StartsWith("openslide.associated.", StringComparison.Ordinal))
            .OrderBy(p => p.Key, StringComparer.Ordinal)
            .ToDictionary(p => p.Key, p => p.Value);
        if (settings.Json)
        {
            JsonOutput.Write(new
            {
                path = slide.Path,
                vendor = slide.Vendor,
                width = slide.Width,
                height = slide.Height,
                microns_per_pixel = slide.MicronsPerPixel,
                levels = slide.Levels.Select(l => new { index = l.Index, width = l.Width, height = l.Height, downsample = l.Downsample }),
                associated_images = associated.Select(a => new { name = a.Name, width = a.Size.Width, height = a.Size.Height }),
                properties,
            });
            return 0;
        }
        AnsiConsole.Console.MarkupLineEscaped($"[bold]{slide.Path}[/]");
        AnsiConsole.Console.MarkupLineEscaped($"vendor: {slide.Vendor}");
        AnsiConsole.Console.MarkupLineEscaped($"size: {slide.Width} × {slide.Height} pixels");
        AnsiConsole.Console.MarkupLineEscaped($"microns per pixel: {(slide.MicronsPerPixel is { } mpp ? mpp.ToString("0.####", CultureInfo.InvariantCulture) : "unknown")}");
        var levels = new Table().AddColumns("level", "width", "height", "downsample");
        foreach (var level in slide.Levels)
        {
            levels.AddRow($"{level.Index}", $"{level.Width}", $"{level.Height}", level.Downsample.ToString("0.###", CultureInfo.InvariantCulture));
        }
        AnsiConsole.Write(levels);
        AnsiConsole.MarkupLine(associated.Count == 0
            ? "associated images: none"
            : $"associated images: {Markup.Escape(string.Join(", ", associated.Select(a => $"{a.Name} ({a.Size.Width} × {a.Size.Height})")))}");
        var table = new Table().AddColumns("property", "value");
        foreach (var (key, value) in properties) table.AddRow(Markup.Escape(key), Markup.Escape(value));
        AnsiConsole.Write(table);
        return 0;
    }
}

/// <summary><c>lamina slide tiles &lt;file&gt;</c>.</summary>
public sealed class SlideTilesCommand : Command<SlideTilesCommand.Settings>
{
    public sealed class Settings : SlideSettings
    {
        [CommandOption("--size <PIXELS>")]
        [Description("Tile side in pixels, 16 to 4096 (default 256).")]
        [DefaultValue(256)]
        public int Size { get; init; } = 256;

        [CommandOption("--mpp <MPP>")]
        [Description("Tile at this many microns per pixel, 0.05 to 100 (the nearest level at or above it, resampled).")]
        public double? Mpp { get; init; }

        [CommandOption("--level <N>")]
        [Description("Tile this pyramid level as it is (default: level 0).")]
        public int? Level { get; init; }

        [CommandOption("--overlap <PIXELS>")]
        [Description("Pixels shared by neighbouring tiles, 0 to the tile size less one (default 0).")]
        [DefaultValue(0)]
        public int Overlap { get; init; }

        [CommandOption("--min-tissue <FRACTION>")]
        [Description("Keep tiles at least this fraction tissue (default 0.5; 0 keeps every tile).")]
        [DefaultValue(0.5)]
        public double MinTissue { get; init; } = 0.5;

        [CommandOption("--geojson <FILE>")]
        [Description("Write the kept tiles as GeoJSON polygons in level-0 pixels, for QuPath.")]
        public string? GeoJson { get; init; }

        [CommandOption("--thumbnail <FILE>")]
        [Description("Write a PNG of the slide with the tissue mask and the kept tiles drawn on it.")]
        public string? Thumbnail { get; init; }
    }

    public override int Execute(CommandContext context, Settings settings)
    {
        using var slide = Slide.Open(settings.File, settings.MppOverride);
        var options = new TilingOptions(settings.Size, settings.Overlap, settings.Level, settings.Mpp, settings.MinTissue);
        // Options out of range and absurd grids fail here, before tissue detection reads the slide.
        Tiler.Check(slide, options);
        TissueMask? mask = null;
        TilePlan? plan = null;
        void Work(Action<string> step)
        {
            step("detecting tissue");
            mask = new OtsuTissueDetector().Detect(slide);
            step("planning tiles");
            plan = Tiler.Plan(slide, options, mask);
            if (settings.GeoJson is { } geojson)
            {
                step("writing GeoJSON");
                using var stream = System.IO.File.Create(geojson);
                TilingOutputs.WriteGeoJson(plan, stream);
            }
            if (settings.Thumbnail is { } thumbnail)
            {
                step("drawing thumbnail");
                TilingOutputs.WriteThumbnail(slide, plan, mask, thumbnail);
            }
        }
        if (settings.Json || Console.IsOutputRedirected) Work(_ => { });
        else AnsiConsole.Status().Start("opening", status => Work(s => status.Status(s)));

        var result = new
        {
            path = slide.Path,
            tile_size = plan!.OutputSize,
            overlap = options.Overlap,
            read_level = plan.ReadLevel,
            read_size = plan.ReadSize,
            downsample = plan.Downsample,
            microns_per_pixel = slide.MicronsPerPixel is { } mpp ? mpp * plan.Downsample : (double?)null,
            grid_columns = plan.GridColumns,
            grid_rows = plan.GridRows,
            grid_tiles = plan.GridTiles,
            kept_tiles = plan.KeptTiles,
            tissue_fraction = mask!.TissueFraction,
            min_tissue = options.MinTissueFraction,
            geojson = settings.GeoJson,
            thumbnail = settings.Thumbnail,
        };
        if (settings.Json)
        {
            JsonOutput.Write(result);
            return 0;
        }
        var table = new Table().AddColumns("", "");
        table.HideHeaders();
        table.AddRow("read level", $"{plan.ReadLevel} (downsample {plan.ReadLevelDownsample.ToString("0.###", CultureInfo.InvariantCulture)})");
        table.AddRow("tile", $"{plan.OutputSize} px, read as {plan.ReadSize} px{(plan.Resamples ? " and resampled" : "")}, overlap {options.Overlap}");
        table.AddRow("downsample", plan.Downsample.ToString("0.####", CultureInfo.InvariantCulture));
        table.AddRow("microns per pixel", result.microns_per_pixel is { } m ? m.ToString("0.####", CultureInfo.InvariantCulture) : "unknown");
        table.AddRow("grid", $"{plan.GridColumns} × {plan.GridRows} = {plan.GridTiles} tiles");
        table.AddRow("kept", $"{plan.KeptTiles} tiles with at least {options.MinTissueFraction.ToString(CultureInfo.InvariantCulture)} tissue");
        table.AddRow("tissue", mask.TissueFraction.ToString("P1", CultureInfo.InvariantCulture));
        if (settings.GeoJson is { } g) table.AddRow("geojson", Markup.Escape(g));
        if (settings.Thumbnail is { } t) table.AddRow("thumbnail", Markup.Escape(t));
        AnsiConsole.Write(table);
        return 0;
    }
}
