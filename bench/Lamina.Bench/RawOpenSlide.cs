using System.Runtime.InteropServices;

namespace Lamina.Bench;

/// <summary>The baseline: OpenSlide's C API called directly, nothing else.</summary>
internal static partial class RawOpenSlide
{
    private const string Library = "libopenslide.so.0";

    [LibraryImport(Library, EntryPoint = "openslide_open", StringMarshalling = StringMarshalling.Utf8)]
    public static partial IntPtr Open(string path);

    [LibraryImport(Library, EntryPoint = "openslide_close")]
    public static partial void Close(IntPtr slide);

    [LibraryImport(Library, EntryPoint = "openslide_read_region")]
    public static unsafe partial void ReadRegion(IntPtr slide, uint* destination, long x, long y, int level, long width, long height);

    [LibraryImport(Library, EntryPoint = "openslide_get_error")]
    public static partial IntPtr GetError(IntPtr slide);
}
