using Microsoft.ML.OnnxRuntime;

namespace Lamina.Core.Inference.Internal;

/// <summary>ONNX Runtime sessions as Lamina runs them: fixed threads, sequential, and the asked-for provider or an error.</summary>
internal static class OnnxSessions
{
    /// <param name="spinning">
    /// Whether ONNX Runtime's threads spin-wait between calls: fastest when inference is all the process does; off when
    /// other threads (tile readers, preprocessing) need the processors between calls.
    /// </param>
    /// <param name="externalDataFolder">
    /// Where the graph's external-data files are, for a graph given as bytes (ONNX Runtime cannot know the folder of a
    /// file it did not read); null for a graph without external data.
    /// </param>
    public static InferenceSession Create(string path, byte[] model, ExecutionProvider provider, int threads, bool spinning = true,
        string? externalDataFolder = null)
    {
        using var options = new SessionOptions
        {
            IntraOpNumThreads = threads,
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
        };
        if (!spinning) options.AddSessionConfigEntry("session.intra_op.allow_spinning", "0");
        if (externalDataFolder is not null) options.AddSessionConfigEntry("session.model_external_initializers_file_folder_path", externalDataFolder);
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

    /// <summary>
    /// Runs <paramref name="run"/> (a session's Run with <paramref name="options"/>) so that cancelling
    /// <paramref name="cancellationToken"/> terminates it mid-run; a run terminated so ends in <see cref="OperationCanceledException"/>.
    /// </summary>
    public static T Run<T>(RunOptions options, CancellationToken cancellationToken, Func<T> run)
    {
        if (!cancellationToken.CanBeCanceled) return run();
        using var _ = cancellationToken.Register(() => options.Terminate = true);
        try
        {
            return run();
        }
        catch (OnnxRuntimeException) when (cancellationToken.IsCancellationRequested)
        {
            throw new OperationCanceledException(cancellationToken);
        }
    }

    public static void Run(RunOptions options, CancellationToken cancellationToken, Action run) =>
        Run(options, cancellationToken, () =>
        {
            run();
            return 0;
        });
}
