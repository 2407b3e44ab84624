using System.ComponentModel;
using System.Globalization;
using System.Text.Json;
using Lamina.Tracking;
using Lamina.Cli.Rendering;
using Lamina.Core;
using Lamina.Core.Outputs;
using Lamina.Lab.Models;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Lamina.Cli.Commands;

/// <summary><c>lamina models list</c>: model packages across runs.</summary>
public sealed class ModelsListCommand : AsyncCommand<OutputSettings>
{
    public override async Task<int> ExecuteAsync(CommandContext context, OutputSettings settings)
    {
        var (store, blobs) = await CliContext.OpenStoresAsync(CliContext.Home);
        await using var _ = store;
        if (settings.Json)
        {
            var models = await ModelPackages.ListAsync(store, blobs, CliContext.Cancellation);
            JsonOutput.Write(models.Select(m => new { m.Record.RunId, m.Record.Name, m.Record.Kind, m.Record.ProjectName, m.Record.CardDigest, m.Record.CreatedAt, m.Card.Classes, m.Card.FinalMetrics }));
            return 0;
        }
        await RenderAsync(store, blobs, CliContext.Cancellation);
        return 0;
    }

    internal static async Task RenderAsync(Lamina.Tracking.ITrackingStore store, Lamina.Tracking.IBlobStore blobs, CancellationToken token)
    {
        var models = await ModelPackages.ListAsync(store, blobs, token);
        if (models.Count == 0)
        {
            AnsiConsole.MarkupLine("[grey]no models yet: run a training task, or 'lamina models import'[/]");
            return;
        }
        var table = new Table().AddColumns("run", "model", "kind", "project", "classes", "backbone", "metrics", "created");
        foreach (var m in models)
        {
            table.AddRow(Formats.ShortId(m.Record.RunId), Markup.Escape(m.Record.Name), m.Record.Kind, Markup.Escape(m.Record.ProjectName),
                Markup.Escape(string.Join(", ", m.Card.Classes)), Markup.Escape(m.Card.Backbone?.Name ?? "(whole network)"),
                Markup.Escape(string.Join(", ", m.Card.FinalMetrics.Where(k => k.Key.StartsWith("val/", StringComparison.Ordinal)).Take(3).Select(k => $"{k.Key} {Formats.Number(k.Value)}"))),
                Formats.Time(m.Record.CreatedAt));
        }
        AnsiConsole.Write(table);
    }
}

/// <summary><c>lamina models show RUN[/NAME]</c>.</summary>
public sealed class ModelsShowCommand : AsyncCommand<ModelsShowCommand.Settings>
{
    public sealed class Settings : OutputSettings
    {
        [CommandArgument(0, "<MODEL>")]
        [Description("RUN or RUN/NAME: the run (id or unique prefix) that made the model, and its name when it made several.")]
        public string Model { get; init; } = "";

        [CommandOption("--export <DIR>")]
        [Description("Also write the package (model.json and its ONNX files) into DIR; an existing DIR that is not empty is refused without --force.")]
        public string? Export { get; init; }

        [CommandOption("--force")]
        [Description("With --export: replace DIR if it exists, once the new package is whole.")]
        public bool Force { get; init; }

