using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using Lamina.Servers;

namespace Lamina.Testing;

/// <summary>How a test registry lets clients in.</summary>
internal enum RegistryAuthMode
{
    /// <summary>Anyone may pull and push.</summary>
    Anonymous,

    /// <summary>HTTP Basic against an htpasswd file (bcrypt) holding <see cref="RegistryServer.Username"/>.</summary>
    Basic,

    /// <summary>Bearer tokens from a token server the fixture runs in-process (ES256 JWTs, x5c header), given for Basic credentials.</summary>
    Token,
}

/// <summary>
/// A throw-away OCI registry for tests: Debian's <c>docker-registry</c> (the reference registry, distribution 2.8) with
/// its storage in a fresh temporary folder, on a free 127.0.0.1 port, over plain http; optionally behind Basic auth or
/// token auth (a token server on another free port, signing with a self-signed certificate made here, granting every
/// access asked for by a client with the right credentials). A watchdog ends it with the test process however that ends.
/// Shared by the test projects; BCL only.
/// </summary>
internal sealed class RegistryServer : IAsyncDisposable
{
    public const string RegistryBinary = LocalRegistry.RegistryBinary;
    private const string Service = "lamina-test-registry";
    private const string Issuer = "lamina-test-token-issuer";

    private LocalRegistry? _registry;
    private HttpListener? _tokenListener;
    private Task? _tokenLoop;
    private ECDsa? _tokenKey;
    private string? _tokenCertificate;
    private int _tokensIssued;
    private RegistryFaultProxy? _proxy;
    private bool _disposed;

    private RegistryServer(string folder, RegistryAuthMode mode)
    {
        Folder = folder;
        Mode = mode;
        if (mode != RegistryAuthMode.Anonymous)
        {
            Username = "lamina";
            Password = $"pw-{Guid.NewGuid():N}";
        }
    }

    /// <summary>The temporary folder: configuration, log, htpasswd, certificate, and the storage under <see cref="RootDirectory"/>.</summary>
    public string Folder { get; }

    public int Port => _registry!.Port;

    public RegistryAuthMode Mode { get; }

    /// <summary><c>127.0.0.1:PORT</c>, the registry part of image references.</summary>
    public string Address => _registry!.Address;

    /// <summary>The registry's storage root (<c>docker/registry/v2/...</c> under it).</summary>
    public string RootDirectory => Path.Combine(Folder, "storage");

    /// <summary>The user that Basic and token auth accept; null for an anonymous registry.</summary>
    public string? Username { get; }

    /// <summary>The user's password (fresh for each server); null for an anonymous registry.</summary>
    public string? Password { get; }

    /// <summary>The token server's endpoint (<c>http://127.0.0.1:PORT/token</c>) under token auth.</summary>
    public string? TokenRealm { get; private set; }

    /// <summary>How many tokens the token server gave out.</summary>
    public int TokensIssued => Volatile.Read(ref _tokensIssued);

