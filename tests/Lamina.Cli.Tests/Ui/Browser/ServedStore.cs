namespace Lamina.Cli.Tests.Ui.Browser;

/// <summary>A <see cref="UiStore"/> served by one <c>lamina ui</c> process on localhost for the tests of a class.</summary>
public sealed class ServedStore : IAsyncLifetime
{
    private UiProcess? _ui;

    public UiStore Store { get; } = new();

    /// <summary>Where the UI answers, e.g. <c>http://127.0.0.1:41234/</c>.</summary>
    public Uri Address => (_ui ?? throw new InvalidOperationException("lamina ui is not started")).Address;

    public string Url(string pathAndQuery) => new Uri(Address, pathAndQuery).ToString();

    public async Task InitializeAsync()
    {
        await Store.InitializeAsync();
        _ui = await UiProcess.StartAsync(Store.Lamina, Store.WorkingDirectory, "--port", "0");
    }

    public async Task DisposeAsync()
    {
        if (_ui is not null) await _ui.DisposeAsync();
        await Store.DisposeAsync();
    }
}
