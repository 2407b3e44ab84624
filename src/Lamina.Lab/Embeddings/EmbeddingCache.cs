using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;

namespace Lamina.Lab.Embeddings;

/// <summary>
/// Embeddings on disk, shared by every run and every process: <c>root/&lt;group digest&gt;/&lt;part&gt;.emb</c>. Each part
/// file is written once, to a temporary name, flushed to disk, then renamed into place, and never changed: concurrent
/// writers add parts side by side and a reader sees whole parts or none. A damaged or foreign part is ignored, so its
/// embeddings are computed again.
/// </summary>
public sealed class EmbeddingCache
{
    private static readonly byte[] Magic = "LAMINA-EMB1\n"u8.ToArray();
    private const int RecordHeaderBytes = 8 + 8 + 8 + 8;

    public EmbeddingCache(string root)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(root);
        Root = Path.GetFullPath(root);
    }

    /// <summary>The cache's folder.</summary>
    public string Root { get; }

    /// <summary>The folder holding a group's parts.</summary>
    public string GroupPath(EmbeddingGroupKey key) => Path.Combine(Root, key.Digest);

    /// <summary>Every embedding stored for a group, by tile.</summary>
    /// <param name="embeddingSize">Floats per embedding; parts of another size are ignored.</param>
    public Dictionary<TileKey, float[]> Load(EmbeddingGroupKey key, int embeddingSize)
    {
        ArgumentNullException.ThrowIfNull(key);
        var found = new Dictionary<TileKey, float[]>();
        var folder = GroupPath(key);
        if (!Directory.Exists(folder)) return found;
        // Sorted, so that the result does not depend on the directory's order.
        foreach (var part in Directory.GetFiles(folder, "*.emb").Order(StringComparer.Ordinal))
        {
            byte[] bytes;
            try
            {
                bytes = File.ReadAllBytes(part);
            }
            catch (IOException)
            {
                continue;
            }
            ReadPart(bytes, key.Canonical, embeddingSize, found);
        }
        return found;
    }

    /// <summary>Adds embeddings to a group as one new part, atomically.</summary>
    public void Store(EmbeddingGroupKey key, IReadOnlyCollection<KeyValuePair<TileKey, float[]>> embeddings)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(embeddings);
        if (embeddings.Count == 0) return;
        var size = embeddings.First().Value.Length;
        var canonical = Encoding.UTF8.GetBytes(key.Canonical);
        var folder = GroupPath(key);
        Directory.CreateDirectory(folder);
        var name = Guid.NewGuid().ToString("N");
        var temporary = Path.Combine(folder, $".{name}.tmp");
        try
        {
            using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                Span<byte> number = stackalloc byte[8];
                stream.Write(Magic);
                WriteInt(stream, canonical.Length);
                stream.Write(canonical);
                WriteInt(stream, size);
                WriteInt(stream, embeddings.Count);
                foreach (var (tile, values) in embeddings)
                {
                    if (values.Length != size) throw new ArgumentException($"embeddings of {values.Length} and {size} floats in one part", nameof(embeddings));
                    BinaryPrimitives.WriteInt64LittleEndian(number, tile.X);
                    stream.Write(number);
                    BinaryPrimitives.WriteInt64LittleEndian(number, tile.Y);
                    stream.Write(number);
                    BinaryPrimitives.WriteDoubleLittleEndian(number, tile.Width);
                    stream.Write(number);
                    BinaryPrimitives.WriteDoubleLittleEndian(number, tile.Height);
                    stream.Write(number);
                    stream.Write(MemoryMarshal.AsBytes(values.AsSpan()));
                }
                stream.Flush(flushToDisk: true);
            }
            File.Move(temporary, Path.Combine(folder, name + ".emb"));
        }
        finally
        {
            File.Delete(temporary);
        }
    }

    private static void WriteInt(Stream stream, int value)
    {
        Span<byte> bytes = stackalloc byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(bytes, value);
        stream.Write(bytes);
    }

    private static void ReadPart(ReadOnlySpan<byte> bytes, string canonical, int embeddingSize, Dictionary<TileKey, float[]> into)
    {
        if (!BitConverter.IsLittleEndian || !bytes.StartsWith(Magic)) return;
        var at = Magic.Length;
        if (bytes.Length < at + 4) return;
        var keyLength = BinaryPrimitives.ReadInt32LittleEndian(bytes[at..]);
        at += 4;
        if (keyLength < 0 || bytes.Length < at + keyLength + 8) return;
        if (Encoding.UTF8.GetString(bytes.Slice(at, keyLength)) != canonical) return;
        at += keyLength;
        var size = BinaryPrimitives.ReadInt32LittleEndian(bytes[at..]);
        var count = BinaryPrimitives.ReadInt32LittleEndian(bytes[(at + 4)..]);
        at += 8;
        var record = RecordHeaderBytes + 4L * size;
        if (size != embeddingSize || count < 0 || bytes.Length - at != record * count) return;
        for (var i = 0; i < count; i++, at += (int)record)
        {
            var tile = new TileKey(
                BinaryPrimitives.ReadInt64LittleEndian(bytes[at..]),
                BinaryPrimitives.ReadInt64LittleEndian(bytes[(at + 8)..]),
                BinaryPrimitives.ReadDoubleLittleEndian(bytes[(at + 16)..]),
                BinaryPrimitives.ReadDoubleLittleEndian(bytes[(at + 24)..]));
            into[tile] = MemoryMarshal.Cast<byte, float>(bytes.Slice(at + RecordHeaderBytes, 4 * size)).ToArray();
        }
    }
}
