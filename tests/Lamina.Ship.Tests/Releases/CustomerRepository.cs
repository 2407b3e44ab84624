using System.Diagnostics;
using Lamina.Ship.Releases;

namespace Lamina.Ship.Tests.Releases;

/// <summary>A customer git repository made for a test: customer.yaml and an analysis file, committed at a fixed time.</summary>
internal static class CustomerRepository
{
    public static readonly DateTimeOffset CommitTime = new(2026, 5, 6, 7, 8, 9, TimeSpan.Zero);

    /// <summary>Writes and commits a customer repository at <paramref name="folder"/> whose analysis uses the model of <paramref name="run"/>; tags it <paramref name="tag"/>.</summary>
    public static async Task<string> CreateAsync(string folder, string customer, Guid run, string? tag = "1.0.0", string? remote = null, string? image = null)
    {
        Directory.CreateDirectory(folder);
        await File.WriteAllTextAsync(Path.Combine(folder, CustomerFile.FileName), $"""
            customer: {customer}
            image: {image ?? $"registry.example.org/customers/{customer}"}
            base: "0.1.0"
            analysis: analysis.yaml
            """);
        await File.WriteAllTextAsync(Path.Combine(folder, "analysis.yaml"), ShipStores.CarcinomaAnalysis((run, "breast", "carcinoma_model")));
        await GitAsync(folder, "init", "-q", "-b", "main");
        if (remote is not null) await GitAsync(folder, "remote", "add", "origin", remote);
        await CommitAsync(folder, "customer files");
        if (tag is not null) await GitAsync(folder, "tag", tag);
        return folder;
    }

    public static async Task CommitAsync(string folder, string message)
    {
        await GitAsync(folder, "add", "-A");
        await GitAsync(folder, "-c", "user.name=Release Test", "-c", "user.email=release@example.org", "commit", "-q", "-m", message,
            "--date", CommitTime.ToString("O", System.Globalization.CultureInfo.InvariantCulture));
    }

    public static async Task<string> GitAsync(string folder, params string[] arguments)
    {
        var start = new ProcessStartInfo("git") { WorkingDirectory = folder, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        start.Environment["GIT_COMMITTER_DATE"] = CommitTime.ToString("O", System.Globalization.CultureInfo.InvariantCulture);
        start.Environment["GIT_CONFIG_NOSYSTEM"] = "1";
        using var process = Process.Start(start)!;
        var output = await process.StandardOutput.ReadToEndAsync();
        var error = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return process.ExitCode == 0 ? output.Trim() : throw new InvalidOperationException($"git {string.Join(' ', arguments)}: {error}");
    }
}
