using System.Net;
using System.Net.Http.Headers;
using Lamina.Tracking;

namespace Lamina.Ui.Tests;

/// <summary>Who may do what: tokens off localhost, roles, same-origin posts, and the audit trail naming the token's owner.</summary>
public sealed class AccessTests
{
    [Fact]
    public async Task NonLoopbackBinding_RequestWithoutToken_IsRefused()
    {
        // Given a UI bound to every interface, and this machine's non-loopback address
        await using var ui = await UiHarness.CreateAsync();
        await ui.SeedAsync();
        var address = UiHarness.NonLoopbackAddress();
        Assert.True(address is not null, "this machine has no non-loopback IPv4 address to test the binding through");
        var server = await ui.StartAsync(new UiOptions("0.0.0.0"));
        using var client = new HttpClient { BaseAddress = new Uri($"http://{address}:{server.Address.Port}/") };

        // When the runs table, a run's artifact and an abort are asked for without a token
        var page = await client.GetAsync("/runs");
        var artifact = await client.GetAsync("/runs.csv");
        var abort = await client.PostAsync("/runs/0000/abort", null);

        // Then each is refused as unauthenticated, and says how to get in
        Assert.Equal(HttpStatusCode.Unauthorized, page.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, artifact.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, abort.StatusCode);
        Assert.Contains("lamina tokens create", await page.Content.ReadAsStringAsync());
        Assert.Equal("Bearer", page.Headers.WwwAuthenticate.Single().Scheme);
    }

    [Fact]
    public async Task NonLoopbackBinding_HealthNeedsNoToken()
    {
        await using var ui = await UiHarness.CreateAsync();
        var address = UiHarness.NonLoopbackAddress();
        Assert.True(address is not null, "no non-loopback IPv4 address");
        var server = await ui.StartAsync(new UiOptions(address!.ToString()));
        using var client = new HttpClient { BaseAddress = server.Address };

        var health = await client.GetAsync("/health");

        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        Assert.Equal($"http://{address}:{server.Address.Port}/", server.Address.ToString());
    }

    [Fact]
    public async Task LoopbackBinding_ForeignHostHeader_IsRefused()
    {
        // Given a token-less UI on localhost
        await using var ui = await UiHarness.CreateAsync();
        await ui.StartAsync();

        // When a request names another host (as a page that rebinds its DNS name to 127.0.0.1 would)
        using var request = new HttpRequestMessage(HttpMethod.Get, "/health");
        request.Headers.Host = "attacker.example";
        var response = await ui.Client.SendAsync(request);

        // Then it is refused
        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
    }

    [Fact]
    public async Task LoopbackBinding_CrossSitePost_IsRefusedAndChangesNothing()
    {
        // Given a running run on a token-less local UI
        await using var ui = await UiHarness.CreateAsync();
        var seeded = await ui.SeedAsync();
        await ui.StartAsync();

        // When another site's page posts an abort form to it
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/runs/{seeded.Running.Id:D}/abort")
        {
            Content = new FormUrlEncodedContent([new("reason", "forged")]),
        };
        request.Headers.Add("Origin", "http://evil.example");
        var response = await ui.Client.SendAsync(request);

        // Then it is refused and the run still runs, unasked
        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        var run = await ui.Store.ResolveRunAsync(seeded.Running.Id.ToString(), CancellationToken.None);
        Assert.Equal(RunStatus.Running, run.Status);
        Assert.Null(run.AbortRequested);
    }

    [Fact]
    public async Task LoopbackBinding_SameOriginAbort_IsRecordedAsTheLocalUser()
    {
        // Given a running run on a token-less local UI
        await using var ui = await UiHarness.CreateAsync();
        var seeded = await ui.SeedAsync();
        var server = await ui.StartAsync();

        // When the run page's abort form is sent
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/runs/{seeded.Running.Id:D}/abort")
        {
            Content = new FormUrlEncodedContent([new("reason", "wrong threshold")]),
        };
        request.Headers.Add("Origin", server.Address.GetLeftPart(UriPartial.Authority));
        var response = await ui.Client.SendAsync(request);

        // Then the browser goes back to the run, which is asked to abort, and the audit trail names ui:USER@HOST
        Assert.Equal(HttpStatusCode.SeeOther, response.StatusCode);
        Assert.Equal($"/runs/{seeded.Running.Id:D}", response.Headers.Location!.OriginalString);
        var run = await ui.Store.ResolveRunAsync(seeded.Running.Id.ToString(), CancellationToken.None);
        Assert.Equal("wrong threshold", run.AbortRequested);
        var entry = (await ui.Store.ListAuditAsync(seeded.Running.Id.ToString("D"), CancellationToken.None)).Last();
        Assert.Equal(AuditLog.RunAbortRequested, entry.Action);
        Assert.Equal("ui:" + AuditLog.CurrentActor, entry.Who);
    }

