namespace Lamina.Core.Inference;

/// <summary>A model could not be loaded or run: a missing or malformed ONNX file, an unsupported input, an unavailable execution provider.</summary>
public sealed class InferenceException : LaminaException
{
    public InferenceException(string message) : base(message) { }

    public InferenceException(string message, Exception? inner) : base(message, inner) { }

    internal static InferenceException MissingFile(string path) =>
        new($"{path}: no such ONNX file") { Kind = LaminaErrorKind.NotFound };

    internal static InferenceException NotOnnx(string path, Exception inner) =>
        new($"{path}: not a readable ONNX model ({inner.Message})", inner) { Kind = LaminaErrorKind.Validation };

    internal static InferenceException Unsupported(string path, string problem) =>
        new($"{path}: {problem}") { Kind = LaminaErrorKind.Validation };

    internal static InferenceException ProviderUnavailable(ExecutionProvider provider, Exception inner) =>
        new($"execution provider {provider} could not start ({FirstLine(inner.Message)})" + ProviderHint(provider, inner) +
            $"; Lamina does not fall back to another provider: ask for {ExecutionProvider.Cpu.Name()} explicitly (--provider cpu)", inner);

    // The two ways CUDA fails: a build without it (the CPU package has no such entry point), or a machine without its libraries.
    private static string ProviderHint(ExecutionProvider provider, Exception inner) =>
        inner is EntryPointNotFoundException ? "; this build carries ONNX Runtime's CPU-only package (docs/backbones.md says how to run on CUDA)"
        : provider == ExecutionProvider.Cuda && inner.Message.Contains("load shared library", StringComparison.OrdinalIgnoreCase)
            ? "; ONNX Runtime's CUDA provider needs an NVIDIA driver and the CUDA 12 and cuDNN 9 libraries on the library path (docs/backbones.md)"
        : "";

    internal static InferenceException WrongTile(BackboneSpec spec, string problem) =>
        new($"backbone {spec.Name} takes {spec.TileSize}x{spec.TileSize}x{spec.Channels} tiles: {problem}") { Kind = LaminaErrorKind.Validation };

    internal static InferenceException TileSizeDisagrees(string model, int cardTileSize, int backboneTileSize) =>
        ForModel(model, $"its card says {cardTileSize}-pixel tiles but its backbone takes {backboneTileSize}");

    /// <summary>A model that cannot run as packaged: <c>model 'NAME': problem</c>.</summary>
    internal static InferenceException ForModel(string model, string problem) => new($"model '{model}': {problem}") { At = model };

    internal static InferenceException CardEmpty(string source) => new($"{source}: the model card is empty") { At = source, Kind = LaminaErrorKind.Validation };

    internal static InferenceException CardFormat(string source, string format, string current) =>
        new($"{source}: model card format '{format}' is not one this Lamina reads ({current})") { At = source, Kind = LaminaErrorKind.Validation };

    internal static InferenceException CardInvalid(string source, Exception inner) =>
        new($"{source}: not a valid model card: {inner.Message}", inner) { At = source, Kind = LaminaErrorKind.Validation };

    internal static InferenceException NotAPackage(string folder, bool exists, string cardFile) =>
        new(exists ? $"'{folder}' is not a model package: it has no {cardFile}" : $"model package '{folder}' does not exist") { At = folder };

    internal static InferenceException PackageFileMissing(string path, string cardPath, string sha256) =>
        new($"{path}: missing; model card {cardPath} names it (sha256 {sha256})") { At = path, Kind = LaminaErrorKind.Integrity };

    internal static InferenceException PackageFileAltered(string path, string digest, long size, string cardPath, string expected, long expectedSize) =>
        new($"{path}: sha256 {digest} ({size} bytes) does not match model card {cardPath} ({expected}, {expectedSize} bytes)") { At = path, Kind = LaminaErrorKind.Integrity };

    private static string FirstLine(string text) => text.Split('\n', 2)[0].Trim();
}
