using System.Text.Json;
using Lamina.Core;
using Lamina.Core.Inference;
using Lamina.Core.Plugins;

namespace Lamina.Lab.Tasks;

/// <summary>Where a task's ONNX Runtime sessions ran: the provider asked for and the device, as the run records them in <c>execution.json</c>.</summary>
/// <param name="Provider"><c>cpu</c> or <c>cuda</c>.</param>
/// <param name="Device"><c>cpu</c>, or <c>cuda:0</c> with the GPU's name.</param>
internal sealed record ExecutionRecord(string Provider, string Device)
{
    /// <summary>The artifact a run that runs ONNX (training, testing) records its execution provider and device in.</summary>
    public const string ArtifactName = "execution.json";

    /// <summary>Logs the provider and device with the run and stores them as <see cref="ArtifactName"/>.</summary>
    public static async Task<ExecutionRecord> StoreAsync(IRunContext run, ExecutionProvider provider, CancellationToken cancellationToken)
    {
        var record = new ExecutionRecord(provider.Name(), ExecutionProviders.Device(provider));
        run.Log($"execution provider {record.Provider}, device {record.Device}");
        var json = JsonSerializer.SerializeToUtf8Bytes(new { execution_provider = record.Provider, device = record.Device }, LaminaJson.Indented);
        await run.LogArtifactAsync(ArtifactName, new MemoryStream(json, writable: false), cancellationToken);
        return record;
    }
}
