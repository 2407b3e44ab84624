using Lamina.Core.Analysis;
using Lamina.Core.Inference;
using Lamina.Core.Slides;
using Lamina.Core.Tests.Slides;

namespace Lamina.Core.Tests.Analysis;

public sealed class InputChecksTests : IDisposable
{
    private readonly TemporaryDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void A_real_brightfield_slide_measures_as_brightfield_with_its_stain()
    {
        using var slide = Slide.Open(TestSlides.Cmu1Small);

        var appearance = SlideAppearance.Measure(slide);

        Assert.Equal(SlideAppearance.Brightfield, appearance.Modality);
        Assert.True(appearance.DarkFraction < 0.05, $"dark fraction {appearance.DarkFraction}");
        Assert.NotNull(appearance.StainMean);
        // H&E absorbs red least and green most: optical density is highest in green.
        Assert.True(appearance.StainMean![1] > appearance.StainMean[0], string.Join(" ", appearance.StainMean));
    }

    [Fact]
    public void A_dark_slide_measures_as_fluorescence()
    {
        using var slide = Slide.Open(TestSlides.Fluorescent(_temp.Combine("fluo.tif"), 2048, 0.5));

        var appearance = SlideAppearance.Measure(slide);

        Assert.Equal(SlideAppearance.Fluorescence, appearance.Modality);
        Assert.True(appearance.DarkFraction > 0.5, $"dark fraction {appearance.DarkFraction}");
    }

    [Fact]
    public void Fluorescence_through_a_brightfield_model_is_refused_and_only_forcing_goes_on()
    {
        var fluorescence = new SlideAppearance(SlideAppearance.Fluorescence, 12, 0.9, 0.05, null);

        var findings = InputChecker.Check(fluorescence, 10_000, 10_000, 0.25, null, [("carcinoma", Card(Domain()))]);

        var refusal = Assert.Single(findings, f => f.Severity == InputSeverity.Refusal);
        Assert.Equal("modality", refusal.Check);
        Assert.Equal("carcinoma", refusal.Model);
        Assert.Contains("fluorescence", refusal.Message, StringComparison.Ordinal);
        Assert.Contains(refusal, InputChecker.Blocking(findings, InputPolicy.Strict));
        Assert.Contains(refusal, InputChecker.Blocking(findings, new InputPolicy(AcceptWarnings: true)));
        Assert.Empty(InputChecker.Blocking(findings, new InputPolicy(Force: true)));
    }

    [Fact]
    public void A_scale_read_from_the_slide_is_a_note_and_a_guessed_one_a_warning()
    {
        var brightfield = Brightfield([0.30, 0.45, 0.25]);

        var read = InputChecker.Check(brightfield, 10_000, 10_000, 0.25, null, [("m", Card(Domain()))]);
        var guessed = InputChecker.Check(brightfield, 10_000, 10_000, null, 0.25, [("m", Card(Domain()))]);
        var replaced = InputChecker.Check(brightfield, 10_000, 10_000, 0.25, 0.3, [("m", Card(Domain()))]);
        var confirmed = InputChecker.Check(brightfield, 10_000, 10_000, 0.25, 0.25, [("m", Card(Domain()))]);

        Assert.Equal(InputSeverity.Note, Assert.Single(read, f => f.Check == "mpp").Severity);
        Assert.Empty(InputChecker.Blocking(read, InputPolicy.Strict));
        var warning = Assert.Single(guessed, f => f.Check == "mpp");
        Assert.Equal(InputSeverity.Warning, warning.Severity);
        Assert.Contains("records no microns per pixel", warning.Message, StringComparison.Ordinal);
        Assert.Contains(warning, InputChecker.Blocking(guessed, InputPolicy.Strict));
        Assert.Empty(InputChecker.Blocking(guessed, new InputPolicy(AcceptWarnings: true)));
        Assert.Equal(InputSeverity.Warning, Assert.Single(replaced, f => f.Check == "mpp").Severity);
        Assert.Equal(InputSeverity.Note, Assert.Single(confirmed, f => f.Check == "mpp").Severity);
    }

