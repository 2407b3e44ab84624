using System.ComponentModel;
using System.Globalization;
using System.Text.Json;
using Lamina.Cli.Rendering;
using Lamina.Lab.Datasets;
using Lamina.Tracking;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Lamina.Cli.Commands;

/// <summary><c>lamina datasets list</c>.</summary>
public sealed class DatasetsListCommand : AsyncCommand<OutputSettings>
{
    public override async Task<int> ExecuteAsync(CommandContext context, OutputSettings settings)
    {
        var (store, _) = await CliContext.OpenStoresAsync(CliContext.Home);
        await using var __ = store;
        var datasets = await store.ListDatasetsAsync(CliContext.Cancellation);
        if (settings.Json)
        {
            JsonOutput.Write(datasets.Select(d => new
            {
                d.Id, d.Name, d.CreatedAt, d.RunId, d.SlideCount, d.TileCount,
                summary = JsonDocument.Parse(d.SummaryJson).RootElement,
            }));
            return 0;
        }
        if (datasets.Count == 0)
        {
            AnsiConsole.MarkupLine("[grey]no data sets yet: run a task of type 'dataset'[/]");
            return 0;
        }
        var table = new Table().AddColumns("id", "name", "slides", "tiles", "created", "by run");
        foreach (var d in datasets)
        {
            table.AddRow(d.Id[..12], Markup.Escape(d.Name), d.SlideCount.ToString(CultureInfo.InvariantCulture),
                d.TileCount.ToString(CultureInfo.InvariantCulture), Formats.Time(d.CreatedAt), d.RunId is { } r ? Formats.ShortId(r) : "");
        }
        AnsiConsole.Write(table);
        return 0;
    }
}

/// <summary><c>lamina datasets show &lt;id&gt;</c>.</summary>
public sealed class DatasetsShowCommand : AsyncCommand<DatasetsShowCommand.Settings>
{
    public sealed class Settings : OutputSettings
    {
        [CommandArgument(0, "<DATASET>")]
        [Description("A data set id or a unique prefix of one.")]
        public string Dataset { get; init; } = "";

        [CommandOption("--manifest")]
        [Description("Print the manifest itself, byte for byte.")]
        public bool Manifest { get; init; }
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings)
    {
        var token = CliContext.Cancellation;
        var (store, blobs) = await CliContext.OpenStoresAsync(CliContext.Home);
        await using var _ = store;
        var dataset = await store.ResolveDatasetAsync(settings.Dataset, token);
        byte[] bytes;
        await using (var stream = await blobs.OpenAsync(dataset.Id, token))
        using (var buffer = new MemoryStream())
        {
            await stream.CopyToAsync(buffer, token);
            bytes = buffer.ToArray();
        }
        if (settings.Manifest)
        {
            await using var stdout = Console.OpenStandardOutput();
            await stdout.WriteAsync(bytes, token);
            return 0;
        }
        var manifest = DatasetManifest.Parse(bytes);
        if (settings.Json)
        {
            JsonOutput.Write(new
            {
                dataset.Id, dataset.Name, dataset.CreatedAt, dataset.RunId,
                manifest.Classes, manifest.Settings, manifest.ValidationSplit, manifest.Seed,
                slides = manifest.Slides.Select((s, i) => new { s.Name, s.Sha256, s.Size, s.Width, s.Height, s.MicronsPerPixel, s.MppOverridden, s.AnnotationsSha256, s.Split, s.Group, tiles = manifest.Tiles.Count(t => t.Slide == i) }),
                counts = manifest.Counts(),
                tile_count = manifest.Tiles.Count,
            });
            return 0;
        }
        var grid = new Grid().AddColumn().AddColumn();
        grid.AddRow("[grey]id[/]", dataset.Id);
        grid.AddRow("[grey]name[/]", Markup.Escape(dataset.Name));
        grid.AddRow("[grey]created[/]", $"{Formats.Time(dataset.CreatedAt)}{(dataset.RunId is { } r ? $" by run {r}" : "")}");
        grid.AddRow("[grey]classes[/]", Markup.Escape(string.Join(", ", manifest.Classes)));
        grid.AddRow("[grey]split[/]", $"validation {manifest.ValidationSplit.ToString(CultureInfo.InvariantCulture)} by slide{(manifest.Slides.Any(s => s.Group is not null) ? " group" : "")}, seed {manifest.Seed}");
        grid.AddRow("[grey]settings[/]", Markup.Escape(string.Join(", ", manifest.Settings.Select(s => $"{s.Key}={s.Value}"))));
        AnsiConsole.Write(new Panel(grid).Header("data set"));
        var slides = new Table().AddColumns("slide", "split", "group", "size (px)", "mpp", "tiles", "sha256");
        for (var i = 0; i < manifest.Slides.Count; i++)
        {
            var s = manifest.Slides[i];
            slides.AddRow(Markup.Escape(s.Name), s.Split, Markup.Escape(s.Group ?? ""), $"{s.Width}x{s.Height}",
                (s.MicronsPerPixel?.ToString("G4", CultureInfo.InvariantCulture) ?? "unknown") + (s.MppOverridden ? " (override)" : ""),
                manifest.Tiles.Count(t => t.Slide == i).ToString(CultureInfo.InvariantCulture), s.Sha256[..16]);
        }
        AnsiConsole.Write(slides);
        var counts = new Table().AddColumn("split");
        foreach (var name in manifest.Classes) counts.AddColumn(Markup.Escape(name));
        foreach (var (split, perClass) in manifest.Counts())
        {
            counts.AddRow([split, .. manifest.Classes.Select(c => perClass.GetValueOrDefault(c).ToString(CultureInfo.InvariantCulture))]);
        }
        AnsiConsole.Write(counts);
        return 0;
    }
}
