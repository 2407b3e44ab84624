using System.Diagnostics;
using System.Net.Sockets;
using Lamina.Servers;

namespace Lamina.Servers.Tests;

/// <summary>Each local server starts in its folder on a free port, answers its protocol, stops, and leaves its data and nothing running.</summary>
public sealed class LocalServersTests
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(30) };

    [Fact]
    public async Task Postgres_StartsAnswersSqlAndStops_LeavingItsData()
    {
        using var folder = new TemporaryDirectory();
        var root = folder.Combine("postgres");

        // Given a server started in a folder
        var server = await LocalPostgres.StartAsync(root);
        int port;
        await using (server)
        {
            port = server.Port;

            // When a database is made and queried over TCP with the password (psql with the URI)
            var uri = await server.CreateDatabaseAsync("demo");
            Assert.Equal(server.UriOf("demo"), uri);
            await server.PsqlAsync("demo", "CREATE TABLE t (x int); INSERT INTO t VALUES (42);");
            var answer = await RunAsync("psql", uri, "-A", "-t", "-c", "SELECT x FROM t");

            // Then it answers
            Assert.Equal("42", answer.Trim());
            Assert.True(await LocalPorts.AcceptsAsync(port));
        }

        // Then, disposed, nothing listens and the data stays
        Assert.False(await LocalPorts.AcceptsAsync(port));
        Assert.True(File.Exists(Path.Combine(root, "data", "PG_VERSION")));
        Assert.False(File.Exists(Path.Combine(root, "data", "postmaster.pid")));
    }

    [Fact]
    public async Task S3_StartsWithItsBuckets_StoresObjectsAndStops()
    {
        using var folder = new TemporaryDirectory();
        var root = folder.Combine("s3");

        // Given a server started with two buckets
        var server = await LocalS3.StartAsync(root, ["artifacts", "production"]);
        int pid;
        await using (server)
        {
            pid = server.ProcessId;

            // When an object is put and read back, and the bucket list asked for
            using (var put = await Http.PutAsync(new Uri($"{server.Endpoint}/artifacts/hello.txt"), new StringContent("hello")))
            {
                Assert.True(put.IsSuccessStatusCode, $"PUT: {put.StatusCode}");
            }
            var body = await Http.GetStringAsync(new Uri($"{server.Endpoint}/artifacts/hello.txt"));
            var buckets = await Http.GetStringAsync(new Uri(server.Endpoint));

            // Then it answers as S3 does
            Assert.Equal("hello", body);
            Assert.Contains("<Name>artifacts</Name>", buckets, StringComparison.Ordinal);
            Assert.Contains("<Name>production</Name>", buckets, StringComparison.Ordinal);
        }

        // Then, disposed, its process is gone and the bucket's data stays in the folder
        Assert.False(IsRunning(pid));
        Assert.True(Directory.Exists(Path.Combine(root, "data", "artifacts")));
    }

    [Fact]
    public async Task S3_WithoutS3rver_SaysWhereItLooked()
    {
        // Given LAMINA_S3RVER naming a folder that holds no npm package (read by this test process only)
        using var folder = new TemporaryDirectory();
        var previous = Environment.GetEnvironmentVariable("LAMINA_S3RVER");
        Environment.SetEnvironmentVariable("LAMINA_S3RVER", folder.Path);
        try
        {
            // When the server is started, then it refuses, naming the setting and the folder
            var e = await Assert.ThrowsAsync<InvalidOperationException>(() => LocalS3.StartAsync(folder.Combine("s3")));
            Assert.Contains("LAMINA_S3RVER", e.Message, StringComparison.Ordinal);
            Assert.Contains(folder.Path, e.Message, StringComparison.Ordinal);
        }
        finally
        {
            Environment.SetEnvironmentVariable("LAMINA_S3RVER", previous);
        }
    }

    [Fact]
    public async Task RabbitMq_StartsSpeaksAmqpAndStops()
    {
        using var folder = new TemporaryDirectory();
        var root = folder.Combine("rabbitmq");

        // Given a node started in a folder
        var server = await LocalRabbitMq.StartAsync(root);
        int port;
        int pid;
        await using (server)
        {
            port = server.Port;
            pid = int.Parse(await File.ReadAllTextAsync(Path.Combine(root, "node.pid")), System.Globalization.CultureInfo.InvariantCulture);

            // When a client sends the AMQP protocol header, then the broker answers with a method frame (connection.start)
            Assert.Equal(1, await FirstFrameTypeAsync(port));
            Assert.Equal($"amqp://guest:guest@127.0.0.1:{port}/", server.Uri.ToString());
        }

        // Then, disposed, the node is gone and nothing listens
        Assert.False(IsRunning(pid));
        Assert.False(await LocalPorts.AcceptsAsync(port));
        Assert.True(Directory.Exists(Path.Combine(root, "mnesia")));
    }

    [Fact]
    public async Task Registry_StartsServesTheDistributionApiAndStops()
    {
        using var folder = new TemporaryDirectory();
        var root = folder.Combine("registry");

        // Given a registry started in a folder
        var server = await LocalRegistry.StartAsync(root);
        string address;
        await using (server)
        {
            address = server.Address;

            // When a blob is pushed (monolithic upload) and read back
            var bytes = "a layer"u8.ToArray();
            var digest = "sha256:" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes));
            using var start = await Http.PostAsync(new Uri($"http://{address}/v2/demo/blobs/uploads/"), null);
            Assert.Equal(System.Net.HttpStatusCode.Accepted, start.StatusCode);
            var location = start.Headers.Location!;
            var upload = location.IsAbsoluteUri ? location : new Uri(new Uri($"http://{address}"), location);
            var separator = upload.Query.Length > 0 ? "&" : "?";
            using var put = await Http.PutAsync(new Uri($"{upload}{separator}digest={Uri.EscapeDataString(digest)}"), new ByteArrayContent(bytes));
            Assert.Equal(System.Net.HttpStatusCode.Created, put.StatusCode);
            var back = await Http.GetByteArrayAsync(new Uri($"http://{address}/v2/demo/blobs/{digest}"));

            // Then it serves it, from the folder's storage
            Assert.Equal(bytes, back);
            Assert.True(Directory.Exists(Path.Combine(server.RootDirectory, "docker", "registry", "v2", "blobs")));
        }

        // Then, disposed, nothing answers on its address
        await Assert.ThrowsAsync<HttpRequestException>(() => Http.GetAsync(new Uri($"http://{address}/v2/")));
    }

    [Fact]
    public async Task Servers_LeftRunning_AreInSessionsOfTheirOwn_AndStopOnDispose()
    {
        using var folder = new TemporaryDirectory();

        // Given a registry started to outlive this process (no watchdog, its own session)
        var server = await LocalRegistry.StartAsync(folder.Combine("registry"), options: new LocalServerOptions(StopWithOwner: false));
        await using (server)
        {
            var pid = int.Parse(await File.ReadAllTextAsync(Path.Combine(server.Folder, "registry.pid")), System.Globalization.CultureInfo.InvariantCulture);

            // Then it leads a session of its own: a Ctrl+C at this process's terminal does not reach it
            // /proc/PID/stat after the name: state, parent, process group, session.
            var stat = (await File.ReadAllTextAsync($"/proc/{pid}/stat")).Split(") ")[1].Split(' ');
            Assert.Equal(pid.ToString(System.Globalization.CultureInfo.InvariantCulture), stat[3]);
        }
    }

    private static async Task<int> FirstFrameTypeAsync(int port)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(System.Net.IPAddress.Loopback, port);
        var stream = client.GetStream();
        await stream.WriteAsync("AMQP\0\0\u0009\u0001"u8.ToArray());
        var frame = new byte[1];
        return await stream.ReadAsync(frame) == 1 ? frame[0] : -1;
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

    private static async Task<string> RunAsync(string program, params string[] arguments)
    {
        var info = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in arguments) info.ArgumentList.Add(a);
        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, $"{program}: {await error}");
        return await output;
    }
}