    [Fact]
    public void A_stain_far_from_training_warns_and_one_within_its_spread_does_not()
    {
        var domain = Domain(mean: [0.30, 0.45, 0.25], spread: [0.02, 0.02, 0.02]);

        var near = InputChecker.Check(Brightfield([0.33, 0.47, 0.24]), 10_000, 10_000, 0.25, null, [("m", Card(domain))]);
        var far = InputChecker.Check(Brightfield([0.30, 0.95, 0.25]), 10_000, 10_000, 0.25, null, [("m", Card(domain))]);

        Assert.DoesNotContain(near, f => f.Check == "stain");
        var stain = Assert.Single(far, f => f.Check == "stain");
        Assert.Equal(InputSeverity.Warning, stain.Severity);
        Assert.Contains("in G", stain.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_slide_smaller_than_a_tile_warns_and_one_coarser_than_the_tiles_is_noted()
    {
        var card = Card(Domain()) with { Input = new InputSpec(224, 0.25, null, 0, 3) };

        var coarse = InputChecker.Check(Brightfield([0.30, 0.45, 0.25]), 10_000, 10_000, 0.5, null, [("m", card)]);
        var small = InputChecker.Check(Brightfield([0.30, 0.45, 0.25]), 150, 4000, 0.25, null, [("m", card)]);

        Assert.Contains(coarse, f => f is { Check: "scale", Severity: InputSeverity.Note } && f.Message.Contains("upsampled 2×", StringComparison.Ordinal));
        Assert.Contains(small, f => f is { Check: "size", Severity: InputSeverity.Warning });
        Assert.DoesNotContain(InputChecker.Check(Brightfield([0.30, 0.45, 0.25]), 10_000, 10_000, 0.25, null, [("m", card)]),
            f => f.Check == "scale" || f.Severity != InputSeverity.Note);
    }

    [Fact]
    public void A_card_without_a_domain_is_noted_and_a_dark_slide_then_only_warns()
    {
        var old = Card(null);

        var bright = InputChecker.Check(Brightfield([0.3, 0.4, 0.2]), 10_000, 10_000, 0.25, null, [("old", old)]);
        var dark = InputChecker.Check(new SlideAppearance(SlideAppearance.Fluorescence, 10, 0.9, 0, null), 10_000, 10_000, 0.25, null, [("old", old)]);

        Assert.Contains(bright, f => f is { Check: "domain", Severity: InputSeverity.Note });
        Assert.Contains(dark, f => f is { Check: "modality", Severity: InputSeverity.Warning });
        Assert.DoesNotContain(dark, f => f.Severity == InputSeverity.Refusal);
    }

    [Fact]
    public void A_domain_averages_its_slides_stain_and_spans_their_scales()
    {
        var domain = SlideAppearance.Domain([
            (Brightfield([0.2, 0.4, 0.2]), 0.25, false),
            (Brightfield([0.4, 0.6, 0.2]), 0.5, true),
            (new SlideAppearance(SlideAppearance.Brightfield, 200, 0, 0, null), null, false)]);

        Assert.Equal(SlideAppearance.Brightfield, domain.Modality);
        Assert.Equal(3, domain.Slides);
        Assert.Equal(0.25, domain.MinMicronsPerPixel);
        Assert.Equal(0.5, domain.MaxMicronsPerPixel);
        Assert.Equal(1, domain.OverriddenMicronsPerPixel);
        Assert.Equal([0.3, 0.5, 0.2], domain.StainMean!);
        Assert.Equal([0.1, 0.1, 0.0], domain.StainSpread!);
    }

    [Fact]
    public void The_card_keeps_its_input_domain_through_json()
    {
        var card = Card(Domain(mean: [0.3, 0.45, 0.25], spread: [0.01, 0.02, 0.03]));

        var read = ModelCard.Parse(card.ToJson(), "model.json");

        Assert.Equal(card.InputDomain!.Modality, read.InputDomain!.Modality);
        Assert.Equal(card.InputDomain.StainMean, read.InputDomain.StainMean);
        Assert.Equal(card.InputDomain.StainSpread, read.InputDomain.StainSpread);
        Assert.Null(ModelCard.Parse(Card(null).ToJson(), "old.json").InputDomain);
    }

    [Fact]
    public void A_card_with_a_metric_that_is_not_finite_is_written_and_read_back()
    {
        var card = Card(Domain()) with { FinalMetrics = new Dictionary<string, double> { ["val/precision"] = double.NaN, ["val/loss"] = double.PositiveInfinity } };

        var json = card.ToJson();
        var read = ModelCard.Parse(json, "model.json");

        Assert.Contains("\"NaN\"", System.Text.Encoding.UTF8.GetString(json), StringComparison.Ordinal);
        Assert.True(double.IsNaN(read.FinalMetrics["val/precision"]));
        Assert.Equal(double.PositiveInfinity, read.FinalMetrics["val/loss"]);
    }

    private static SlideAppearance Brightfield(IReadOnlyList<double> stain) => new(SlideAppearance.Brightfield, 210, 0, 0.3, stain);

    private static InputDomain Domain(IReadOnlyList<double>? mean = null, IReadOnlyList<double>? spread = null) =>
        new(SlideAppearance.Brightfield, 3, 0.25, 0.25, 0, mean ?? [0.30, 0.45, 0.25], spread ?? [0.02, 0.02, 0.02]);

    private static ModelCard Card(InputDomain? domain) => new()
    {
        Name = "m",
        Kind = "trained",
        Input = new InputSpec(224, 0.5, null, 0, 3),
        Classes = ["other", "Carcinoma"],
        Network = new PackageFile("head.onnx", new string('0', 64), 1),
        InputDomain = domain,
    };
}
