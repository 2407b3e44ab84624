namespace Lamina.Core.Inference;

/// <summary>How to read a backbone's ONNX graph where the graph alone does not say.</summary>
/// <param name="Output">
/// The output to take embeddings from, by name, for a graph with several (a foundation model's CLS token beside its patch
/// tokens); null: the graph's only output. The chosen one must be N×D or N×D×1×1.
/// </param>
/// <param name="TileSize">
/// The tile side in pixels for a graph whose input has dynamic height and width; null where the graph fixes them (a
/// size given for such a graph must be the same).
/// </param>
public sealed record BackboneOptions(string? Output = null, int? TileSize = null)
{
    /// <summary>No choice made: the graph's only output at the size it fixes.</summary>
    public static BackboneOptions Default { get; } = new();
}

/// <summary>A file a backbone is loaded from: the ONNX graph, or one of the external-data files beside it that the graph names.</summary>
/// <param name="Name">The file name: for a data file, the location the graph names it by (it must keep that name beside the graph).</param>
/// <param name="Path">Full path.</param>
/// <param name="Sha256">SHA-256 of its bytes, lower-case hex.</param>
/// <param name="Size">Bytes.</param>
public sealed record BackboneFile(string Name, string Path, string Sha256, long Size);
