using System.ComponentModel;
using Lamina.Cli.Rendering;
using Lamina.Core.Slides;
using Lamina.Core.Stain;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Lamina.Cli.Commands;

/// <summary><c>lamina stain normalize SOURCE --target TARGET --method reinhard|macenko --out FILE</c>.</summary>
public sealed class StainNormalizeCommand : Command<StainNormalizeCommand.Settings>
{
    private static readonly string[] Methods = ["reinhard", "macenko"];

    public sealed class Settings : OutputSettings
    {
        [CommandArgument(0, "<SOURCE>")]
        [Description("The image to normalise (PNG, JPEG or TIFF).")]
        public string Source { get; init; } = "";

        [CommandOption("--target <FILE>")]
        [Description("The image whose stain the source takes on (PNG, JPEG or TIFF).")]
        public string? Target { get; init; }

        [CommandOption("--method <METHOD>")]
        [Description("reinhard (CIELAB means and deviations) or macenko (stain vectors and concentrations); default reinhard.")]
        public string Method { get; init; } = "reinhard";

        [CommandOption("--od-threshold <BETA>")]
        [Description("Macenko only: tissue is optical density at least BETA in every channel (the paper's 0.15), not TIAToolbox's luminosity mask.")]
        public double? OdThreshold { get; init; }

        [CommandOption("-o|--out <FILE>")]
        [Description("Where to write the normalised image; .png, .jpg/.jpeg or .tif/.tiff.")]
        public string? Out { get; init; }

        public override ValidationResult Validate() =>
            !Methods.Contains(Method.ToLowerInvariant())
                ? ValidationResult.Error($"--method must be {string.Join(" or ", Methods)}, got '{Method}'")
            : OdThreshold is not null && Method.ToLowerInvariant() != "macenko" ? ValidationResult.Error("--od-threshold applies to --method macenko only")
            : OdThreshold is { } beta && (!double.IsFinite(beta) || beta < 0) ? ValidationResult.Error($"--od-threshold must be at least 0, got {beta}")
            : Target is null ? ValidationResult.Error("--target is needed: the image whose stain the source takes on")
            : Out is null ? ValidationResult.Error("--out is needed: where to write the normalised image")
            : !StainImages.Extensions.Contains(Path.GetExtension(Out).ToLowerInvariant())
                ? ValidationResult.Error($"--out must end in one of {string.Join(", ", StainImages.Extensions)}, got '{Out}'")
            : ValidationResult.Success();
    }

    public override int Execute(CommandContext context, Settings settings)
    {
        var method = settings.Method.ToLowerInvariant();
        var source = StainImages.Read(settings.Source);
        var target = StainImages.Read(settings.Target!);
        RgbImage output;
        object fitted, measured;
        string fittedText, measuredText;
        if (method == "reinhard")
        {
            var statistics = Reinhard.Fit(target);
            var own = Reinhard.Fit(source);
            output = Reinhard.Transform(source, statistics);
            (fitted, measured) = (Json(statistics), Json(own));
            (fittedText, measuredText) = (statistics.ToString(), own.ToString());
        }
        else
        {
            var statistics = Macenko.Fit(target, settings.OdThreshold);
            var own = Macenko.Fit(source, settings.OdThreshold);
            output = Macenko.Transform(source, statistics, settings.OdThreshold);
            (fitted, measured) = (Json(statistics), Json(own));
            (fittedText, measuredText) = (statistics.ToString(), own.ToString());
        }
        var directory = Path.GetDirectoryName(Path.GetFullPath(settings.Out!));
        if (directory is not null) Directory.CreateDirectory(directory);
        StainImages.Write(output, settings.Out!);
        if (settings.Json)
        {
            JsonOutput.Write(new
            {
                method,
                source = settings.Source,
                target = settings.Target,
                output = settings.Out,
                width = output.Width,
                height = output.Height,
                target_statistics = fitted,
                source_statistics = measured,
            });
            return 0;
        }
        AnsiConsole.Console.MarkupLineEscaped($"{method}: {settings.Source} ({source.Width} × {source.Height}) normalised to {settings.Target} ({target.Width} × {target.Height})");
        AnsiConsole.Console.MarkupLineEscaped($"target: {fittedText}");
        AnsiConsole.Console.MarkupLineEscaped($"source: {measuredText}");
        AnsiConsole.Console.MarkupLineEscaped($"wrote {settings.Out}");
        return 0;
    }

    private static object Json(ReinhardStatistics s) => new { means = s.Means, stds = s.Stds };

    private static object Json(MacenkoStatistics s) => new { stain_matrix = s.StainMatrix, max_concentrations = s.MaxConcentrations };
}