    /// <summary>Starts a registry (<see cref="LocalRegistry"/> in a fresh temporary folder; the caller disposes it).</summary>
    public static async Task<RegistryServer> StartAsync(RegistryAuthMode mode = RegistryAuthMode.Anonymous)
    {
        var folder = Path.Combine(Path.GetTempPath(), $"lamina-registry-{Guid.NewGuid():N}");
        Directory.CreateDirectory(folder);
        var server = new RegistryServer(folder, mode);
        try
        {
            var auth = mode switch
            {
                RegistryAuthMode.Basic => await server.WriteHtpasswdAsync(),
                RegistryAuthMode.Token => await server.StartTokenServerAsync(),
                _ => null,
            };
            server._registry = await LocalRegistry.StartAsync(folder, auth, new LocalServerOptions(RemoveFolderWithOwner: true));
            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    /// <summary>The file holding a blob's bytes in the registry's storage.</summary>
    public string BlobDataPath(string digest)
    {
        var hex = digest.StartsWith("sha256:", StringComparison.Ordinal) ? digest["sha256:".Length..] : digest;
        return Path.Combine(RootDirectory, "docker", "registry", "v2", "blobs", "sha256", hex[..2], hex, "data");
    }

    /// <summary>Changes one byte of a stored blob (same size, other content), as a disk fault or an attacker would.</summary>
    public void TamperWithBlob(string digest)
    {
        var path = BlobDataPath(digest);
        if (!File.Exists(path)) throw new InvalidOperationException($"the registry holds no blob {digest} ({path})");
        var bytes = File.ReadAllBytes(path);
        bytes[bytes.Length / 2] ^= 0x5a;
        File.WriteAllBytes(path, bytes);
    }

    /// <summary>Replaces a stored blob's bytes.</summary>
    public void ReplaceBlob(string digest, byte[] bytes)
    {
        var path = BlobDataPath(digest);
        if (!File.Exists(path)) throw new InvalidOperationException($"the registry holds no blob {digest} ({path})");
        File.WriteAllBytes(path, bytes);
    }

    /// <summary>A proxy in front of this registry that can fail or reset the next connections (stopped with the registry).</summary>
    public RegistryFaultProxy StartFaultProxy() => _proxy ??= RegistryFaultProxy.Start(Port);

    /// <summary>The registry's log (for failing tests' messages).</summary>
    public string LogTail() => _registry?.LogTail() ?? "(no log)";

    public async ValueTask DisposeAsync()
    {
        if (_disposed) return;
        _disposed = true;
        if (_registry is { } registry) await registry.DisposeAsync();
        if (_proxy is { } proxy) await proxy.DisposeAsync();
        if (_tokenListener is { } listener)
        {
            listener.Stop();
            listener.Close();
            if (_tokenLoop is { } loop) await loop.ContinueWith(_ => { }, TaskScheduler.Default);
        }
        _tokenKey?.Dispose();
        try
        {
            Directory.Delete(Folder, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }

    private async Task<string> WriteHtpasswdAsync()
    {
        var path = Path.Combine(Folder, "htpasswd");
        await File.WriteAllTextAsync(path, $"{Username}:{await BcryptAsync(Password!)}\n");
        return $"""
            auth:
              htpasswd:
                realm: {Service}
                path: {path}
            """;
    }

    // htpasswd (apache2-utils) where installed, else the bcrypt of Debian's libcrypt through its Python.
    private static async Task<string> BcryptAsync(string password)
    {
        var htpasswd = File.Exists("/usr/bin/htpasswd");
        var info = new ProcessStartInfo(htpasswd ? "/usr/bin/htpasswd" : "/usr/bin/python3") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (htpasswd)
        {
            foreach (var a in new[] { "-nbB", "-C", "5", "u", password }) info.ArgumentList.Add(a);
        }
        else
        {
            info.ArgumentList.Add("-W");
            info.ArgumentList.Add("ignore");
            info.ArgumentList.Add("-c");
            info.ArgumentList.Add("import crypt,sys; print('u:' + crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=32)))");
            info.ArgumentList.Add(password);
        }
        using var process = Process.Start(info)!;
        var output = await process.StandardOutput.ReadToEndAsync();
        var error = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        var line = output.Trim();
        if (process.ExitCode != 0 || !line.StartsWith("u:$2", StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"cannot make a bcrypt hash with {info.FileName} (exit {process.ExitCode}): {error} (install apache2-utils: scripts/ensure-native.sh)");
        }
        return line[2..];
    }

    private Task<string> StartTokenServerAsync()
    {
        _tokenKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=Lamina test token issuer", _tokenKey, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyCertSign, true));
        var now = DateTimeOffset.UtcNow;
        using var certificate = request.CreateSelfSigned(now.AddDays(-1), now.AddDays(30));
        _tokenCertificate = Convert.ToBase64String(certificate.RawData);
        var bundle = Path.Combine(Folder, "token-root.pem");
        File.WriteAllText(bundle, certificate.ExportCertificatePem() + "\n");

        // HttpListener may lose a race for the port with another process: a few ports are tried.
        for (var attempt = 0; ; attempt++)
        {
            var port = LocalPorts.Free();
            var listener = new HttpListener();
            listener.Prefixes.Add($"http://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}/");
            try
            {
                listener.Start();
            }
            catch (HttpListenerException) when (attempt < 5)
            {
                listener.Close();
                continue;
            }
            _tokenListener = listener;
            TokenRealm = $"http://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}/token";
            break;
        }
        _tokenLoop = Task.Run(ServeTokensAsync);
        return Task.FromResult($"""
            auth:
              token:
                realm: {TokenRealm}
                service: {Service}
                issuer: {Issuer}
                rootcertbundle: {bundle}
            """);
    }

    private async Task ServeTokensAsync()
    {
        while (_tokenListener is { IsListening: true } listener)
        {
            HttpListenerContext context;
            try
            {
                context = await listener.GetContextAsync();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }
            try
            {
                Answer(context);
            }
            catch (Exception e) when (e is HttpListenerException or IOException or ObjectDisposedException)
            {
                // The client went away.
            }
        }
    }

    private void Answer(HttpListenerContext context)
    {
        var response = context.Response;
        var request = context.Request;
        if (request.Url?.AbsolutePath != "/token")
        {
            Reply(response, HttpStatusCode.NotFound, """{"error":"not found"}""");
            return;
        }
        // Only the fixture's user gets tokens: anonymous and wrong passwords are refused as a real token server would.
        var expected = "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes($"{Username}:{Password}"));
        if (request.Headers["Authorization"] != expected)
        {
            response.AddHeader("WWW-Authenticate", $"Basic realm=\"{Service}\"");
            Reply(response, HttpStatusCode.Unauthorized, """{"errors":[{"code":"UNAUTHORIZED","message":"wrong user name or password"}]}""");
            return;
        }
        var query = (request.Url.Query.Length > 1 ? request.Url.Query[1..] : "").Split('&', StringSplitOptions.RemoveEmptyEntries)
            .Select(p => p.Split('=', 2)).Select(p => (Name: Uri.UnescapeDataString(p[0]), Value: p.Length > 1 ? Uri.UnescapeDataString(p[1].Replace('+', ' ')) : ""))
            .ToList();
        var access = query.Where(p => p.Name == "scope").SelectMany(p => p.Value.Split(' ', StringSplitOptions.RemoveEmptyEntries)).Select(scope =>
        {
            // type:name:actions, where the name may hold ':' (a registry host with a port).
            var first = scope.IndexOf(':', StringComparison.Ordinal);
            var last = scope.LastIndexOf(':');
            return new Dictionary<string, object>
            {
                ["type"] = scope[..first],
                ["name"] = scope[(first + 1)..last],
                ["actions"] = scope[(last + 1)..].Split(',', StringSplitOptions.RemoveEmptyEntries),
            };
        }).ToList();
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var header = new Dictionary<string, object> { ["typ"] = "JWT", ["alg"] = "ES256", ["x5c"] = new[] { _tokenCertificate! } };
        var claims = new Dictionary<string, object>
        {
            ["iss"] = Issuer,
            ["sub"] = Username!,
            ["aud"] = query.FirstOrDefault(p => p.Name == "service").Value ?? Service,
            ["exp"] = now + 300,
            ["nbf"] = now - 10,
            ["iat"] = now,
            ["jti"] = Guid.NewGuid().ToString("N"),
            ["access"] = access,
        };
        var signingInput = $"{Base64Url(JsonSerializer.SerializeToUtf8Bytes(header))}.{Base64Url(JsonSerializer.SerializeToUtf8Bytes(claims))}";
        // JWS ES256 signatures are r || s (IEEE P1363), .NET's default format.
        var signature = _tokenKey!.SignData(Encoding.ASCII.GetBytes(signingInput), HashAlgorithmName.SHA256);
        var token = $"{signingInput}.{Base64Url(signature)}";
        Interlocked.Increment(ref _tokensIssued);
        Reply(response, HttpStatusCode.OK, JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["token"] = token,
            ["access_token"] = token,
            ["expires_in"] = 300,
            ["issued_at"] = DateTimeOffset.FromUnixTimeSeconds(now).ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture),
        }));
    }

    private static void Reply(HttpListenerResponse response, HttpStatusCode status, string json)
    {
        var bytes = Encoding.UTF8.GetBytes(json);
        response.StatusCode = (int)status;
        response.ContentType = "application/json";
        response.ContentLength64 = bytes.Length;
        response.OutputStream.Write(bytes);
        response.Close();
    }

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}

/// <summary>
/// A TCP proxy on a free 127.0.0.1 port in front of a test registry, passing connections through unless told to fail
/// the next ones: answer with an HTTP status (then close), or reset the connection once the request has arrived. What
/// a flaky network or an overloaded registry does, for testing retries against the real registry.
/// </summary>
internal sealed class RegistryFaultProxy : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly int _target;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;
    private int _connections;
    private int _failLeft;
    private int _failStatus;
    private int _resetLeft;

