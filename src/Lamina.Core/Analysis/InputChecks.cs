using System.Globalization;
using Lamina.Core.Inference;

namespace Lamina.Core.Analysis;

/// <summary>How much an input finding weighs.</summary>
public enum InputSeverity
{
    /// <summary>Recorded for the reader (the scale was read from the slide); never stops an analysis.</summary>
    Note,

    /// <summary>Possibly wrong (a guessed scale, a stain unlike training's): stops the analysis unless warnings are accepted.</summary>
    Warning,

    /// <summary>Cannot be right (a fluorescence slide through a brightfield model): stops the analysis unless forced.</summary>
    Refusal,
}

/// <summary>One thing the input checks found about a slide, before any model ran.</summary>
/// <param name="Check">What was checked: <c>mpp</c>, <c>modality</c>, <c>scale</c>, <c>stain</c>, <c>size</c>.</param>
/// <param name="Severity">Note, warning or refusal.</param>
/// <param name="Message">What was found, in a sentence a pathologist can read.</param>
/// <param name="Model">The model it concerns, or null for the slide alone.</param>
public sealed record InputFinding(string Check, InputSeverity Severity, string Message, string? Model = null)
{
    public override string ToString() => $"{Severity.ToString().ToLowerInvariant()}: {Message}";
}

/// <summary>What an analysis does with findings: by default, warnings and refusals stop it before any model runs.</summary>
/// <param name="AcceptWarnings">Go on despite warnings (recorded in the report).</param>
/// <param name="Force">Go on despite refusals and warnings (recorded in the report).</param>
public sealed record InputPolicy(bool AcceptWarnings = false, bool Force = false)
{
    public static InputPolicy Strict { get; } = new();

    /// <summary>Whether findings of this severity stop the analysis under this policy.</summary>
    public bool Stops(InputSeverity severity) => severity switch
    {
        InputSeverity.Refusal => !Force,
        InputSeverity.Warning => !(AcceptWarnings || Force),
        _ => false,
    };
}

/// <summary>The input checks of one analysed slide: what was found, and whether the analysis went on past warnings or refusals.</summary>
public sealed record InputChecks(SlideAppearance Appearance, string MicronsPerPixelSource, double? RecordedMicronsPerPixel, IReadOnlyList<InputFinding> Findings,
    bool AcceptedWarnings, bool Forced);

/// <summary>
/// Checks a slide against what the analysis's models were trained on, before they run: the scale (read from the slide
/// or given as an override), the modality (fluorescence through a brightfield model is refused), the stain against
/// training's statistics, the slide's size against a tile, and (noted) tiles upsampled from a coarser slide.
/// </summary>
public static class InputChecker
{
    /// <summary>Standard deviations (across training slides) from training's mean stain beyond which a slide's stain is unlike training's.</summary>
    public const double StainDeviations = 4;

    // Spread floors: with a handful of near-identical training slides the measured spread is tiny, and a slide from the
    // same laboratory must still pass; optical density varies this much between sections of one block.
    private const double MinimumSpread = 0.03;
    private const double RelativeSpread = 0.15;

    /// <summary>Everything found about the slide; the caller applies the <see cref="InputPolicy"/>.</summary>
    /// <param name="appearance">The slide as measured.</param>
    /// <param name="width">Level-0 width in pixels.</param>
    /// <param name="height">Level-0 height in pixels.</param>
    /// <param name="recordedMpp">Microns per pixel the slide's file records, or null.</param>
    /// <param name="overrideMpp">Microns per pixel given as an override, or null.</param>
    /// <param name="models">The models that will see the slide: their names in the analysis file and cards.</param>
    public static IReadOnlyList<InputFinding> Check(SlideAppearance appearance, long width, long height, double? recordedMpp, double? overrideMpp,
        IReadOnlyList<(string Name, ModelCard Card)> models)
    {
        ArgumentNullException.ThrowIfNull(appearance);
        ArgumentNullException.ThrowIfNull(models);
        var findings = new List<InputFinding> { Scale(recordedMpp, overrideMpp) };
        var mpp = overrideMpp ?? recordedMpp;
        var fluorescent = appearance.Modality == SlideAppearance.Fluorescence;
        foreach (var (name, card) in models)
        {
            var domain = card.InputDomain;
            if (domain is null)
            {
                findings.Add(fluorescent
                    ? new InputFinding("modality", InputSeverity.Warning,
                        $"the slide looks like fluorescence (a dark background: {Percent(appearance.DarkFraction)} of it); model '{name}' records no input domain to check it against", name)
                    : new InputFinding("domain", InputSeverity.Note, $"model '{name}' records no input domain (trained before Lamina recorded one): modality and stain not checked", name));
            }
            else if (fluorescent != (domain.Modality == SlideAppearance.Fluorescence))
            {
                findings.Add(new InputFinding("modality", InputSeverity.Refusal,
                    $"the slide looks like {appearance.Modality} (dark background on {Percent(appearance.DarkFraction)} of it, median luminance " +
                    $"{N(appearance.MedianLuminance)}), and model '{name}' was trained on {domain.Modality} slides", name));
            }
            else if (Stain(appearance, domain) is { } stain)
            {
                findings.Add(stain with { Model = name, Message = $"model '{name}': {stain.Message}" });
            }

            var tileMpp = card.Input.MicronsPerPixel;
            if (tileMpp is { } t && mpp is { } m && m > t * 1.25)
            {
                // Recorded, not stopping: resampling is how every tile reaches its model's scale, and a reader of the report
                // should know this one adds no detail the scanner did not capture.
                findings.Add(new InputFinding("scale", InputSeverity.Note,
                    $"the slide ({N(m)} µm/px) is coarser than model '{name}''s tiles ({N(t)} µm/px): its tiles are upsampled {N(m / t)}×", name));
            }
            var side = tileMpp is { } tm && mpp is { } sm ? card.Input.TileSize * tm / sm : card.Input.TileSize;
            if (width < side || height < side)
            {
                findings.Add(new InputFinding("size", InputSeverity.Warning,
                    $"the slide ({width}×{height} px) is smaller than one of model '{name}''s tiles ({N(side)} px at level 0)", name));
            }
        }
        return findings;
    }

