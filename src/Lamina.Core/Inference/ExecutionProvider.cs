namespace Lamina.Core.Inference;

/// <summary>Where ONNX Runtime runs a model; a provider other than the CPU is used only when asked for, and never replaced silently.</summary>
public enum ExecutionProvider
{
    Cpu,
    Cuda,
}
