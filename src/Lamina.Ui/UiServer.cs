using System.Net;
using System.Net.Sockets;
using Lamina.Ui.Assets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Lamina.Ui;

/// <summary>
/// <c>lamina ui</c>'s web server: server-rendered pages over the tracking and blob stores, on Kestrel, with every asset
/// served by itself. Start it with <see cref="StartAsync"/>; it serves until disposed.
/// </summary>
public sealed class UiServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private UiServer(WebApplication app, Uri address, bool tokensRequired)
    {
        _app = app;
        Address = address;
        TokensRequired = tokensRequired;
    }

    /// <summary>Where it listens: <c>http://HOST:PORT/</c> (for a wildcard host, this machine's name).</summary>
    public Uri Address { get; }

    /// <summary>Whether every request needs a token: on a non-loopback interface always, on loopback when asked.</summary>
    public bool TokensRequired { get; }

    /// <summary>Starts listening on <paramref name="options"/>' host and port and serving <paramref name="sources"/>.</summary>
    /// <exception cref="UiException">The host is unknown, or the port cannot be listened on (taken, not allowed).</exception>
    public static async Task<UiServer> StartAsync(UiSources sources, UiOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(sources);
        ArgumentNullException.ThrowIfNull(options);
        var listenOn = await ResolveAsync(options.Host, cancellationToken);
        var loopback = IPAddress.IsLoopback(listenOn);

        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions { ContentRootPath = AppContext.BaseDirectory, Args = [] });
        builder.WebHost.UseKestrelCore().ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Listen(listenOn, options.Port);
        });
        builder.Services.AddRoutingCore();
        var app = builder.Build();
        var ui = new UiContext(sources, options, loopback, AssetCatalog.Load());
        Routes.Map(app, ui);
        try
        {
            await app.StartAsync(cancellationToken);
        }
        catch (Exception e) when (e is IOException or SocketException)
        {
            await app.DisposeAsync();
            throw UiException.CannotListen(options.Host, options.Port, e);
        }

        var bound = app.Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>().Features.Get<IServerAddressesFeature>()!.Addresses
            .Select(a => new Uri(a.Replace("0.0.0.0", "localhost", StringComparison.Ordinal).Replace("[::]", "localhost", StringComparison.Ordinal)))
            .First();
        var host = listenOn.Equals(IPAddress.Any) || listenOn.Equals(IPAddress.IPv6Any) ? Dns.GetHostName()
            : listenOn.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{listenOn}]"
            : string.Equals(options.Host, "localhost", StringComparison.OrdinalIgnoreCase) ? "localhost" : listenOn.ToString();
        return new UiServer(app, new Uri($"http://{host}:{bound.Port}/"), ui.TokensRequired);
    }

    /// <summary>Completes when the server stops (disposed, or the host asked to stop) or <paramref name="cancellationToken"/> fires.</summary>
    public Task WaitForShutdownAsync(CancellationToken cancellationToken) => _app.WaitForShutdownAsync(cancellationToken);

    public async ValueTask DisposeAsync()
    {
        using var stopping = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            await _app.StopAsync(stopping.Token);
        }
        catch (OperationCanceledException)
        {
            // Requests still open after the grace time (a live log poll) are cut; the server is stopped all the same.
        }
        await _app.DisposeAsync();
    }

    private static async Task<IPAddress> ResolveAsync(string host, CancellationToken cancellationToken)
    {
        if (string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase)) return IPAddress.Loopback;
        if (IPAddress.TryParse(host.Trim('[', ']'), out var address)) return address;
        try
        {
            var addresses = await Dns.GetHostAddressesAsync(host, cancellationToken);
            return addresses.FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork) ?? addresses.FirstOrDefault()
                ?? throw UiException.UnknownHost(host);
        }
        catch (SocketException e)
        {
            throw UiException.UnknownHost(host, e);
        }
    }
}