    /// <summary>The findings that stop the analysis under <paramref name="policy"/>.</summary>
    public static IReadOnlyList<InputFinding> Blocking(IReadOnlyList<InputFinding> findings, InputPolicy policy) =>
        [.. findings.Where(f => policy.Stops(f.Severity))];

    private static InputFinding Scale(double? recorded, double? given)
    {
        if (given is not { } g)
        {
            return recorded is { } r
                ? new InputFinding("mpp", InputSeverity.Note, $"microns per pixel {N(r)}, read from the slide")
                : new InputFinding("mpp", InputSeverity.Note, "the slide records no microns per pixel and none was given: models tiled by level");
        }
        if (recorded is not { } value)
        {
            return new InputFinding("mpp", InputSeverity.Warning,
                $"the slide records no microns per pixel: {N(g)} was given as an override, an assumption the slide cannot confirm (every area and distance depends on it)");
        }
        return Math.Abs(g - value) <= value * 0.01
            ? new InputFinding("mpp", InputSeverity.Note, $"microns per pixel {N(g)} given as an override, as the slide records")
            : new InputFinding("mpp", InputSeverity.Warning, $"microns per pixel {N(g)} given as an override, replacing the {N(value)} the slide records");
    }

    private static InputFinding? Stain(SlideAppearance appearance, InputDomain domain)
    {
        if (domain.StainMean is not { Count: 3 } mean || domain.StainSpread is not { Count: 3 } spread) return null;
        if (appearance.StainMean is not { Count: 3 } stain)
        {
            return new InputFinding("stain", InputSeverity.Warning, "no stained tissue found on the slide's overview to compare with training's stain");
        }
        var tolerated = Enumerable.Range(0, 3).Select(c => Math.Max(spread[c], Math.Max(MinimumSpread, RelativeSpread * mean[c]))).ToArray();
        var worst = Enumerable.Range(0, 3).Select(c => (Channel: c, Deviations: Math.Abs(stain[c] - mean[c]) / tolerated[c])).MaxBy(x => x.Deviations);
        if (worst.Deviations <= StainDeviations) return null;
        var c = worst.Channel;
        return new InputFinding("stain", InputSeverity.Warning,
            $"the tissue's stain is unlike training's: its mean optical density in {"RGB"[c]} is {N(stain[c])}, training's {N(mean[c])} " +
            $"(± {N(spread[c])} across {domain.Slides} slide(s)), {N(worst.Deviations)} times the tolerated deviation of {N(tolerated[c])} " +
            $"(at most {N(StainDeviations)}); stain normalisation or fine-tuning for this laboratory may be needed");
    }

    private static string Percent(double fraction) => fraction.ToString("P0", CultureInfo.InvariantCulture);

    private static string N(double value) => value.ToString("0.###", CultureInfo.InvariantCulture);
}

/// <summary>
/// A slide the input checks stopped before any model ran: every finding, those that stopped it first, and how to go on
/// (accept the warnings, or force past a refusal: both recorded in the report).
/// </summary>
public sealed class InputRefusedException : LaminaException
{
    internal InputRefusedException(string slide, IReadOnlyList<InputFinding> findings, IReadOnlyList<InputFinding> blocking)
        : base(Describe(slide, blocking))
    {
        Findings = findings;
        Blocking = blocking;
        At = slide;
        Kind = LaminaErrorKind.Validation;
    }

    /// <summary>Everything the checks found.</summary>
    public IReadOnlyList<InputFinding> Findings { get; }

    /// <summary>The findings that stopped the analysis.</summary>
    public IReadOnlyList<InputFinding> Blocking { get; }

    /// <summary>Whether a refusal (not only warnings) stopped it.</summary>
    public bool Refused => Blocking.Any(f => f.Severity == InputSeverity.Refusal);

    private static string Describe(string slide, IReadOnlyList<InputFinding> blocking)
    {
        var refused = blocking.Any(f => f.Severity == InputSeverity.Refusal);
        var how = refused
            ? "this cannot be right for these models; to analyse it anyway, force it (lamina analyze --force-input; recorded in the report)"
            : "to analyse it anyway, accept the warnings (lamina analyze --accept-warnings; recorded in the report)";
        return $"{slide}: {(refused ? "refused" : "stopped")} before any model ran: {string.Join("; ", blocking.Select(f => f.ToString()))}; {how}";
    }
}
