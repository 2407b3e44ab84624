using Microsoft.ML.OnnxRuntime;

namespace Lamina.Core.Inference.Internal;

/// <summary>ONNX Runtime sessions as Lamina runs them: fixed threads, sequential, and the asked-for provider or an error.</summary>
internal static class OnnxSessions
{
    public static InferenceSession Create(string path, byte[] model, ExecutionProvider provider, int threads)
    {
        using var options = new SessionOptions
        {
            IntraOpNumThreads = threads,
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
        };
        if (provider == ExecutionProvider.Cuda)
        {
            try
            {
                options.AppendExecutionProvider_CUDA(0);
            }
            catch (Exception e) when (e is OnnxRuntimeException or DllNotFoundException or EntryPointNotFoundException)
            {
                throw InferenceException.ProviderUnavailable(provider, e);
            }
        }
        try
        {
            return new InferenceSession(model, options);
        }
        catch (OnnxRuntimeException e)
        {
            throw provider == ExecutionProvider.Cuda
                ? InferenceException.ProviderUnavailable(provider, e)
                : InferenceException.Unsupported(path, $"ONNX Runtime cannot load it ({e.Message.Split('\n', 2)[0]})");
        }
    }
}
