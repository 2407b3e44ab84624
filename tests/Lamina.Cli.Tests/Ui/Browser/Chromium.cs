using Microsoft.Playwright;

namespace Lamina.Cli.Tests.Ui.Browser;

/// <summary>
/// Debian's chromium (<c>/usr/bin/chromium</c>, from scripts/native-packages.txt) driven by Playwright, started once for
/// the browser tests: Playwright's own browser downloads are never used (the machines of a hospital, and CI, have no
/// internet). Each test takes a fresh context (cookies, downloads) of its own.
/// </summary>
public sealed class Chromium : IAsyncLifetime
{
    /// <summary>Where Debian installs the browser.</summary>
    public const string ExecutablePath = "/usr/bin/chromium";

    private IPlaywright? _playwright;
    private IBrowser? _browser;

    public IBrowser Browser => _browser ?? throw new InvalidOperationException("chromium is not started");

    public async Task InitializeAsync()
    {
        if (!File.Exists(ExecutablePath))
        {
            throw new InvalidOperationException($"{ExecutablePath} is missing: install Debian's chromium (scripts/ensure-native.sh installs scripts/native-packages.txt)");
        }
        _playwright = await Playwright.CreateAsync();
        _browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ExecutablePath,
            Headless = true,
            // As root (CI, containers) chromium refuses its sandbox; /dev/shm may be small in a container.
            Args = ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
        });
    }

    /// <summary>A fresh context (its own cookies and downloads), 1280×800 as the docs' screenshots are.</summary>
    public Task<IBrowserContext> NewContextAsync() => Browser.NewContextAsync(new BrowserNewContextOptions
    {
        ViewportSize = new ViewportSize { Width = 1280, Height = 800 },
        AcceptDownloads = true,
        Locale = "en-GB",
        TimezoneId = "UTC",
    });

    public async Task DisposeAsync()
    {
        if (_browser is not null) await _browser.DisposeAsync();
        _playwright?.Dispose();
    }
}

/// <summary>The browser tests share one chromium and run one after another (two cores: a second browser only slows both).</summary>
[CollectionDefinition(Name)]
public sealed class BrowserCollection : ICollectionFixture<Chromium>
{
    public const string Name = "browser";
}
