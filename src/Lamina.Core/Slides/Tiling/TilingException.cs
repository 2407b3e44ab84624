namespace Lamina.Core.Slides.Tiling;

/// <summary>Tiling options that cannot work on the slide (both a level and microns, a level it lacks, overlap ≥ tile size).</summary>
public sealed class TilingException : LaminaException
{
    public TilingException(string message) : base(message) => Kind = LaminaErrorKind.Validation;
}
