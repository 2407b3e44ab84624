using Lamina.Core.Inference;
using Lamina.Core.Plugins;

namespace Lamina.Lab.Plugins;

/// <summary>
/// Stain augmentation of Tellez et al. (2018): the tile is separated into haematoxylin, eosin and DAB by Ruifrok and
/// Johnston's colour deconvolution (scikit-image's <c>rgb2hed</c> matrix and scaling), each stain s becomes
/// α·s + β with α drawn uniformly from 1 ± <c>sigma</c> and β from ±<c>sigma</c>, and the stains are recombined
/// (<c>hed2rgb</c>) and clipped to 0..255 — the variation between laboratories' staining that a model should shrug
/// off. Unlike <c>rgb2hed</c>, negative stain amounts are kept, so that sigma 0 gives the tile back.
/// </summary>
public sealed class HedJitter : IAugmentation
{
    // Ruifrok and Johnston's optical densities of haematoxylin, eosin and DAB (rows), as scikit-image's rgb_from_hed.
    private static readonly double[,] RgbFromHed = { { 0.65, 0.70, 0.29 }, { 0.07, 0.99, 0.11 }, { 0.27, 0.57, 0.78 } };
    private static readonly double[,] HedFromRgb = Inverse(RgbFromHed);

    // scikit-image's floor on intensities and the logarithm that scales optical density to stain amounts.
    private const double Floor = 1e-6;
    private static readonly double LogFloor = Math.Log(Floor);

    private readonly double _sigma;

    /// <param name="sigma">Half-width of the factor's range around 1 and of the bias's range around 0; 0.05 is light, 0.2 strong.</param>
    public HedJitter(double sigma = 0.05)
    {
        if (sigma is < 0 or >= 1 || double.IsNaN(sigma))
        {
            throw TrainingException.BadParameter("HedJitter", $"sigma must be in [0, 1), got {sigma}");
        }
        _sigma = sigma;
    }

    public ImageTensor Apply(ImageTensor image, Random random)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(random);
        if (image.Channels != 3)
        {
            throw TrainingException.Mismatch($"HedJitter: tiles must be RGB (3 channels), got {image.Channels}");
        }
        var alpha = new double[3];
        var beta = new double[3];
        for (var s = 0; s < 3; s++) alpha[s] = 1 + (random.NextDouble() * 2 - 1) * _sigma;
        for (var s = 0; s < 3; s++) beta[s] = (random.NextDouble() * 2 - 1) * _sigma;
        return Perturb(image, alpha, beta);
    }

    /// <summary>The tile with each stain amount s (haematoxylin, eosin, DAB) replaced by alpha·s + beta.</summary>
    internal static ImageTensor Perturb(ImageTensor image, IReadOnlyList<double> alpha, IReadOnlyList<double> beta)
    {
        var source = image.Data;
        var data = new float[source.Length];
        Span<double> od = stackalloc double[3];
        Span<double> stains = stackalloc double[3];
        for (var i = 0; i < source.Length; i += 3)
        {
            for (var c = 0; c < 3; c++) od[c] = Math.Log(Math.Max(source[i + c] / 255.0, Floor)) / LogFloor;
            for (var s = 0; s < 3; s++)
            {
                var amount = od[0] * HedFromRgb[0, s] + od[1] * HedFromRgb[1, s] + od[2] * HedFromRgb[2, s];
                stains[s] = alpha[s] * amount + beta[s];
            }
            for (var c = 0; c < 3; c++)
            {
                var logRgb = (stains[0] * RgbFromHed[0, c] + stains[1] * RgbFromHed[1, c] + stains[2] * RgbFromHed[2, c]) * LogFloor;
                data[i + c] = (float)(Math.Clamp(Math.Exp(logRgb), 0, 1) * 255);
            }
        }
        return new ImageTensor(image.Height, image.Width, 3, data);
    }

    private static double[,] Inverse(double[,] m)
    {
        var det = m[0, 0] * (m[1, 1] * m[2, 2] - m[1, 2] * m[2, 1])
                - m[0, 1] * (m[1, 0] * m[2, 2] - m[1, 2] * m[2, 0])
                + m[0, 2] * (m[1, 0] * m[2, 1] - m[1, 1] * m[2, 0]);
        var inverse = new double[3, 3];
        for (var r = 0; r < 3; r++)
        {
            for (var c = 0; c < 3; c++)
            {
                // Cofactor of (c, r), for the adjugate.
                var (r1, r2) = (c == 0 ? 1 : 0, c == 2 ? 1 : 2);
                var (c1, c2) = (r == 0 ? 1 : 0, r == 2 ? 1 : 2);
                var minor = m[r1, c1] * m[r2, c2] - m[r1, c2] * m[r2, c1];
                inverse[r, c] = ((r + c) % 2 == 0 ? 1 : -1) * minor / det;
            }
        }
        return inverse;
    }
}
