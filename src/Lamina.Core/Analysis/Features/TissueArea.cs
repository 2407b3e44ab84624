namespace Lamina.Core.Analysis.Features;

/// <summary>The area of tissue the analysis's tissue detector found, in mm² and as a share of the slide.</summary>
public sealed class TissueArea : IFeature
{
    public IReadOnlyList<string> ModelRoles => [];

    public IReadOnlyList<string> Requires => [];

    public IReadOnlyList<string> Provides => [];

    public Task RunAsync(IFeatureContext context, CancellationToken cancellationToken)
    {
        var slide = context.Slide;
        context.Progress.Start(1);
        context.Figure("area_mm2", FeatureMath.SquareMillimetres(slide, context.Tissue.TissueFraction * slide.Width * slide.Height), "mm²");
        context.Figure("share_of_slide", context.Tissue.TissueFraction, "fraction");
        context.Progress.Advance(1);
        return Task.CompletedTask;
    }
}