    [Fact]
    public async Task Tokens_ViewerReadsButMayNotAbort_OperatorAbortIsAuditedUnderTheOwner()
    {
        // Given a UI that requires tokens, a viewer's and an operator's
        await using var ui = await UiHarness.CreateAsync();
        var seeded = await ui.SeedAsync();
        var tokens = ui.Tokens;
        var expires = DateTimeOffset.UtcNow.AddDays(1);
        var (_, viewer) = await tokens.CreateTokenAsync("vera", AccessRole.Viewer, expires, CancellationToken.None);
        var (_, @operator) = await tokens.CreateTokenAsync("otto", AccessRole.Operator, expires, CancellationToken.None);
        await ui.StartAsync(new UiOptions(RequireTokens: true));
        HttpRequestMessage Abort(string secret)
        {
            var request = new HttpRequestMessage(HttpMethod.Post, $"/runs/{seeded.Running.Id:D}/abort?reason=stop");
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", secret);
            return request;
        }

        // When the viewer reads the runs table and tries to abort, and the operator aborts
        using var read = new HttpRequestMessage(HttpMethod.Get, "/runs");
        read.Headers.Authorization = new AuthenticationHeaderValue("Bearer", viewer);
        var page = await ui.Client.SendAsync(read);
        var refused = await ui.Client.SendAsync(Abort(viewer));
        var afterRefusal = await ui.Store.ResolveRunAsync(seeded.Running.Id.ToString(), CancellationToken.None);
        var done = await ui.Client.SendAsync(Abort(@operator));

        // Then the viewer reads, is refused the abort (nothing changes), and the operator's abort is audited as ui:otto
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        Assert.Contains("operator", await refused.Content.ReadAsStringAsync());
        Assert.Null(afterRefusal.AbortRequested);
        Assert.Equal(HttpStatusCode.OK, done.StatusCode);
        Assert.Contains("\"abort_requested\":\"stop\"", await done.Content.ReadAsStringAsync());
        var entry = (await ui.Store.ListAuditAsync(seeded.Running.Id.ToString("D"), CancellationToken.None)).Last();
        Assert.Equal(AuditLog.RunAbortRequested, entry.Action);
        Assert.Equal("ui:otto", entry.Who);
    }

    [Fact]
    public async Task Tokens_LoginSetsACookie_ThatOpensPages_AndARevokedTokenNoLonger()
    {
        // Given a UI that requires tokens, and an admin's token
        await using var ui = await UiHarness.CreateAsync();
        var tokens = ui.Tokens;
        var (admin, secret) = await tokens.CreateTokenAsync("ada", AccessRole.Admin, DateTimeOffset.UtcNow.AddDays(1), CancellationToken.None);
        await ui.StartAsync(new UiOptions(RequireTokens: true));

        // When the browser logs in with it, and then opens the tokens page with the cookie
        var login = await ui.Client.GetAsync("/login?token=" + Uri.EscapeDataString(secret));
        var cookie = login.Headers.GetValues("Set-Cookie").Single();
        using var tokensPage = new HttpRequestMessage(HttpMethod.Get, "/tokens");
        tokensPage.Headers.Add("Cookie", cookie.Split(';')[0]);
        var page = await ui.Client.SendAsync(tokensPage);
        await tokens.RevokeTokenAsync(admin.Id, "test", CancellationToken.None);
        using var again = new HttpRequestMessage(HttpMethod.Get, "/runs");
        again.Headers.Add("Cookie", cookie.Split(';')[0]);
        var revoked = await ui.Client.SendAsync(again);

        // Then the cookie is HttpOnly and strict, opens the admin's page, and stops working once the token is revoked
        Assert.Equal(HttpStatusCode.Redirect, login.StatusCode);
        Assert.Contains("httponly", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("samesite=strict", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Contains("data-page=\"tokens\"", await page.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.Unauthorized, revoked.StatusCode);
    }

    [Fact]
    public async Task Tokens_AnOperatorMayNotManageTokens()
    {
        await using var ui = await UiHarness.CreateAsync();
        var (_, secret) = await (ui.Tokens).CreateTokenAsync("otto", AccessRole.Operator, DateTimeOffset.UtcNow.AddDays(1), CancellationToken.None);
        await ui.StartAsync(new UiOptions(RequireTokens: true));

        using var request = new HttpRequestMessage(HttpMethod.Get, "/tokens");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", secret);
        var response = await ui.Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
    }

    [Fact]
    public async Task Tokens_AdminCreatesATokenInThePage_ShownOnce_AndAudited()
    {
        // Given an admin on a UI that requires tokens
        await using var ui = await UiHarness.CreateAsync();
        var tokens = ui.Tokens;
        var (_, secret) = await tokens.CreateTokenAsync("ada", AccessRole.Admin, DateTimeOffset.UtcNow.AddDays(1), CancellationToken.None);
        var server = await ui.StartAsync(new UiOptions(RequireTokens: true));

        // When the admin sends the create form from the tokens page
        using var request = new HttpRequestMessage(HttpMethod.Post, "/tokens")
        {
            Content = new FormUrlEncodedContent([new("owner", "vera"), new("role", "viewer"), new("days", "30")]),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", secret);
        request.Headers.Add("Origin", server.Address.GetLeftPart(UriPartial.Authority));
        var response = await ui.Client.SendAsync(request);
        var html = await response.Content.ReadAsStringAsync();

        // Then the page shows the new secret once, and it works
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var shown = System.Text.RegularExpressions.Regex.Match(html, "<pre class=\"token-secret\">([^<]+)</pre>").Groups[1].Value;
        var token = await tokens.AuthenticateAsync(System.Net.WebUtility.HtmlDecode(shown), CancellationToken.None);
        Assert.NotNull(token);
        Assert.Equal(("vera", AccessRole.Viewer), (token!.Owner, token.Role));
    }
}
