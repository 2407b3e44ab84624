namespace Lamina.Core.Slides;

/// <summary>One level of a slide's pyramid.</summary>
/// <param name="Index">0 is full resolution.</param>
/// <param name="Width">Width in this level's pixels.</param>
/// <param name="Height">Height in this level's pixels.</param>
/// <param name="Downsample">Level-0 pixels per pixel of this level.</param>
public sealed record SlideLevel(int Index, long Width, long Height, double Downsample);

/// <summary>An 8-bit RGB image, row by row, three bytes a pixel.</summary>
public sealed record RgbImage(int Width, int Height, byte[] Pixels);

/// <summary>A whole slide at low resolution: each pixel covers <paramref name="Downsample"/>² level-0 pixels.</summary>
public sealed record SlideOverview(RgbImage Image, double Downsample);
