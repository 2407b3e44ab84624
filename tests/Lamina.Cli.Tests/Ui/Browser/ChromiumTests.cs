using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Lamina.Cli.Tests.Ui.Browser;

/// <summary>The browser fixture itself: Debian's chromium under Playwright loads a page and runs its script.</summary>
[Collection(BrowserCollection.Name)]
public sealed class ChromiumTests(Chromium chromium)
{
    [Fact]
    public async Task Chromium_LoadsALocalPage_AndRunsItsScript()
    {
        // Given a page served on a free loopback port whose script writes into it
        var port = FreePort();
        using var listener = new HttpListener();
        listener.Prefixes.Add($"http://127.0.0.1:{port}/");
        listener.Start();
        var serving = Task.Run(async () =>
        {
            var context = await listener.GetContextAsync();
            var body = Encoding.UTF8.GetBytes("<!doctype html><title>fixture</title><main data-page=\"probe\"><p id=\"out\">static</p></main>"
                + "<script>document.getElementById('out').textContent = 'drawn by ' + navigator.userAgent.includes('Chrome');</script>");
            context.Response.ContentType = "text/html; charset=utf-8";
            await context.Response.OutputStream.WriteAsync(body);
            context.Response.Close();
        });

        // When chromium opens it
        await using var browser = await chromium.NewContextAsync();
        var page = await browser.NewPageAsync();
        var response = await page.GotoAsync($"http://127.0.0.1:{port}/");
        await serving;

        // Then the page loaded and its script ran
        Assert.Equal(200, response!.Status);
        Assert.Equal("fixture", await page.TitleAsync());
        Assert.Equal("drawn by true", await page.Locator("main[data-page=probe] #out").TextContentAsync());
    }

    private static int FreePort()
    {
        using var socket = new TcpListener(IPAddress.Loopback, 0);
        socket.Start();
        return ((IPEndPoint)socket.LocalEndpoint).Port;
    }
}
