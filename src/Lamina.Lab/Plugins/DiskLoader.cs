using System.Runtime.CompilerServices;
using Lamina.Core;
using Lamina.Core.Plugins;

namespace Lamina.Lab.Plugins;

/// <summary>
/// Loads labelled tiles from whole-slide images in <c>wsi_path</c> and their annotations in <c>labels_path</c>.
/// </summary>
/// <remarks>Reading slides needs the OpenSlide reader, which arrives with the slides work; until then it refuses clearly.</remarks>
public sealed class DiskLoader(string wsiPath, string labelsPath) : IDataLoader
{
    public string WsiPath { get; } = wsiPath;

    public string LabelsPath { get; } = labelsPath;

    public async IAsyncEnumerable<DataItem> LoadAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await Task.CompletedTask;
        cancellationToken.ThrowIfCancellationRequested();
        if (!Directory.Exists(WsiPath))
        {
            throw new LaminaException($"DiskLoader: wsi_path '{WsiPath}' does not exist");
        }
        throw new LaminaException("DiskLoader: reading tiles from slides needs the OpenSlide slide reader, which this Lamina version does not have yet");
#pragma warning disable CS0162 // the iterator needs a yield to be one
        yield break;
#pragma warning restore CS0162
    }
}
