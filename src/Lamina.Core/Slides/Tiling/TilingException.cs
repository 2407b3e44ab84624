using System.Globalization;

namespace Lamina.Core.Slides.Tiling;

/// <summary>
/// Tiling options that cannot work on the slide (both a level and microns, a level it lacks, overlap ≥ tile size), are
/// out of range, or ask for more tiles than a plan may have.
/// </summary>
public sealed class TilingException : LaminaException
{
    public TilingException(string message) : base(message) => Kind = LaminaErrorKind.Validation;

    internal static TilingException TileSizeOutOfRange(int size, int min, int max) =>
        new($"the tile size must be between {min} and {max} pixels, not {size.ToString(CultureInfo.InvariantCulture)}");

    internal static TilingException MicronsPerPixelOutOfRange(double mpp, double min, double max) =>
        new($"the microns per pixel must be between {Number(min)} and {Number(max)}, not {Number(mpp)}");

    internal static TilingException TooManyTiles(string slide, double tiles, double columns, double rows, TilingOptions options, double? mpp, long limit) =>
        new($"slide '{slide}': the plan asks for {Count(tiles)} tiles ({Count(columns)} × {Count(rows)} grid of {options.TileSize}-pixel tiles, " +
            $"overlap {options.Overlap}, at {Scale(options, mpp)}); " +
            $"the limit is {Count(limit)}: tile at a coarser scale, with larger tiles or less overlap") { At = slide };

    private static string Scale(TilingOptions options, double? mpp) =>
        options.MicronsPerPixel is { } asked ? $"{Number(asked)} µm/px"
        : $"level {options.Level ?? 0}" + (mpp is { } m ? $", {Number(m)} µm/px" : "");

    private static string Number(double value) => value.ToString("0.#####", CultureInfo.InvariantCulture);

    private static string Count(double value) =>
        value < 1e15 ? value.ToString("N0", CultureInfo.InvariantCulture) : value.ToString("0.##e0", CultureInfo.InvariantCulture);
}
