using System.Diagnostics;
using System.Net;
using Amazon.S3;
using Lamina.Serve.Contracts;

namespace Lamina.Serve.Requests;

/// <summary>
/// A request's slide where the engine can open it: a path as given, or an <c>s3://</c> object fetched into its own
/// folder under the scratch folder, removed when disposed.
/// </summary>
internal sealed class SlideSource : IDisposable
{
    private readonly string? _folder;

    private SlideSource(string path, string? folder, double fetchSeconds)
    {
        Path = path;
        _folder = folder;
        FetchSeconds = fetchSeconds;
    }

    /// <summary>The slide's local path.</summary>
    public string Path { get; }

    /// <summary>Seconds spent fetching it (0 for a path).</summary>
    public double FetchSeconds { get; }

    /// <exception cref="RequestFailure">No slide there (slide_not_found), or an S3 address without a key.</exception>
    public static async Task<SlideSource> OpenAsync(AnalysisRequest request, string scratch, S3Objects s3, CancellationToken cancellationToken)
    {
        if (!S3Address.IsS3(request.Slide))
        {
            var path = System.IO.Path.GetFullPath(request.Slide);
            if (!File.Exists(path)) throw new RequestFailure(FailureReasons.SlideNotFound, $"slide '{request.Slide}' does not exist (as seen by this service)");
            return new SlideSource(path, null, 0);
        }
        var address = S3Address.Parse(request.Slide, "slide");
        var name = System.IO.Path.GetFileName(address.Key);
        if (name.Length == 0) throw new RequestFailure(FailureReasons.InvalidRequest, $"'slide' {request.Slide}: no object key");
        var folder = System.IO.Path.Combine(scratch, $"{request.RequestId}.{Guid.NewGuid():N}");
        Directory.CreateDirectory(folder);
        var target = System.IO.Path.Combine(folder, name);
        var clock = Stopwatch.StartNew();
        try
        {
            using var response = await s3.Client.GetObjectAsync(address.Bucket, address.Key, cancellationToken).ConfigureAwait(false);
            await using (var file = new FileStream(target, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20, useAsync: true))
            {
                await response.ResponseStream.CopyToAsync(file, 1 << 20, cancellationToken).ConfigureAwait(false);
            }
            return new SlideSource(target, folder, clock.Elapsed.TotalSeconds);
        }
        catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.NotFound)
        {
            Remove(folder);
            throw new RequestFailure(FailureReasons.SlideNotFound, $"slide '{request.Slide}' does not exist ({e.ErrorCode})", e);
        }
        catch
        {
            Remove(folder);
            throw;
        }
    }

    public void Dispose()
    {
        if (_folder is not null) Remove(_folder);
    }

    /// <summary>Removes what fetches of stopped services left in <paramref name="scratch"/> (called at start, before any request).</summary>
    public static void ClearScratch(string scratch)
    {
        if (!Directory.Exists(scratch)) return;
        foreach (var folder in Directory.EnumerateDirectories(scratch)) Remove(folder);
    }

    private static void Remove(string folder)
    {
        try
        {
            if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Cleared at the next start.
        }
    }
}
