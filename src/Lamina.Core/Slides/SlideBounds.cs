using System.Globalization;

namespace Lamina.Core.Slides;

/// <summary>
/// The rectangle of level 0 that holds image data, as OpenSlide reports it for MIRAX and a few other formats
/// (<c>openslide.bounds-x</c>, <c>-y</c>, <c>-width</c>, <c>-height</c>). QuPath's OpenSlide server shows only this
/// rectangle and puts its origin at (0, 0), so coordinates QuPath exports on such a slide are relative to
/// (<see cref="X"/>, <see cref="Y"/>): add them to get OpenSlide's level-0 coordinates.
/// </summary>
public sealed record SlideBounds(long X, long Y, long Width, long Height)
{
    /// <summary>
    /// The bounds from OpenSlide's properties, or null unless all four are present and whole numbers (QuPath applies
    /// them only then, too).
    /// </summary>
    public static SlideBounds? FromProperties(IReadOnlyDictionary<string, string> properties)
    {
        ArgumentNullException.ThrowIfNull(properties);
        long? Read(string key) =>
            properties.TryGetValue($"openslide.bounds-{key}", out var text)
            && long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) ? value : null;
        return (Read("x"), Read("y"), Read("width"), Read("height")) is ({ } x, { } y, { } width, { } height)
            ? new SlideBounds(x, y, width, height)
            : null;
    }
}
