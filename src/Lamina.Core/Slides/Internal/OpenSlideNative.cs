using System.Runtime.InteropServices;

namespace Lamina.Core.Slides.Internal;

/// <summary>The OpenSlide 3.4/4.x C API (Debian <c>libopenslide0</c>).</summary>
internal static partial class OpenSlideNative
{
    private const string Library = "libopenslide.so.0";

    [LibraryImport(Library, EntryPoint = "openslide_open", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial OpenSlideHandle Open(string filename);

    [LibraryImport(Library, EntryPoint = "openslide_close")]
    internal static partial void Close(nint osr);

    // Strings OpenSlide returns belong to it: read them, never free them.
    [LibraryImport(Library, EntryPoint = "openslide_get_error")]
    internal static partial nint GetError(OpenSlideHandle osr);

    [LibraryImport(Library, EntryPoint = "openslide_get_level_count")]
    internal static partial int GetLevelCount(OpenSlideHandle osr);

    [LibraryImport(Library, EntryPoint = "openslide_get_level_dimensions")]
    internal static partial void GetLevelDimensions(OpenSlideHandle osr, int level, out long width, out long height);

    [LibraryImport(Library, EntryPoint = "openslide_get_level_downsample")]
    internal static partial double GetLevelDownsample(OpenSlideHandle osr, int level);

    [LibraryImport(Library, EntryPoint = "openslide_read_region")]
    internal static unsafe partial void ReadRegion(OpenSlideHandle osr, uint* dest, long x, long y, int level, long width, long height);

    [LibraryImport(Library, EntryPoint = "openslide_get_property_names")]
    internal static partial nint GetPropertyNames(OpenSlideHandle osr);

    [LibraryImport(Library, EntryPoint = "openslide_get_property_value", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial nint GetPropertyValue(OpenSlideHandle osr, string name);

    [LibraryImport(Library, EntryPoint = "openslide_get_associated_image_names")]
    internal static partial nint GetAssociatedImageNames(OpenSlideHandle osr);

    [LibraryImport(Library, EntryPoint = "openslide_get_associated_image_dimensions", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial void GetAssociatedImageDimensions(OpenSlideHandle osr, string name, out long width, out long height);

    [LibraryImport(Library, EntryPoint = "openslide_read_associated_image", StringMarshalling = StringMarshalling.Utf8)]
    internal static unsafe partial void ReadAssociatedImage(OpenSlideHandle osr, string name, uint* dest);

    [LibraryImport(Library, EntryPoint = "openslide_get_version")]
    internal static partial nint GetVersion();

    internal static string? String(nint pointer) => pointer == 0 ? null : Marshal.PtrToStringUTF8(pointer);

    /// <summary>A NULL-terminated array of C strings.</summary>
    internal static List<string> Strings(nint array)
    {
        var result = new List<string>();
        if (array == 0) return result;
        for (var i = 0; ; i++)
        {
            var item = Marshal.ReadIntPtr(array, i * IntPtr.Size);
            if (item == 0) return result;
            result.Add(Marshal.PtrToStringUTF8(item)!);
        }
    }
}

/// <summary>An <c>openslide_t*</c>; closed exactly once, never while a call is using it.</summary>
internal sealed class OpenSlideHandle : SafeHandle
{
    public OpenSlideHandle() : base(0, ownsHandle: true) { }

    public override bool IsInvalid => handle == 0;

    protected override bool ReleaseHandle()
    {
        OpenSlideNative.Close(handle);
        return true;
    }
}