        public override ValidationResult Validate() =>
            Force && Export is null ? ValidationResult.Error("--force replaces an exported package: give --export DIR") : ValidationResult.Success();
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings)
    {
        var token = CliContext.Cancellation;
        // The package appears whole or not at all; an unwritable or occupied DIR fails before anything is read.
        using var export = settings.Export is { } directory ? OutputFolder.Begin(directory, settings.Force) : null;
        var (store, blobs) = await CliContext.OpenStoresAsync(CliContext.Home);
        await using var _ = store;
        var model = await ModelPackages.ResolveAsync(store, blobs, settings.Model, token);
        if (export is not null)
        {
            await ModelPackages.WriteToAsync(blobs, model, export.Staging, token);
            export.Commit();
        }
        if (settings.Json)
        {
            Console.Out.WriteLine(System.Text.Encoding.UTF8.GetString(model.Card.ToJson()));
            return 0;
        }
        var card = model.Card;
        var grid = new Grid().AddColumn().AddColumn();
        void Row(string key, string value) => grid.AddRow($"[grey]{key}[/]", value);
        Row("model", $"[bold]{Markup.Escape(card.Name)}[/] ({card.Kind})");
        Row("run", model.Record.RunId.ToString());
        Row("card sha256", model.Record.CardDigest);
        Row("classes", Markup.Escape(string.Join(", ", card.Classes)));
        Row("input", Markup.Escape(string.Create(CultureInfo.InvariantCulture,
            $"{card.Input.TileSize}px tiles, {(card.Input.MicronsPerPixel is { } mpp ? $"{mpp} µm/px" : $"level {card.Input.Level}")}, overlap {card.Input.Overlap}")));
        if (card.Architecture is { } architecture) Row("architecture", Markup.Escape($"{architecture.Cls} {architecture.Params?.ToJsonString()}"));
        if (card.Loss is { } loss) Row("loss", Markup.Escape($"{loss.Cls} {loss.Params?.ToJsonString()}"));
        Row("preprocessing", Markup.Escape(string.Join(" → ", card.Preprocessing.Select(p => $"{p.Cls} {p.Params?.ToJsonString()}"))));
        Row("postprocessing", Markup.Escape(string.Join(" → ", card.Postprocessing.Select(p => $"{p.Cls} {p.Params?.ToJsonString()}"))));
        Row("backbone", Markup.Escape(card.Backbone is { } b
            ? $"{b.Name}, {b.EmbeddingSize}-value embedding{(b.Output is { } output ? $" from output '{output}'" : "")}" +
              $"{(b.TileSize is { } size ? $" at {size.ToString(CultureInfo.InvariantCulture)}px" : "")}, sha256 {b.File.Sha256}" +
              $"{(b.DataFiles is { Count: > 0 } data ? $" + {data.Count.ToString(CultureInfo.InvariantCulture)} data file(s)" : "")}"
            : "(whole network)"));
        if (card.Dataset is { } dataset) Row("data set", dataset);
        if (card.Parent is { } parent) Row("fine-tuned from", Markup.Escape($"model {parent.Model} of run {parent.Run} (card sha256 {parent.CardSha256[..12]})"));
        if (card.BestEpoch is { } best) Row("best epoch", best.ToString(CultureInfo.InvariantCulture));
        AnsiConsole.Write(new Panel(grid).Header("model card"));
        var files = new Table().AddColumns("file", "size", "sha256");
        foreach (var file in card.Files) files.AddRow(Markup.Escape(file.Name), Formats.Bytes(file.Size), file.Sha256);
        AnsiConsole.Write(files);
        if (card.FinalMetrics.Count > 0)
        {
            var metrics = new Table().AddColumns("metric", "final", "best");
            foreach (var (name, value) in card.FinalMetrics)
            {
                metrics.AddRow(Markup.Escape(name), Formats.Number(value), card.BestMetrics.TryGetValue(name, out var b2) ? Formats.Number(b2) : "");
            }
            AnsiConsole.Write(metrics);
        }
        if (export is not null) AnsiConsole.Console.MarkupLineEscaped($"[grey]package written to {export.Target}[/]");
        return 0;
    }
}

/// <summary><c>lamina models import FILE.onnx --name N --classes a,b</c>.</summary>
public sealed class ModelsImportCommand : AsyncCommand<ModelsImportCommand.Settings>
{
    public sealed class Settings : OutputSettings
    {
        [CommandArgument(0, "<ONNX>")]
        [Description("An ONNX image classifier: N×3×H×W in, N×classes out.")]
        public string File { get; init; } = "";

        [CommandOption("--name <NAME>")]
        public string? Name { get; init; }

        [CommandOption("--classes <LABELS>")]
        [Description("Class labels in output order, comma-separated.")]
        public string Classes { get; init; } = "";

        [CommandOption("--tile-size <PX>")]
        public int? TileSize { get; init; }

        [CommandOption("--mpp <MICRONS>")]
        public double? Mpp { get; init; }

        [CommandOption("--project <NAME>")]
        [DefaultValue("imported")]
        public string Project { get; init; } = "imported";
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings)
    {
        var (store, blobs) = await CliContext.OpenStoresAsync(CliContext.Home);
        await using var _ = store;
        var name = settings.Name ?? Path.GetFileNameWithoutExtension(settings.File);
        var classes = settings.Classes.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var model = await new ModelImporter(store, blobs).ImportAsync(settings.File,
            new ImportOptions(name, classes, settings.TileSize, settings.Mpp, settings.Project), CliContext.Cancellation);
        if (settings.Json)
        {
            JsonOutput.Write(new { model.Record.RunId, model.Record.Name, model.Record.CardDigest });
            return 0;
        }
        AnsiConsole.Console.MarkupLineEscaped($"imported [bold]{model.Record.Name}[/] as run {model.Record.RunId} (card sha256 {model.Record.CardDigest[..16]}…)");
        return 0;
    }
}
