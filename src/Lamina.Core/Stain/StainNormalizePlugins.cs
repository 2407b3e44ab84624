using System.Text.Json.Nodes;
using Lamina.Core.Inference;
using Lamina.Core.Plugins;
using Lamina.Core.Slides;

namespace Lamina.Core.Stain;

/// <summary>
/// Reinhard stain normalisation as a preprocessing step: every tile's CIELAB means and standard deviations are set to
/// the target's. Give <c>target</c> (a PNG, JPEG or TIFF; relative to the configuration file) or the fitted
/// <c>means</c> and <c>stds</c>; a trained model's card stores the fitted values. Tiles are RGB values in 0..255 (put
/// this step before any scaling); the output is rounded to whole values, as an 8-bit image would be.
/// </summary>
public sealed class ReinhardNormalize : IFittedPreprocessing
{
    private const string Name = nameof(ReinhardNormalize);

    /// <param name="target">An image whose statistics tiles take on.</param>
    /// <param name="means">Fitted L*, a*, b* means (with <paramref name="stds"/>, instead of a target).</param>
    /// <param name="stds">Fitted L*, a*, b* standard deviations.</param>
    public ReinhardNormalize([FilePath] string? target = null, double[]? means = null, double[]? stds = null)
    {
        if (target is not null)
        {
            if (means is not null || stds is not null)
            {
                throw StainException.BadParameter(Name, "give either target or means and stds, not both");
            }
            Statistics = Reinhard.Fit(StainImages.Read(target));
        }
        else if (means is not null && stds is not null)
        {
            Statistics = new ReinhardStatistics(means, stds);
        }
        else
        {
            throw StainException.BadParameter(Name, "give target (an image file) or both means and stds");
        }
        Statistics.Check(Name);
    }

    /// <summary>The target's statistics, fitted or given.</summary>
    public ReinhardStatistics Statistics { get; }

    /// <inheritdoc/>
    public JsonObject FittedParams => new()
    {
        ["means"] = new JsonArray([.. Statistics.Means.Select(v => JsonValue.Create(v))]),
        ["stds"] = new JsonArray([.. Statistics.Stds.Select(v => JsonValue.Create(v))]),
    };

    /// <inheritdoc/>
    public ImageTensor Apply(ImageTensor image) =>
        StainTensors.FromRgb(Reinhard.Transform(StainTensors.ToRgb(image, Name), Statistics));
}

/// <summary>
/// Macenko stain normalisation as a preprocessing step: every tile's haematoxylin and eosin are separated and
/// recombined with the target's stain vectors and concentration maxima. Give <c>target</c> (a PNG, JPEG or TIFF;
/// relative to the configuration file) or the fitted <c>stain_matrix</c> and <c>max_concentrations</c>; a trained
/// model's card stores the fitted values. <c>od_threshold</c> (β) chooses the paper's tissue mask (optical density at
/// least β in every channel) over TIAToolbox's (luminosity). Tiles are RGB values in 0..255 (put this step before any
/// scaling); a tile without tissue (nothing to separate) passes unchanged.
/// </summary>
public sealed class MacenkoNormalize : IFittedPreprocessing
{
    private const string Name = nameof(MacenkoNormalize);

    /// <param name="target">An image whose stains tiles take on.</param>
    /// <param name="stainMatrix">Fitted stain vectors, two rows (haematoxylin, eosin) of three optical densities.</param>
    /// <param name="maxConcentrations">Fitted 99th percentiles of the two concentrations.</param>
    /// <param name="odThreshold">Null for TIAToolbox's tissue mask; β (the paper's 0.15) for optical density at least β in every channel.</param>
    public MacenkoNormalize([FilePath] string? target = null, double[][]? stainMatrix = null, double[]? maxConcentrations = null,
        double? odThreshold = null)
    {
        if (odThreshold is { } beta && (!double.IsFinite(beta) || beta < 0))
        {
            throw StainException.BadParameter(Name, $"od_threshold must be a number of at least 0, got {beta}");
        }
        OdThreshold = odThreshold;
        if (target is not null)
        {
            if (stainMatrix is not null || maxConcentrations is not null)
            {
                throw StainException.BadParameter(Name, "give either target or stain_matrix and max_concentrations, not both");
            }
            Statistics = Macenko.Fit(StainImages.Read(target), odThreshold);
        }
        else if (stainMatrix is not null && maxConcentrations is not null)
        {
            Statistics = new MacenkoStatistics([.. stainMatrix.Select(r => (IReadOnlyList<double>)r)], maxConcentrations);
        }
        else
        {
            throw StainException.BadParameter(Name, "give target (an image file) or both stain_matrix and max_concentrations");
        }
        Statistics.Check(Name);
    }

    /// <summary>The target's statistics, fitted or given.</summary>
    public MacenkoStatistics Statistics { get; }

    /// <summary>The paper's optical-density threshold when tissue is chosen by it; null for TIAToolbox's luminosity mask.</summary>
    public double? OdThreshold { get; }

    /// <inheritdoc/>
    public JsonObject FittedParams
    {
        get
        {
            var fitted = new JsonObject
            {
                ["stain_matrix"] = new JsonArray([.. Statistics.StainMatrix.Select(r => (JsonNode)new JsonArray([.. r.Select(v => JsonValue.Create(v))]))]),
                ["max_concentrations"] = new JsonArray([.. Statistics.MaxConcentrations.Select(v => JsonValue.Create(v))]),
            };
            // Every tile is separated with the same mask as the target was.
            if (OdThreshold is { } beta) fitted["od_threshold"] = beta;
            return fitted;
        }
    }

    /// <inheritdoc/>
    public ImageTensor Apply(ImageTensor image)
    {
        var rgb = StainTensors.ToRgb(image, Name);
        try
        {
            return StainTensors.FromRgb(Macenko.Transform(rgb, Statistics, OdThreshold));
        }
        catch (StainException)
        {
            // A blank or single-colour tile has no stains to separate: it is left as it is.
            return StainTensors.FromRgb(rgb);
        }
    }
}

/// <summary>Between the tensors preprocessing sees (RGB values 0..255) and 8-bit images.</summary>
internal static class StainTensors
{
    public static RgbImage ToRgb(ImageTensor image, string plugin)
    {
        if (image.Channels != 3) throw StainException.NotRgb(plugin, image.Channels);
        var bytes = new byte[image.Data.Length];
        for (var i = 0; i < bytes.Length; i++) bytes[i] = StainColor.Saturate(image.Data[i]);
        return new RgbImage(image.Width, image.Height, bytes);
    }

    public static ImageTensor FromRgb(RgbImage image) => ImageTensor.FromRgb(image.Height, image.Width, image.Pixels);
}
