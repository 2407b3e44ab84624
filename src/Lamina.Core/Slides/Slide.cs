using System.Buffers;
using System.Globalization;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Lamina.Core.Slides.Internal;

namespace Lamina.Core.Slides;

/// <summary>
/// A whole-slide image read through OpenSlide (Aperio, Hamamatsu, Leica, MIRAX, Philips, Ventana, generic tiled TIFF).
/// Reads are thread-safe: any number of threads may call <see cref="ReadRegion"/> on one instance at once,
/// as OpenSlide allows; <see cref="Dispose"/> waits for no one, so dispose only after the readers are done.
/// </summary>
public sealed class Slide : IDisposable
{
    private readonly OpenSlideHandle _handle;
    private readonly double? _mppOverride;

    private Slide(string path, OpenSlideHandle handle, double? mppOverride)
    {
        Path = path;
        _handle = handle;
        _mppOverride = mppOverride;
        var names = OpenSlideNative.Strings(OpenSlideNative.GetPropertyNames(handle));
        Properties = names.ToDictionary(n => n, n => OpenSlideNative.String(OpenSlideNative.GetPropertyValue(handle, n)) ?? "", StringComparer.Ordinal);
        var count = OpenSlideNative.GetLevelCount(handle);
        var levels = new SlideLevel[Math.Max(count, 0)];
        for (var i = 0; i < levels.Length; i++)
        {
            OpenSlideNative.GetLevelDimensions(handle, i, out var width, out var height);
            levels[i] = new SlideLevel(i, width, height, OpenSlideNative.GetLevelDownsample(handle, i));
        }
        Levels = levels;
        AssociatedImageNames = OpenSlideNative.Strings(OpenSlideNative.GetAssociatedImageNames(handle));
        ThrowIfFailed(SlideException.Unreadable);
        if (levels.Length == 0) throw SlideException.Unreadable(path, "it has no pyramid levels");
    }

