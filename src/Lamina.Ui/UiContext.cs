using Lamina.Tracking;
using Lamina.Ui.Access;
using Lamina.Ui.Assets;

namespace Lamina.Ui;

/// <summary>What every page and endpoint of one server shares: the sources, the options, the assets.</summary>
internal sealed class UiContext(UiSources sources, UiOptions options, bool loopback, AssetCatalog assets)
{
    public UiSources Sources => sources;

    public ITrackingStore Store => sources.Store;

    public IBlobStore Blobs => sources.Blobs;

    public AssetCatalog Assets => assets;

    public TimeProvider Time => sources.Time;

    /// <summary>Whether every request needs a token: on a non-loopback binding always, on loopback when asked.</summary>
    public bool TokensRequired => options.RequireTokens || !loopback;

    /// <summary>The runs table, series and column names, by the store's database.</summary>
    public IRunBrowser Browser => Store as IRunBrowser ?? throw UiException.StoreLacks(nameof(IRunBrowser), Store.GetType());

    public IAccessTokenStore Tokens => Store as IAccessTokenStore ?? throw UiException.StoreLacks(nameof(IAccessTokenStore), Store.GetType());

    /// <summary>The store whose audit entries name <paramref name="user"/> as <c>ui:OWNER</c>: every write of the UI goes through it.</summary>
    public ITrackingStore ActingAs(UiUser user) =>
        (Store as IActingStore ?? throw UiException.StoreLacks(nameof(IActingStore), Store.GetType())).ActingAs(user.Actor);
}
