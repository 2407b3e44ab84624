using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;

namespace Lamina.Servers;

/// <summary>
/// An S3-compatible server in a folder of its own: s3rver (npm; a real S3 HTTP server on the file system) run by Node.js
/// on a free 127.0.0.1 port, its objects under <c>FOLDER/data</c>. It accepts any credentials (the SDK signs with
/// <see cref="AccessKeyId"/>). s3rver is the one installed in <c>tools/test-servers/node_modules</c> of the repository
/// this program was built from, or the package folder named by <c>LAMINA_S3RVER</c>.
/// </summary>
public sealed class LocalS3 : IAsyncDisposable
{
    /// <summary>The access key to give the SDK (<c>AWS_ACCESS_KEY_ID</c>).</summary>
    public const string AccessKeyId = "S3RVER";

    /// <summary>The secret key to give the SDK (<c>AWS_SECRET_ACCESS_KEY</c>).</summary>
    public const string SecretAccessKey = "S3RVER";

    // s3rver.cjs MODULE DIRECTORY PORT LIFETIME (CommonJS whatever package.json lies above the folder): runs s3rver until its standard input ends, when the starting process holds the other end (it then ends with that
    // process however that ends, kill -9 included), or until SIGTERM otherwise.
    private const string Script = """
        'use strict';
        const [s3rver, directory, port, lifetime] = process.argv.slice(2);
        const S3rver = require(s3rver);
        new S3rver({ directory, port: Number(port), address: '127.0.0.1', silent: true }).run().then(
          address => console.log(`s3rver listening on ${address.address}:${address.port}`),
          error => { console.error(`s3rver could not start: ${error.message}`); process.exit(1); });
        if (lifetime === 'stdin') {
          process.stdin.on('end', () => process.exit(0));
          process.stdin.on('error', () => process.exit(0));
          process.stdin.resume();
        }
        process.on('SIGTERM', () => process.exit(0));
        """;

    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(30) };
    private readonly ConcurrentQueue<string> _output;
    private Process? _process;

    private LocalS3(Process process, string folder, int port, ConcurrentQueue<string> output)
    {
        _process = process;
        _output = output;
        Folder = folder;
        Port = port;
    }

    /// <summary>The server's URL (<c>http://127.0.0.1:PORT</c>), for <c>LAMINA_S3_ENDPOINT</c>.</summary>
    public string Endpoint => $"http://127.0.0.1:{Port.ToString(CultureInfo.InvariantCulture)}";

    /// <summary>The TCP port on 127.0.0.1.</summary>
    public int Port { get; }

    /// <summary>The server's folder; the buckets are under <c>data/</c>.</summary>
    public string Folder { get; }

    /// <summary>The process id of the server (Node.js).</summary>
    public int ProcessId => _process?.Id ?? 0;

    /// <summary>The variables an S3 store on this server reads: endpoint, credentials, region.</summary>
    public IReadOnlyDictionary<string, string> EnvironmentVariables => new Dictionary<string, string>
    {
        ["LAMINA_S3_ENDPOINT"] = Endpoint,
        ["AWS_ACCESS_KEY_ID"] = AccessKeyId,
        ["AWS_SECRET_ACCESS_KEY"] = SecretAccessKey,
        ["AWS_REGION"] = "us-east-1",
    };

    /// <summary>The s3rver package folder: <c>LAMINA_S3RVER</c>, else <c>tools/test-servers/node_modules/s3rver</c> of the repository above this program.</summary>
    /// <exception cref="InvalidOperationException">Neither holds s3rver.</exception>
    public static string FindS3rver()
    {
        if (Environment.GetEnvironmentVariable("LAMINA_S3RVER") is { Length: > 0 } configured)
        {
            return Directory.Exists(configured) && File.Exists(Path.Combine(configured, "package.json"))
                ? Path.GetFullPath(configured)
                : throw new InvalidOperationException($"LAMINA_S3RVER: {configured} is not the folder of the s3rver npm package");
        }
        var root = SourceRepository.Find()
            ?? throw new InvalidOperationException($"s3rver not found: no Lamina.slnx above {AppContext.BaseDirectory}; set LAMINA_S3RVER to the s3rver npm package's folder");
        var s3rver = Path.Combine(root, "tools", "test-servers", "node_modules", "s3rver");
        return Directory.Exists(s3rver) ? s3rver
            : throw new InvalidOperationException($"the S3 server is not installed at {s3rver}: run scripts/ensure-native.sh, or set LAMINA_S3RVER");
    }

    /// <summary>Starts s3rver over <paramref name="folder"/> (created) and creates <paramref name="buckets"/> (the caller disposes it).</summary>
    /// <exception cref="InvalidOperationException">Node.js or s3rver is missing, or the server does not start.</exception>
    public static async Task<LocalS3> StartAsync(string folder, IReadOnlyList<string>? buckets = null, LocalServerOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= LocalServerOptions.Default;
        var s3rver = FindS3rver();
        folder = Path.GetFullPath(folder);
        var data = Path.Combine(folder, "data");
        Directory.CreateDirectory(data);
        var port = LocalPorts.Free();
        var script = Path.Combine(folder, "s3rver.cjs");
        await File.WriteAllTextAsync(script, Script, cancellationToken);
        var arguments = new[] { script, s3rver, data, port.ToString(CultureInfo.InvariantCulture), options.StopWithOwner ? "stdin" : "signal" };
        var detached = !options.StopWithOwner;
        // Left running: in a session of its own (a Ctrl+C at the terminal does not reach it), its output in a file.
        var start = new ProcessStartInfo(detached ? "setsid" : "node")
        {
            WorkingDirectory = folder,
            RedirectStandardInput = !detached,
            RedirectStandardOutput = !detached,
            RedirectStandardError = !detached,
            UseShellExecute = false,
        };
        if (detached)
        {
            start.ArgumentList.Add("/bin/sh");
            start.ArgumentList.Add("-c");
            start.ArgumentList.Add($"exec node {string.Join(' ', arguments.Select(a => $"'{a}'"))} >>'{Path.Combine(folder, "s3rver.log")}' 2>&1 </dev/null");
        }
        else
        {
            foreach (var a in arguments) start.ArgumentList.Add(a);
        }
        Process process;
        try
        {
            process = Process.Start(start) ?? throw new InvalidOperationException($"{s3rver} did not start");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException($"the S3 server {s3rver} cannot be started ({e.Message}); is Node.js installed? run scripts/ensure-native.sh", e);
        }
        var output = new ConcurrentQueue<string>();
        if (!detached)
        {
            process.OutputDataReceived += (_, e) => { if (e.Data is not null) output.Enqueue(e.Data); };
            process.ErrorDataReceived += (_, e) => { if (e.Data is not null) output.Enqueue(e.Data); };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
        }
        var server = new LocalS3(process, folder, port, output);
        // The server ends with this process through its standard input; the watchdog only removes a throw-away folder.
        if (options.RemoveFolderWithOwner) OwnerWatchdog.Start($"sleep 1; rm -rf '{folder}'");
        try
        {
            await server.WaitUntilServingAsync(s3rver, cancellationToken);
            foreach (var bucket in buckets ?? []) await server.CreateBucketAsync(bucket, cancellationToken);
            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    /// <summary>Creates bucket <paramref name="bucket"/>.</summary>
    public async Task CreateBucketAsync(string bucket, CancellationToken cancellationToken = default)
    {
        using var response = await Http.PutAsync(new Uri($"{Endpoint}/{bucket}"), content: null, cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"s3rver on {Endpoint} refused bucket '{bucket}': {(int)response.StatusCode} {await response.Content.ReadAsStringAsync(cancellationToken)}");
        }
    }

    /// <summary>Stops the server; the buckets stay in <see cref="Folder"/>.</summary>
    public async ValueTask DisposeAsync()
    {
        var process = _process;
        _process = null;
        if (process is null) return;
        try
        {
            if (!process.HasExited) process.Kill();
            await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(5));
        }
        catch (Exception e) when (e is InvalidOperationException or TimeoutException)
        {
        }
        process.Dispose();
    }

    private async Task WaitUntilServingAsync(string s3rver, CancellationToken cancellationToken)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            if (_process!.HasExited)
            {
                var log = Path.Combine(Folder, "s3rver.log");
                var said = File.Exists(log) ? File.ReadLines(log).TakeLast(10) : _output.TakeLast(10);
                throw new InvalidOperationException($"the S3 server ({s3rver}) exited with code {_process.ExitCode}: {string.Join(" | ", said)} (run scripts/ensure-native.sh if Node.js or s3rver is missing)");
            }
            try
            {
                using var response = await Http.GetAsync(new Uri(Endpoint), cancellationToken);
                return;
            }
            catch (HttpRequestException) when (deadline.Elapsed < TimeSpan.FromSeconds(30))
            {
                await Task.Delay(100, cancellationToken);
            }
        }
    }
}
