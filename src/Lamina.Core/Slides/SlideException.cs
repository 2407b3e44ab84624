namespace Lamina.Core.Slides;

/// <summary>A slide that cannot be opened or read, or lacks what an operation needs (such as microns per pixel).</summary>
public class SlideException : LaminaException
{
    public SlideException(string message) : base(message) { }

    public SlideException(string message, Exception? inner) : base(message, inner) { }

    /// <summary>The slide file concerned, when there is one (what <see cref="LaminaException.At"/> names).</summary>
    public string? SlidePath => At;

    /// <summary>No file at <paramref name="path"/>.</summary>
    public static SlideException NotFound(string path) =>
        new($"slide '{path}' does not exist") { At = path, Kind = LaminaErrorKind.NotFound };

    internal static SlideException Unreadable(string path, string reason) =>
        new($"cannot open slide '{path}': {reason}") { At = path, Kind = LaminaErrorKind.Validation };

    internal static SlideException ReadFailed(string path, string reason) =>
        new($"cannot read slide '{path}': {reason}") { At = path };

    internal static SlideException NoMicronsPerPixel(string path) =>
        new($"slide '{path}' does not record its microns per pixel; pass --mpp-override <MPP> (or the 'mpp' parameter) to give it, or tile by level instead") { At = path, Kind = LaminaErrorKind.Validation };

    internal static SlideException LibraryMissing(string path, Exception inner) =>
        new($"cannot open slide '{path}': the OpenSlide library (libopenslide.so.0) is not installed; install the Debian package libopenslide0", inner) { At = path };
}
