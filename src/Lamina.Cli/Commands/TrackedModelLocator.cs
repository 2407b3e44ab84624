using System.Runtime.CompilerServices;
using Lamina.Core.Analysis;
using Lamina.Lab.Models;
using Lamina.Tracking;

namespace Lamina.Cli.Commands;

/// <summary>
/// The models of <c>lamina analyze</c> by run id (<c>sourcing: auto</c>), from this machine's tracking store. Its own
/// class, with Core types only in what <see cref="AnalyzeCommand"/> calls: the runtime loads Lamina.Tracking and
/// Lamina.Lab when this code first runs, so an analysis of a bundle or a resolved file never loads them (a test
/// guards it with <c>LAMINA_TRACE_ASSEMBLIES</c>).
/// </summary>
internal sealed class TrackedModelLocator : IModelLocator, IAsyncDisposable
{
    private readonly ITrackingStore _store;
    private readonly StoreModelLocator _locator;

    private TrackedModelLocator(ITrackingStore store, IBlobStore blobs, LaminaHome home)
    {
        _store = store;
        _locator = new StoreModelLocator(store, blobs, home);
    }

    // Never inlined: inlining would bring the tracking types into the caller, and their assemblies with them.
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static async Task<TrackedModelLocator> OpenAsync()
    {
        var home = CliContext.Home;
        var (store, blobs) = await CliContext.OpenStoresAsync(home);
        return new TrackedModelLocator(store, blobs, home);
    }

    public Task<string> LocateAsync(ModelReference model, CancellationToken cancellationToken) => _locator.LocateAsync(model, cancellationToken);

    public ValueTask DisposeAsync() => _store.DisposeAsync();
}
