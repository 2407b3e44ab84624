namespace Lamina.Core.Stain;

/// <summary>Stain normalisation cannot be done as asked: an unreadable image, statistics that make no sense, an image without tissue.</summary>
public sealed class StainException : LaminaException
{
    private StainException(string message, Exception? inner = null) : base(message, inner) { }

    internal static StainException ImageMissing(string path) =>
        new($"{path}: no such image file") { At = path, Kind = LaminaErrorKind.NotFound };

    internal static StainException ImageUnreadable(string path, string problem, Exception? inner = null) =>
        new($"{path}: not a readable PNG, JPEG or TIFF image ({problem})", inner) { At = path, Kind = LaminaErrorKind.Validation };

    internal static StainException ImageUnwritable(string path, string problem, Exception? inner = null) =>
        new($"{path}: cannot write the image ({problem})", inner) { At = path, Kind = LaminaErrorKind.Failed };

    internal static StainException BadParameter(string plugin, string problem) =>
        new($"{plugin}: {problem}") { At = plugin, Kind = LaminaErrorKind.Validation };

    internal static StainException NoTissue(string what, double threshold) =>
        new($"{what}: no tissue found (no pixel darker than luminosity {threshold}): stain vectors cannot be estimated") { Kind = LaminaErrorKind.Validation };

    internal static StainException NoDenseTissue(string what, double threshold) =>
        new($"{what}: no tissue found (no pixel with an optical density of at least {threshold} in every channel): stain vectors cannot be estimated") { Kind = LaminaErrorKind.Validation };

    internal static StainException Degenerate(string what, string problem) =>
        new($"{what}: {problem}") { Kind = LaminaErrorKind.Validation };

    internal static StainException NotRgb(string plugin, int channels) =>
        new($"{plugin}: stain normalisation takes RGB tiles (3 channels), got {channels}") { At = plugin, Kind = LaminaErrorKind.Validation };
}
