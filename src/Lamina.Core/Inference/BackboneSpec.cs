namespace Lamina.Core.Inference;

/// <summary>What a frozen backbone takes and gives: the identity a model card names.</summary>
/// <param name="Name">The built-in name (<c>resnet18</c>) or the ONNX file's name.</param>
/// <param name="TileSize">Side of the square tiles it takes, in pixels.</param>
/// <param name="Channels">Channels per pixel (3: RGB).</param>
/// <param name="EmbeddingSize">Floats per embedding.</param>
/// <param name="InputRange">What the tiles handed to it must hold, e.g. <c>rgb 0..1</c>.</param>
/// <param name="Sha256">
/// The backbone's identity, lower-case hex: the SHA-256 of the ONNX file's bytes, or, for a graph with external data,
/// several outputs or a dynamic size, a digest covering every file, the chosen output and the tile size (see <see cref="Backbone.Files"/>).
/// </param>
public sealed record BackboneSpec(string Name, int TileSize, int Channels, int EmbeddingSize, string InputRange, string Sha256);