    /// <summary>
    /// Opens a slide. <paramref name="mppOverride"/> gives the microns per pixel of level 0, replacing what the file
    /// records (or supplying it where the file records none).
    /// </summary>
    /// <exception cref="SlideException">The file does not exist, OpenSlide cannot read it, or OpenSlide is not installed.</exception>
    public static Slide Open(string path, double? mppOverride = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (mppOverride is { } mpp && !(mpp > 0 && double.IsFinite(mpp)))
        {
            throw new SlideException($"the microns per pixel given for slide '{path}' must be a positive number, not {mpp.ToString(CultureInfo.InvariantCulture)}") { At = path };
        }
        if (!File.Exists(path)) throw SlideException.NotFound(path);
        OpenSlideHandle handle;
        try
        {
            handle = OpenSlideNative.Open(System.IO.Path.GetFullPath(path));
        }
        catch (DllNotFoundException e)
        {
            throw SlideException.LibraryMissing(path, e);
        }
        if (handle.IsInvalid)
        {
            handle.Dispose();
            throw SlideException.Unreadable(path, "OpenSlide does not recognise this file format");
        }
        try
        {
            if (OpenSlideNative.String(OpenSlideNative.GetError(handle)) is { } reason) throw SlideException.Unreadable(path, reason);
            return new Slide(path, handle, mppOverride);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>The path the slide was opened with.</summary>
    public string Path { get; }

    /// <summary>OpenSlide's vendor name (<c>aperio</c>, <c>generic-tiff</c>…), or <c>generic</c> when it names none.</summary>
    public string Vendor => Properties.GetValueOrDefault("openslide.vendor") is { Length: > 0 } v ? v : "generic";

    /// <summary>The pyramid, full resolution first.</summary>
    public IReadOnlyList<SlideLevel> Levels { get; }

    public int LevelCount => Levels.Count;

    /// <summary>Level-0 width in pixels.</summary>
    public long Width => Levels[0].Width;

    /// <summary>Level-0 height in pixels.</summary>
    public long Height => Levels[0].Height;

    /// <summary>Every property OpenSlide reports (vendor ones and the <c>openslide.*</c> ones).</summary>
    public IReadOnlyDictionary<string, string> Properties { get; }

    /// <summary>
    /// The level-0 rectangle that holds image data where OpenSlide reports one (MIRAX and a few others), else null:
    /// the origin of the coordinates QuPath exports for this slide (see <see cref="SlideBounds"/>).
    /// </summary>
    public SlideBounds? Bounds => SlideBounds.FromProperties(Properties);

    /// <summary>Names of the associated images: <c>label</c>, <c>macro</c>, <c>thumbnail</c>… as the file has them.</summary>
    public IReadOnlyList<string> AssociatedImageNames { get; }

    /// <summary>Microns per level-0 pixel: the override given to <see cref="Open"/>, else the mean of the recorded x and y values, else null.</summary>
    public double? MicronsPerPixel => _mppOverride ?? RecordedMicronsPerPixel;

    /// <summary>What the file itself records, ignoring any override.</summary>
    public double? RecordedMicronsPerPixel
    {
        get
        {
            var values = new[] { "openslide.mpp-x", "openslide.mpp-y" }
                .Select(k => Properties.GetValueOrDefault(k))
                .Select(v => double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && d > 0 && double.IsFinite(d) ? d : (double?)null)
                .OfType<double>()
                .ToList();
            return values.Count == 0 ? null : values.Average();
        }
    }

    /// <summary>The microns per level-0 pixel, for operations that cannot work without it.</summary>
    /// <exception cref="SlideException">Neither the file nor the caller gives it; the message says how to supply it.</exception>
    public double RequireMicronsPerPixel() => MicronsPerPixel ?? throw SlideException.NoMicronsPerPixel(Path);

    /// <summary>The deepest level whose downsample is at most <paramref name="downsample"/> (level 0 when none is).</summary>
    public int BestLevelForDownsample(double downsample)
    {
        var best = 0;
        for (var i = 1; i < Levels.Count; i++)
        {
            // A small tolerance: recorded downsamples such as 3.99997 count as 4.
            if (Levels[i].Downsample <= downsample * (1 + 1e-6)) best = i;
        }
        return best;
    }

    /// <summary>The size of an associated image, without reading it.</summary>
    public (int Width, int Height) AssociatedImageSize(string name)
    {
        RequireAssociated(name);
        OpenSlideNative.GetAssociatedImageDimensions(_handle, name, out var width, out var height);
        ThrowIfFailed(SlideException.ReadFailed);
        return ((int)width, (int)height);
    }

    /// <summary>Reads an associated image (label, macro, thumbnail) as RGB, transparent areas on white.</summary>
    public unsafe RgbImage ReadAssociatedImage(string name)
    {
        var (width, height) = AssociatedImageSize(name);
        var argb = new uint[checked(width * height)];
        fixed (uint* dest = argb)
        {
            OpenSlideNative.ReadAssociatedImage(_handle, name, dest);
        }
        ThrowIfFailed(SlideException.ReadFailed);
        var rgb = new byte[argb.Length * 3];
        ToRgb(argb, rgb);
        return new RgbImage(width, height, rgb);
    }

    /// <summary>
    /// Reads <paramref name="width"/>×<paramref name="height"/> pixels of <paramref name="level"/> whose top-left corner is
    /// (<paramref name="x0"/>, <paramref name="y0"/>) in level-0 coordinates, as OpenSlide does, into <paramref name="rgb"/>
    /// (three bytes a pixel, row by row). Areas outside the slide or transparent come out white.
    /// </summary>
    public unsafe void ReadRegion(long x0, long y0, int level, int width, int height, Span<byte> rgb)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(width);
        ArgumentOutOfRangeException.ThrowIfNegative(height);
        if ((uint)level >= (uint)Levels.Count)
        {
            throw new ArgumentOutOfRangeException(nameof(level), level, $"slide '{Path}' has levels 0 to {Levels.Count - 1}");
        }
        var pixels = checked(width * height);
        if (rgb.Length < pixels * 3) throw new ArgumentException($"the buffer holds {rgb.Length} bytes; {pixels * 3} are needed", nameof(rgb));
        if (pixels == 0) return;
        var argb = ArrayPool<uint>.Shared.Rent(pixels);
        try
        {
            fixed (uint* dest = argb)
            {
                OpenSlideNative.ReadRegion(_handle, dest, x0, y0, level, width, height);
            }
            ThrowIfFailed(SlideException.ReadFailed);
            ToRgb(argb.AsSpan(0, pixels), rgb);
        }
        finally
        {
            ArrayPool<uint>.Shared.Return(argb);
        }
    }

    /// <summary>
    /// The whole slide at about <paramref name="downsample"/> (level-0 pixels per output pixel, never finer than asked
    /// by more than the nearest level allows): read from the deepest level at or below it, box-averaged, in chunks so memory
    /// stays bounded whatever the slide size.
    /// </summary>
    public SlideOverview ReadOverview(double downsample) => Downsampler.Read(this, downsample);

    public void Dispose() => _handle.Dispose();

    /// <summary>OpenSlide's premultiplied ARGB to RGB composited onto white: c + (255 - a) for each channel.</summary>
    /// <remarks>Four pixels at a time with SSSE3 where the processor has it: this runs on every pixel of every tile.</remarks>
    internal static unsafe void ToRgb(ReadOnlySpan<uint> argb, Span<byte> rgb)
    {
        if (rgb.Length < argb.Length * 3)
        {
            throw new ArgumentException($"the RGB buffer holds {rgb.Length} bytes; {argb.Length * 3} are needed", nameof(rgb));
        }
        var i = 0;
        fixed (uint* source = argb)
        fixed (byte* destination = rgb)
        {
            if (Ssse3.IsSupported)
            {
                // Bytes of a pixel in memory: B, G, R, A. Spread A over B, G, R (index 0x80 gives 0), add 255 - A with
                // saturation, then gather R, G, B of the four pixels into the first twelve bytes.
                var spreadAlpha = Vector128.Create((byte)3, 3, 3, 0x80, 7, 7, 7, 0x80, 11, 11, 11, 0x80, 15, 15, 15, 0x80);
                var gatherRgb = Vector128.Create((byte)2, 1, 0, 6, 5, 4, 10, 9, 8, 14, 13, 12, 0x80, 0x80, 0x80, 0x80);
                var white = Vector128<byte>.AllBitsSet;
                // Each step stores sixteen bytes and keeps twelve: stop while four spare bytes remain.
                for (; i + 4 <= argb.Length && (i + 4) * 3 + 4 <= rgb.Length; i += 4)
                {
                    var pixels = Sse2.LoadVector128((byte*)(source + i));
                    var background = Sse2.SubtractSaturate(white, Ssse3.Shuffle(pixels, spreadAlpha));
                    var composed = Sse2.AddSaturate(pixels, Sse2.And(background, Vector128.Create(0x00FFFFFFu).AsByte()));
                    Sse2.Store(destination + i * 3, Ssse3.Shuffle(composed, gatherRgb));
                }
            }
            for (; i < argb.Length; i++)
            {
                var p = source[i];
                var background = 255 - (int)(p >> 24);
                var o = destination + i * 3;
                o[0] = (byte)Math.Min(255, (int)((p >> 16) & 0xFF) + background);
                o[1] = (byte)Math.Min(255, (int)((p >> 8) & 0xFF) + background);
                o[2] = (byte)Math.Min(255, (int)(p & 0xFF) + background);
            }
        }
    }

    private void RequireAssociated(string name)
    {
        if (!AssociatedImageNames.Contains(name, StringComparer.Ordinal))
        {
            var known = AssociatedImageNames.Count == 0 ? "it has none" : $"it has {string.Join(", ", AssociatedImageNames)}";
            throw new SlideException($"slide '{Path}' has no associated image '{name}'; {known}") { At = Path };
        }
    }

    private void ThrowIfFailed(Func<string, string, SlideException> error)
    {
        ObjectDisposedException.ThrowIf(_handle.IsClosed, this);
        if (OpenSlideNative.String(OpenSlideNative.GetError(_handle)) is { } message) throw error(Path, message);
    }
}
