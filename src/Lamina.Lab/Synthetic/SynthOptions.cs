namespace Lamina.Lab.Synthetic;

/// <summary>What a synthetic slide looks like on disk: its size, the seed that decides everything drawn, and its scale.</summary>
/// <param name="Width">Width of level 0 in pixels.</param>
/// <param name="Height">Height of level 0 in pixels.</param>
/// <param name="Seed">Decides the tissue, carcinoma, mitoses and textures; the same seed gives the same bytes.</param>
/// <param name="MicronsPerPixel">Level-0 resolution stored in the slide (default 0.25, a 40× scan); sizes of drawn structures follow it.</param>
/// <param name="TileSize">Edge of the TIFF's square tiles in pixels (default 256; a multiple of 16).</param>
public sealed record SynthOptions(int Width, int Height, int Seed, double MicronsPerPixel = 0.25, int TileSize = 256)
{
    /// <summary>The smallest edge a synthetic slide may have: enough for tissue, carcinoma and a pyramid.</summary>
    public const int MinimumEdge = 512;

    /// <summary>The laboratory's staining and scanner (<see cref="StainVariation"/>); null draws the renderer's own colours.</summary>
    public StainVariation? Stain { get; init; }

    /// <summary>Throws a <see cref="SynthException"/> naming the first option out of range.</summary>
    public void Validate()
    {
        if (Width < MinimumEdge || Height < MinimumEdge) throw SynthException.Invalid($"the slide must be at least {MinimumEdge} x {MinimumEdge} pixels, not {Width} x {Height}");
        if ((long)Width * Height > 1L << 40) throw SynthException.Invalid($"{Width} x {Height} pixels is more than the TIFF writer handles");
        if (!(MicronsPerPixel is > 0.01 and <= 10)) throw SynthException.Invalid($"microns per pixel must be between 0.01 and 10, not {MicronsPerPixel}");
        if (TileSize < 16 || TileSize % 16 != 0 || TileSize > 4096) throw SynthException.Invalid($"the tile size must be a multiple of 16 between 16 and 4096, not {TileSize}");
        Stain?.Validate();
    }
}

/// <summary>What one generated slide holds, from its ground truth.</summary>
/// <param name="SlidePath">The pyramidal TIFF written.</param>
/// <param name="GroundTruthPath">The QuPath GeoJSON written.</param>
/// <param name="Width">Width of level 0 in pixels.</param>
/// <param name="Height">Height of level 0 in pixels.</param>
/// <param name="Seed">The seed the slide was drawn from.</param>
/// <param name="MicronsPerPixel">Level-0 resolution.</param>
/// <param name="CarcinomaAreaPixels">Area of the carcinoma polygons in level-0 square pixels.</param>
/// <param name="CarcinomaAreaMm2">Area of the carcinoma polygons in square millimetres.</param>
/// <param name="CarcinomaRegions">Number of carcinoma polygons.</param>
/// <param name="MitosisCount">Number of mitotic figures (all inside carcinoma).</param>
/// <param name="TissueAreaPixels">Area of the tissue outline in level-0 square pixels.</param>
/// <param name="TissueAreaMm2">Area of the tissue outline in square millimetres.</param>
public sealed record SynthSummary(
    string SlidePath,
    string GroundTruthPath,
    int Width,
    int Height,
    int Seed,
    double MicronsPerPixel,
    double CarcinomaAreaPixels,
    double CarcinomaAreaMm2,
    int CarcinomaRegions,
    int MitosisCount,
    double TissueAreaPixels,
    double TissueAreaMm2);

/// <summary>A synthetic slide that cannot be made: options out of range, or libvips failing to write it.</summary>
public sealed class SynthException : Core.LaminaException
{
    private SynthException(string message, Exception? inner = null) : base(message, inner) { }

    internal static SynthException Invalid(string reason) => new($"synthetic slide: {reason}") { Kind = Core.LaminaErrorKind.Usage };

    internal static SynthException WriteFailed(string path, Exception inner) => new($"{path}: could not write the synthetic slide: {inner.Message.Trim()}", inner);
}