    private RegistryFaultProxy(int target)
    {
        _target = target;
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start();
        _accepting = Task.Run(AcceptAsync);
    }

    /// <summary><c>127.0.0.1:PORT</c> of the proxy.</summary>
    public string Address => $"127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port.ToString(CultureInfo.InvariantCulture)}";

    /// <summary>Connections accepted so far.</summary>
    public int Connections => Volatile.Read(ref _connections);

    public static RegistryFaultProxy Start(int targetPort) => new(targetPort);

    /// <summary>The next <paramref name="count"/> connections get <paramref name="status"/> (503, 429...) and are closed.</summary>
    public void FailNext(int count, int status)
    {
        Volatile.Write(ref _failStatus, status);
        Volatile.Write(ref _failLeft, count);
    }

    /// <summary>The next <paramref name="count"/> connections are reset (TCP RST) once the request has arrived.</summary>
    public void ResetNext(int count) => Volatile.Write(ref _resetLeft, count);

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _accepting.ContinueWith(_ => { }, TaskScheduler.Default);
        _stop.Dispose();
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }
            Interlocked.Increment(ref _connections);
            _ = Task.Run(() => HandleAsync(client));
        }
    }

    private async Task HandleAsync(TcpClient client)
    {
        using (client)
        {
            try
            {
                var stream = client.GetStream();
                if (Interlocked.Decrement(ref _resetLeft) >= 0)
                {
                    await ReadHeadAsync(stream);
                    client.LingerState = new LingerOption(true, 0);
                    return;
                }
                if (Interlocked.Decrement(ref _failLeft) >= 0)
                {
                    await ReadHeadAsync(stream);
                    var status = Volatile.Read(ref _failStatus);
                    var body = $$"""{"errors":[{"code":"UNAVAILABLE","message":"injected by the test proxy"}]}""";
                    var answer = $"HTTP/1.1 {status.ToString(CultureInfo.InvariantCulture)} Injected\r\nContent-Type: application/json\r\nContent-Length: {body.Length.ToString(CultureInfo.InvariantCulture)}\r\nConnection: close\r\n\r\n{body}";
                    await stream.WriteAsync(Encoding.ASCII.GetBytes(answer), _stop.Token);
                    return;
                }
                using var upstream = new TcpClient();
                await upstream.ConnectAsync(IPAddress.Loopback, _target, _stop.Token);
                var target = upstream.GetStream();
                var up = stream.CopyToAsync(target, _stop.Token);
                var down = target.CopyToAsync(stream, _stop.Token);
                await Task.WhenAny(up, down);
            }
            catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
            {
                // One side went away.
            }
        }
    }

    // Reads up to the end of the request's head, so a fault comes after the client has sent its request.
    private async Task ReadHeadAsync(NetworkStream stream)
    {
        var seen = new List<byte>();
        var buffer = new byte[4096];
        while (seen.Count < 1 << 16)
        {
            var read = await stream.ReadAsync(buffer, _stop.Token);
            if (read == 0) return;
            seen.AddRange(buffer.AsSpan(0, read));
            if (Encoding.ASCII.GetString([.. seen]).Contains("\r\n\r\n", StringComparison.Ordinal)) return;
        }
    }
}
