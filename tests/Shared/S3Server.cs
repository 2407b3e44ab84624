using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Lamina.Testing;

/// <summary>
/// An S3-compatible server for the tests: s3rver (npm, installed by <c>scripts/ensure-native.sh</c> into
/// <c>tools/test-servers</c>) on a free 127.0.0.1 port over a temporary folder, one per test process; it runs while its
/// standard input, held by this process, is open, so it ends with this process however that ends (kill -9 included). Each test takes a fresh bucket. It accepts any credentials. Shared by the test projects (BCL only).
/// </summary>
internal sealed class S3Server : IDisposable
{
    private static readonly Lazy<Task<S3Server>> SharedServer = new(StartAsync, LazyThreadSafetyMode.ExecutionAndPublication);
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(30) };

    private readonly Process _process;
    private readonly string _directory;

    private S3Server(Process process, string directory, string endpoint)
    {
        _process = process;
        _directory = directory;
        Endpoint = endpoint;
    }

    /// <summary>The server of this test process, started on first use.</summary>
    public static Task<S3Server> SharedAsync() => SharedServer.Value;

    /// <summary>The server's URL (<c>http://127.0.0.1:PORT</c>), for <c>LAMINA_S3_ENDPOINT</c>.</summary>
    public string Endpoint { get; }

    /// <summary>The credentials to give the SDK (s3rver checks signatures against these).</summary>
    public const string AccessKeyId = "S3RVER";

    public const string SecretAccessKey = "S3RVER";

    /// <summary>The environment of a store on this server: the endpoint and credentials, nothing from the real environment.</summary>
    public Func<string, string?> Environment => name => name switch
    {
        "LAMINA_S3_ENDPOINT" => Endpoint,
        "AWS_ACCESS_KEY_ID" => AccessKeyId,
        "AWS_SECRET_ACCESS_KEY" => SecretAccessKey,
        "AWS_REGION" => "us-east-1",
        _ => null,
    };

    /// <summary>Creates an empty bucket of a fresh name and returns the name.</summary>
    public async Task<string> CreateBucketAsync()
    {
        var bucket = $"t{Guid.NewGuid():N}";
        using var response = await Http.PutAsync($"{Endpoint}/{bucket}", content: null);
        response.EnsureSuccessStatusCode();
        return bucket;
    }

    /// <summary>The folder holding <c>Lamina.slnx</c>, found upwards from the running tests.</summary>
    public static string RepositoryRoot()
    {
        for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
        {
            if (File.Exists(System.IO.Path.Combine(folder.FullName, "Lamina.slnx"))) return folder.FullName;
        }
        throw new InvalidOperationException($"no Lamina.slnx above {AppContext.BaseDirectory}");
    }

    /// <summary>A free TCP port on 127.0.0.1 (free when asked; the caller binds it at once).</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited) _process.Kill();
            _process.WaitForExit(5000);
        }
        catch (InvalidOperationException)
        {
        }
        _process.Dispose();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private const string FolderPrefix = "lamina-s3rver-";

    // The data folders of servers whose test process is gone (lamina-s3rver-PID-GUID).
    private static void RemoveFoldersOfEndedProcesses()
    {
        foreach (var folder in Directory.GetDirectories(System.IO.Path.GetTempPath(), $"{FolderPrefix}*"))
        {
            var name = System.IO.Path.GetFileName(folder)[FolderPrefix.Length..];
            var dash = name.IndexOf('-', StringComparison.Ordinal);
            if (dash < 0 || !int.TryParse(name[..dash], out var pid) || IsRunning(pid)) continue;
            try
            {
                Directory.Delete(folder, recursive: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
            }
        }
    }

    private static bool IsRunning(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    private static async Task<S3Server> StartAsync()
    {
        var servers = System.IO.Path.Combine(RepositoryRoot(), "tools", "test-servers");
        var s3rver = System.IO.Path.Combine(servers, "node_modules", "s3rver");
        if (!Directory.Exists(s3rver)) throw new InvalidOperationException($"the S3 test server is not installed at {s3rver}: run scripts/ensure-native.sh");
        RemoveFoldersOfEndedProcesses();
        var directory = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"{FolderPrefix}{System.Environment.ProcessId}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(directory);
        var port = FreePort();
        // The server runs while its standard input is open: this process holds the other end, so the server ends with it
        // however it ends (a killed test host included), with no watchdog to outlive or be killed before it.
        var start = new ProcessStartInfo("node")
        {
            ArgumentList = { System.IO.Path.Combine(servers, "s3rver-while-stdin.js"), directory, port.ToString(System.Globalization.CultureInfo.InvariantCulture) },
            WorkingDirectory = servers,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        Process process;
        try
        {
            process = Process.Start(start) ?? throw new InvalidOperationException($"{s3rver} did not start");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException($"the S3 test server {s3rver} cannot be started ({e.Message}); is Node.js installed? run scripts/ensure-native.sh", e);
        }
        var output = new System.Collections.Concurrent.ConcurrentQueue<string>();
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) output.Enqueue(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) output.Enqueue(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var server = new S3Server(process, directory, $"http://127.0.0.1:{port}");
        AppDomain.CurrentDomain.ProcessExit += (_, _) => server.Dispose();

        var deadline = Stopwatch.StartNew();
        while (true)
        {
            if (process.HasExited)
            {
                var code = process.ExitCode;
                server.Dispose();
                throw new InvalidOperationException($"the S3 test server exited with code {code}: {string.Join(" | ", output.TakeLast(10))} (run scripts/ensure-native.sh if Node.js or s3rver is missing)");
            }
            try
            {
                using var response = await Http.GetAsync(server.Endpoint);
                return server;
            }
            catch (HttpRequestException) when (deadline.Elapsed < TimeSpan.FromSeconds(30))
            {
                await Task.Delay(100);
            }
        }
    }
}
