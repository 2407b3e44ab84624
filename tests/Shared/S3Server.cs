using Lamina.Servers;

namespace Lamina.Testing;

/// <summary>
/// An S3-compatible server for the tests: <see cref="LocalS3"/> (s3rver) over a temporary folder, one per test process;
/// it ends with this process however that ends (it runs while its standard input, held here, is open). Each test takes
/// a fresh bucket. It accepts any credentials. Shared by the test projects.
/// </summary>
internal sealed class S3Server : IDisposable
{
    private static readonly Lazy<Task<S3Server>> SharedServer = new(StartAsync, LazyThreadSafetyMode.ExecutionAndPublication);

    private readonly LocalS3 _server;

    private S3Server(LocalS3 server) => _server = server;

    /// <summary>The server of this test process, started on first use.</summary>
    public static Task<S3Server> SharedAsync() => SharedServer.Value;

    /// <summary>The server's URL (<c>http://127.0.0.1:PORT</c>), for <c>LAMINA_S3_ENDPOINT</c>.</summary>
    public string Endpoint => _server.Endpoint;

    /// <summary>The credentials to give the SDK (s3rver checks signatures against these).</summary>
    public const string AccessKeyId = LocalS3.AccessKeyId;

    public const string SecretAccessKey = LocalS3.SecretAccessKey;

    /// <summary>The environment of a store on this server: the endpoint and credentials, nothing from the real environment.</summary>
    public Func<string, string?> Environment => name => _server.EnvironmentVariables.GetValueOrDefault(name);

    /// <summary>Creates an empty bucket of a fresh name and returns the name.</summary>
    public async Task<string> CreateBucketAsync()
    {
        var bucket = $"t{Guid.NewGuid():N}";
        await _server.CreateBucketAsync(bucket);
        return bucket;
    }

    /// <summary>The folder holding <c>Lamina.slnx</c>, found upwards from the running tests.</summary>
    public static string RepositoryRoot() =>
        SourceRepository.Find() ?? throw new InvalidOperationException($"no Lamina.slnx above {AppContext.BaseDirectory}");

    /// <summary>A free TCP port on 127.0.0.1 (free when asked; the caller binds it at once).</summary>
    public static int FreePort() => LocalPorts.Free();

    public void Dispose()
    {
        _server.DisposeAsync().AsTask().GetAwaiter().GetResult();
        try
        {
            Directory.Delete(_server.Folder, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private static async Task<S3Server> StartAsync()
    {
        var folder = Path.Combine(Path.GetTempPath(), $"lamina-s3rver-{Guid.NewGuid():N}");
        var server = new S3Server(await LocalS3.StartAsync(folder, options: new LocalServerOptions(RemoveFolderWithOwner: true)));
        AppDomain.CurrentDomain.ProcessExit += (_, _) => server.Dispose();
        return server;
    }
}
