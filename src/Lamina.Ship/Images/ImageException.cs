using Lamina.Core;

namespace Lamina.Ship.Images;

/// <summary>An image could not be read, built, pushed or verified; the message names the reference, digest or file at fault.</summary>
public class ImageException(string message, Exception? inner = null) : ShipException(message, inner);

/// <summary>A manifest, tag or blob that a store does not hold.</summary>
public sealed class ImageNotFoundException : ImageException
{
    public ImageNotFoundException(string message, Exception? inner = null) : base(message, inner) => Kind = LaminaErrorKind.NotFound;
}
