using System.Reflection;
using System.Text;
using Lamina.Core.Provenance;
using Lamina.Core.Slides;

namespace Lamina.Lab.Datasets;

/// <summary>What laying out one slide's labelled tiles found: the slide's geometry and the tiles kept, with their labels.</summary>
/// <param name="TissueTiles">Tiles with enough tissue, before labelling dropped any.</param>
/// <param name="Warnings">What reading the annotations skipped (a line, an unknown geometry), each naming the file and line.</param>
public sealed record PlannedSlide(long Width, long Height, double? MicronsPerPixel, int TissueTiles, IReadOnlyList<LabelledTile> Tiles,
    IReadOnlyList<string> Warnings)
{
    /// <summary>The class names the slide's annotations use (regions and points), in ordinal order.</summary>
    public IReadOnlyList<string> AnnotationClasses { get; init; } = [];

    /// <summary>A layout whose annotations were read without warnings.</summary>
    public PlannedSlide(long width, long height, double? micronsPerPixel, int tissueTiles, IReadOnlyList<LabelledTile> tiles)
        : this(width, height, micronsPerPixel, tissueTiles, tiles, []) { }
}

/// <summary>
/// Labelled tile layouts on disk, <c>root/&lt;key digest&gt;.plan</c>, keyed by the slide's SHA-256, the annotation file's
/// SHA-256, the loader's settings and the Lamina build: a run on unchanged slides and labels opens no slide and runs no
/// tissue detection. The digests come from <see cref="SlideDigests"/> (by path, size and modification time), so an edited
/// slide or annotation file gets a new key. The annotation file's warnings are kept with the layout, so a run that reads
/// the layout from the cache still reports them. Files are written to a temporary name and renamed into place; a damaged or
/// foreign file is a miss.
/// </summary>
public sealed class TilePlanCache
{
    private static readonly byte[] Magic = "LAMINA-PLAN2\n"u8.ToArray();

    // Tissue detection and tiling are Lamina's code: another build may lay out other tiles.
    private static readonly string Build = string.Join(", ",
        new[] { typeof(Slide).Assembly, typeof(TilePlanCache).Assembly }.Select(a =>
            $"{a.GetName().Name} {a.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? a.GetName().Version?.ToString()}"));

    private readonly SlideDigests _digests;

    public TilePlanCache(string root, SlideDigests digests)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(root);
        ArgumentNullException.ThrowIfNull(digests);
        Root = Path.GetFullPath(root);
        _digests = digests;
    }

    /// <summary>The cache's folder.</summary>
    public string Root { get; }

    /// <summary>Layouts read from the cache by this instance.</summary>
    public int Hits { get; private set; }

    /// <summary>The layout of <paramref name="slidePath"/> from the cache, or from <paramref name="plan"/>, which is then stored.</summary>
    /// <param name="settings">Everything besides the two files that decides the layout (the loader's settings, canonically written).</param>
    public async Task<PlannedSlide> GetOrPlanAsync(string slidePath, string? annotationsPath, string settings, Func<PlannedSlide> plan,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(plan);
        var slide = await _digests.DigestAsync(slidePath, cancellationToken);
        var annotations = annotationsPath is null ? "none" : (await _digests.DigestAsync(annotationsPath, cancellationToken)).Sha256;
        var canonical = $"lamina.tile-plan/1\nslide {slide.Sha256}\nannotations {annotations}\nsettings {settings}\nbuild {Build}\n";
        var path = Path.Combine(Root, Sha256Digest.OfText(canonical).Hex + ".plan");
        if (TryRead(path, canonical) is { } cached)
        {
            Hits++;
            return cached;
        }
        var planned = plan();
        Write(path, canonical, planned);
        return planned;
    }

    private static PlannedSlide? TryRead(string path, string canonical)
    {
        try
        {
            using var reader = new BinaryReader(File.OpenRead(path), Encoding.UTF8);
            if (!reader.ReadBytes(Magic.Length).AsSpan().SequenceEqual(Magic) || reader.ReadString() != canonical) return null;
            var (width, height) = (reader.ReadInt64(), reader.ReadInt64());
            double? mpp = reader.ReadBoolean() ? reader.ReadDouble() : null;
            var tissueTiles = reader.ReadInt32();
            var tiles = new LabelledTile[reader.ReadInt32()];
            for (var i = 0; i < tiles.Length; i++)
            {
                var tile = new Tile(reader.ReadInt32(), reader.ReadInt32(), reader.ReadInt32(), reader.ReadInt64(), reader.ReadInt64(),
                    reader.ReadDouble(), reader.ReadDouble(), reader.ReadDouble());
                tiles[i] = new LabelledTile(tile, reader.ReadInt32());
            }
            var warnings = new string[reader.ReadInt32()];
            for (var i = 0; i < warnings.Length; i++) warnings[i] = reader.ReadString();
            var classes = new string[reader.ReadInt32()];
            for (var i = 0; i < classes.Length; i++) classes[i] = reader.ReadString();
            return reader.BaseStream.Position == reader.BaseStream.Length
                ? new PlannedSlide(width, height, mpp, tissueTiles, tiles, warnings) { AnnotationClasses = classes }
                : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private void Write(string path, string canonical, PlannedSlide planned)
    {
        Directory.CreateDirectory(Root);
        var temporary = Path.Combine(Root, $".{Guid.NewGuid():N}.tmp");
        try
        {
            using (var writer = new BinaryWriter(new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16), Encoding.UTF8))
            {
                writer.Write(Magic);
                writer.Write(canonical);
                writer.Write(planned.Width);
                writer.Write(planned.Height);
                writer.Write(planned.MicronsPerPixel is not null);
                if (planned.MicronsPerPixel is { } mpp) writer.Write(mpp);
                writer.Write(planned.TissueTiles);
                writer.Write(planned.Tiles.Count);
                foreach (var (tile, label) in planned.Tiles)
                {
                    writer.Write(tile.Index);
                    writer.Write(tile.Column);
                    writer.Write(tile.Row);
                    writer.Write(tile.X);
                    writer.Write(tile.Y);
                    writer.Write(tile.Width);
                    writer.Write(tile.Height);
                    writer.Write(tile.TissueFraction);
                    writer.Write(label);
                }
                writer.Write(planned.Warnings.Count);
                foreach (var warning in planned.Warnings) writer.Write(warning);
                writer.Write(planned.AnnotationClasses.Count);
                foreach (var name in planned.AnnotationClasses) writer.Write(name);
            }
            File.Move(temporary, path, overwrite: true);
        }
        finally
        {
            File.Delete(temporary);
        }
    }
}
