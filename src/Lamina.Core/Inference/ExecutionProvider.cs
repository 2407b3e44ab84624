using System.Diagnostics;

namespace Lamina.Core.Inference;

/// <summary>Where ONNX Runtime runs a model; a provider other than the CPU is used only when asked for, and never replaced silently.</summary>
public enum ExecutionProvider
{
    Cpu,
    Cuda,
}

/// <summary>Names of execution providers and the devices they run on, as runs and reports record them.</summary>
public static class ExecutionProviders
{
    private static readonly TimeSpan QueryTimeout = TimeSpan.FromSeconds(5);

    // Asked once per process: every slide of a service reports the same device.
    private static readonly Lazy<string> CudaDevice = new(() => GpuName() is { } name ? $"cuda:0 ({name})" : "cuda:0");

    /// <summary>The provider as the command line and records spell it: <c>cpu</c>, <c>cuda</c>.</summary>
    public static string Name(this ExecutionProvider provider) => provider.ToString().ToLowerInvariant();

    /// <summary>Reads <c>cpu</c> or <c>cuda</c> (any case).</summary>
    /// <exception cref="InferenceException">Any other name, naming the ones there are.</exception>
    public static ExecutionProvider Parse(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        foreach (var provider in Enum.GetValues<ExecutionProvider>())
        {
            if (string.Equals(provider.Name(), name, StringComparison.OrdinalIgnoreCase)) return provider;
        }
        throw new InferenceException($"execution provider '{name}' is not one Lamina knows: cpu, cuda") { Kind = LaminaErrorKind.Validation };
    }

    /// <summary>
    /// The device a provider runs on, as a run or a report records it: <c>cpu</c>; for CUDA <c>cuda:0</c> followed by the
    /// GPU's name when <c>nvidia-smi</c> can tell it (Lamina's sessions use device 0).
    /// </summary>
    public static string Device(ExecutionProvider provider) => provider switch
    {
        ExecutionProvider.Cuda => CudaDevice.Value,
        _ => "cpu",
    };

    /// <summary>
    /// Starts a session of a one-node graph on <paramref name="provider"/>, so that a provider that cannot start is refused
    /// before any work does (a worker at start, a run before it is created), never replaced by another.
    /// </summary>
    /// <exception cref="InferenceException">The provider cannot start here, with ONNX Runtime's reason.</exception>
    public static void EnsureAvailable(ExecutionProvider provider)
    {
        if (provider == ExecutionProvider.Cpu) return;
        var graph = new Onnx.GraphProto { Name = "probe" };
        graph.Input.Add(FloatVector("x"));
        graph.Output.Add(FloatVector("y"));
        graph.Node.Add(new Onnx.NodeProto { OpType = "Identity", Input = { "x" }, Output = { "y" } });
        var model = new Onnx.ModelProto { IrVersion = 8, Graph = graph, OpsetImport = { new Onnx.OperatorSetIdProto { Version = 17 } } };
        using var session = Internal.OnnxSessions.Create("(provider probe)", Google.Protobuf.MessageExtensions.ToByteArray(model), provider, 1);
    }

    private static Onnx.ValueInfoProto FloatVector(string name) => new()
    {
        Name = name,
        Type = new Onnx.TypeProto
        {
            TensorType = new Onnx.TypeProto.Types.Tensor
            {
                ElemType = (int)Onnx.TensorProto.Types.DataType.Float,
                Shape = new Onnx.TensorShapeProto { Dim = { new Onnx.TensorShapeProto.Types.Dimension { DimValue = 1 } } },
            },
        },
    };

    private static string? GpuName()
    {
        try
        {
            using var process = Process.Start(new ProcessStartInfo("nvidia-smi")
            {
                ArgumentList = { "--query-gpu=name", "--format=csv,noheader", "--id=0" },
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
                CreateNoWindow = true,
            });
            if (process is null) return null;
            var output = process.StandardOutput.ReadToEndAsync();
            _ = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(QueryTimeout))
            {
                process.Kill(entireProcessTree: true);
                return null;
            }
            var name = output.Result.Trim();
            return process.ExitCode == 0 && name.Length > 0 ? name : null;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null; // no NVIDIA tools: the device is still the one ONNX Runtime started on
        }
    }
}
