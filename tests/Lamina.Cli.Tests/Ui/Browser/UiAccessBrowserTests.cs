using System.Text.Json;
using Lamina.Tracking;
using Microsoft.Playwright;

namespace Lamina.Cli.Tests.Ui.Browser;

/// <summary>
/// The UI on a non-loopback binding, in a browser: no page without a token; a token's login cookie opens it; a viewer
/// cannot abort a run; an operator can, and the audit trail names the operator.
/// </summary>
[Collection(BrowserCollection.Name)]
public sealed class UiAccessBrowserTests(Chromium chromium, UiStore store) : IClassFixture<UiStore>
{
    // Generous: CI runs the other test projects beside these, and chromium shares two cores with them.
    private static readonly float Wait = 30_000;

    [Fact]
    public async Task EveryInterface_RefusesABrowserWithoutAToken_AndTheLoginCookieOpensIt()
    {
        // Given lamina ui on 0.0.0.0 and a viewer's token
        await using var ui = await UiProcess.StartAsync(store.Lamina, store.WorkingDirectory, "--host", "0.0.0.0", "--port", "0");
        var viewer = await CreateTokenAsync("victor", "viewer");
        await using var context = await chromium.NewContextAsync();
        var page = await context.NewPageAsync();

        // When the runs page is opened without a token, then after /login?token=
        var refused = await page.GotoAsync(new Uri(ui.Local, "runs").ToString());
        await page.GotoAsync(new Uri(ui.Local, $"login?token={Uri.EscapeDataString(viewer)}").ToString());
        var opened = await page.GotoAsync(new Uri(ui.Local, "runs").ToString());

        // Then the first is refused (401), the second served, and the secret is kept in the lamina_token cookie, not the URL
        Assert.Equal(401, refused!.Status);
        Assert.Equal(200, opened!.Status);
        await Assertions.Expect(page.Locator("main[data-page=runs]")).ToBeVisibleAsync();
        Assert.DoesNotContain(viewer, page.Url);
        Assert.Contains(await context.CookiesAsync(), c => c.Name == "lamina_token" && c.HttpOnly);
    }

    [Fact]
    public async Task AViewersAbortIsRefused_AnOperatorsAbortIsRecordedInTheAuditTrailUnderTheirName()
    {
        // Given a run waiting in a queue, lamina ui on 0.0.0.0, and a viewer's and an operator's tokens
        var queued = await QueueRunAsync();
        await using var ui = await UiProcess.StartAsync(store.Lamina, store.WorkingDirectory, "--host", "0.0.0.0", "--port", "0");
        var viewer = await CreateTokenAsync("victor", "viewer");
        var operatorToken = await CreateTokenAsync("olga", "operator");
        var runPage = new Uri(ui.Local, $"runs/{queued:D}").ToString();

        // When the viewer, logged in, opens the run and posts an abort anyway
        await using var viewing = await chromium.NewContextAsync();
        var viewerPage = await viewing.NewPageAsync();
        await viewerPage.GotoAsync(new Uri(ui.Local, $"login?token={Uri.EscapeDataString(viewer)}").ToString());
        await viewerPage.GotoAsync(runPage);
        var offered = await viewerPage.Locator($"form[action='/runs/{queued:D}/abort']").CountAsync();
        var forced = await viewing.APIRequest.PostAsync(new Uri(ui.Local, $"runs/{queued:D}/abort").ToString(), new()
        {
            Form = viewing.APIRequest.CreateFormData().Set("reason", "a viewer tries"),
            Headers = new Dictionary<string, string> { ["Origin"] = ui.Local.GetLeftPart(UriPartial.Authority) },
            MaxRedirects = 0,
        });

        // Then no abort is offered and the forced one is refused
        Assert.Equal(0, offered);
        Assert.Equal(403, forced.Status);

        // When the operator, logged in, aborts it from the run page
        await using var operating = await chromium.NewContextAsync();
        var operatorPage = await operating.NewPageAsync();
        await operatorPage.GotoAsync(new Uri(ui.Local, $"login?token={Uri.EscapeDataString(operatorToken)}").ToString());
        await operatorPage.GotoAsync(runPage);
        var abort = operatorPage.Locator($"form[action='/runs/{queued:D}/abort']");
        await abort.Locator("input[name=reason]").FillAsync("wrong split");
        await abort.Locator("button[type=submit]").ClickAsync();
        await operatorPage.WaitForLoadStateAsync(LoadState.NetworkIdle);

        // Then the run is aborted, and the audit trail says by whom and why
        await using var tracking = await store.OpenAsync();
        var run = await tracking.ResolveRunAsync(queued.ToString("D"), CancellationToken.None);
        Assert.Equal(RunStatus.Aborted, run.Status);
        var entries = await tracking.ListAuditAsync(queued.ToString("D"), CancellationToken.None);
        Assert.Contains(entries, e => e.Who == "ui:olga" && e.Reason == "wrong split");
        Assert.DoesNotContain(entries, e => e.Who == "ui:victor");

        // And the audit page shows it to anyone who may read
        await viewerPage.GotoAsync(new Uri(ui.Local, "audit").ToString());
        await Assertions.Expect(viewerPage.Locator("main[data-page=audit]")).ToContainTextAsync("ui:olga", new() { Timeout = Wait });
    }

    private async Task<string> CreateTokenAsync(string owner, string role)
    {
        var created = await store.Lamina.RunAsync(store.WorkingDirectory, "tokens", "create", "--owner", owner, "--role", role, "--expires-in", "1d", "--json");
        Assert.True(created.ExitCode == 0, created.ToString());
        using var json = JsonDocument.Parse(created.Stdout);
        return json.RootElement.GetProperty("secret").GetString()!;
    }

    private async Task<Guid> QueueRunAsync()
    {
        await using var tracking = await store.OpenAsync();
        var environment = new EnvironmentInfo("Debian 12", "x64", "cpu", 2, 8L << 30, null, ".NET 10.0", "0.1.0", new Dictionary<string, string>());
        var run = await tracking.CreateRunAsync(new NewRun("Breast", "simple_train", "training", [], null, "ada", "laptop", "lamina.yaml", "{}", null,
            environment, [], RunStatus.Queued) { Queueing = new RunQueueing("gpu", 3) }, CancellationToken.None);
        return run.Id;
    }
}
