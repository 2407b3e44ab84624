namespace Lamina.Core.Inference;

/// <summary>A model could not be loaded or run: a missing or malformed ONNX file, an unsupported input, an unavailable execution provider.</summary>
public sealed class InferenceException : LaminaException
{
    public InferenceException(string message) : base(message) { }

    public InferenceException(string message, Exception? inner) : base(message, inner) { }

    internal static InferenceException MissingFile(string path) =>
        new($"{path}: no such ONNX file");

    internal static InferenceException NotOnnx(string path, Exception inner) =>
        new($"{path}: not a readable ONNX model ({inner.Message})", inner);

    internal static InferenceException Unsupported(string path, string problem) =>
        new($"{path}: {problem}");

    internal static InferenceException ProviderUnavailable(ExecutionProvider provider, Exception inner) =>
        new($"execution provider {provider} could not start ({FirstLine(inner.Message)}); Lamina does not fall back to another provider: ask for {ExecutionProvider.Cpu} explicitly", inner);

    internal static InferenceException WrongTile(BackboneSpec spec, string problem) =>
        new($"backbone {spec.Name} takes {spec.TileSize}x{spec.TileSize}x{spec.Channels} tiles: {problem}");

    private static string FirstLine(string text) => text.Split('\n', 2)[0].Trim();
}
