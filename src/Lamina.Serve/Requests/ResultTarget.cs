using System.Text.Json;
using Amazon.S3.Model;
using Lamina.Core.Outputs;
using Lamina.Core.Provenance;
using Lamina.Serve.Contracts;

namespace Lamina.Serve.Requests;

/// <summary>What a request's output holds before the analysis: nothing, this request's verified results, or something else.</summary>
internal abstract record ExistingResults
{
    public sealed record Absent : ExistingResults;

    public sealed record Complete(ResultManifest Manifest, string ManifestSha256) : ExistingResults;

    public sealed record Conflict(string Why) : ExistingResults;
}

/// <summary>Committed results: their manifest and its digest.</summary>
internal sealed record WrittenResults(ResultManifest Manifest, string ManifestSha256);

/// <summary>
/// Where a request's results go. Results are written into a local staging folder; <see cref="CommitAsync"/> pins
/// every file in <c>lamina-result.json</c> and makes them appear whole: a folder is renamed into place, an S3 prefix
/// receives the manifest after every other file.
/// </summary>
internal abstract class ResultTarget : IDisposable
{
    /// <summary>The local folder to write the results into.</summary>
    public abstract string Staging { get; }

    public abstract Task<ExistingResults> InspectAsync(string requestId, CancellationToken cancellationToken);

    /// <summary>Pins the staged files in the manifest (built by <paramref name="manifest"/> from the files) and publishes them.</summary>
    /// <exception cref="RequestFailure">The output cannot be written (output_unwritable), or another writer's results appeared meanwhile (output_conflict).</exception>
    public abstract Task<WrittenResults> CommitAsync(Func<IReadOnlyList<ResultFile>, ResultManifest> manifest, CancellationToken cancellationToken);

    public abstract void Dispose();

    /// <summary>The target of a request's <c>output</c>: a folder, or an <c>s3://</c> prefix staged under <paramref name="scratch"/>.</summary>
    /// <exception cref="RequestFailure">An unwritable folder (output_unwritable) or a malformed address (invalid_request).</exception>
    public static ResultTarget For(AnalysisRequest request, string scratch, S3Objects s3) =>
        S3Address.IsS3(request.Output) ? new S3Target(S3Address.Parse(request.Output, "output"), request.RequestId, scratch, s3) : new FolderTarget(request.Output);

    /// <summary>The files of a staged folder (the manifest excepted), names relative with '/', in ordinal order, each hashed.</summary>
    protected static List<ResultFile> Pin(string staging) =>
        [.. Directory.EnumerateFiles(staging, "*", SearchOption.AllDirectories)
            .Select(path => (Path: path, Name: Path.GetRelativePath(staging, path).Replace('\\', '/')))
            .Where(f => f.Name != ResultManifest.FileName)
            .OrderBy(f => f.Name, StringComparer.Ordinal)
            .Select(f => new ResultFile(f.Name, Sha256Digest.OfFile(f.Path).Digest.Hex, new FileInfo(f.Path).Length))];

    protected static ExistingResults Judge(byte[] manifestBytes, string requestId, string where, Func<ResultFile, string?> digestOf)
    {
        ResultManifest manifest;
        try
        {
            manifest = ResultManifest.Read(manifestBytes);
        }
        catch (JsonException e)
        {
            return new ExistingResults.Conflict($"{where}: {ResultManifest.FileName} is not a result manifest ({e.Message})");
        }
        if (manifest.RequestId != requestId)
        {
            return new ExistingResults.Conflict($"{where} holds the results of request '{manifest.RequestId}', not of this one; results are never replaced");
        }
        foreach (var file in manifest.Files)
        {
            var actual = digestOf(file);
            if (actual != file.Sha256)
            {
                return new ExistingResults.Conflict(actual is null
                    ? $"{where}: {file.Name} of this request's results is missing; results are never replaced (remove the output to analyse again)"
                    : $"{where}: {file.Name} of this request's results was altered (sha256 {actual}, pinned {file.Sha256}); results are never replaced");
            }
        }
        return new ExistingResults.Complete(manifest, Sha256Digest.Of(manifestBytes).Hex);
    }

    private sealed class FolderTarget : ResultTarget
    {
        private readonly string _target;
        private OutputFolder? _folder;

        public FolderTarget(string output)
        {
            _target = Path.TrimEndingDirectorySeparator(Path.GetFullPath(output));
        }

        public override string Staging => (_folder ?? throw new InvalidOperationException("inspect the target first")).Staging;

        public override Task<ExistingResults> InspectAsync(string requestId, CancellationToken cancellationToken)
        {
            var manifest = Path.Combine(_target, ResultManifest.FileName);
            if (File.Exists(manifest))
            {
                return Task.FromResult(Judge(File.ReadAllBytes(manifest), requestId, _target, file =>
                {
                    var path = Path.Combine(_target, file.Name);
                    return File.Exists(path) ? Sha256Digest.OfFile(path).Digest.Hex : null;
                }));
            }
            try
            {
                _folder?.Dispose();
                _folder = OutputFolder.Begin(_target, force: false, forceOption: "a request never replaces them");
            }
            catch (OutputException e) when (File.Exists(_target) || Directory.Exists(_target) && Directory.EnumerateFileSystemEntries(_target).Any())
            {
                return Task.FromResult<ExistingResults>(new ExistingResults.Conflict(e.Message));
            }
            catch (OutputException e)
            {
                throw new RequestFailure(FailureReasons.OutputUnwritable, e.Message, e);
            }
            return Task.FromResult<ExistingResults>(new ExistingResults.Absent());
        }

        public override Task<WrittenResults> CommitAsync(Func<IReadOnlyList<ResultFile>, ResultManifest> manifest, CancellationToken cancellationToken)
        {
            var folder = _folder ?? throw new InvalidOperationException("inspect the target first");
            var written = manifest(Pin(folder.Staging));
            var bytes = written.ToJson();
            File.WriteAllBytes(Path.Combine(folder.Staging, ResultManifest.FileName), bytes);
            try
            {
                folder.Commit();
            }
            catch (OutputException e)
            {
                throw new RequestFailure(Directory.Exists(_target) ? FailureReasons.OutputConflict : FailureReasons.OutputUnwritable, e.Message, e);
            }
            return Task.FromResult(new WrittenResults(written, Sha256Digest.Of(bytes).Hex));
        }

        public override void Dispose() => _folder?.Dispose();
    }

    private sealed class S3Target(S3Address prefix, string requestId, string scratch, S3Objects s3) : ResultTarget
    {
        private readonly string _staging = Path.Combine(scratch, $"{requestId}.out.{Guid.NewGuid():N}");

        public override string Staging => _staging;

        public override async Task<ExistingResults> InspectAsync(string requestId, CancellationToken cancellationToken)
        {
            var manifest = await s3.ReadAsync(prefix with { Key = prefix.Under(ResultManifest.FileName) }, cancellationToken).ConfigureAwait(false);
            if (manifest is null)
            {
                // Files without a manifest are an attempt that stopped half-way: overwritten by this one.
                Directory.CreateDirectory(_staging);
                return new ExistingResults.Absent();
            }
            var digests = new Dictionary<string, string?>(StringComparer.Ordinal);
            foreach (var file in ResultManifestFiles(manifest))
            {
                digests[file] = await DigestAsync(prefix with { Key = prefix.Under(file) }, cancellationToken).ConfigureAwait(false);
            }
            return Judge(manifest, requestId, prefix.ToString(), file => digests.GetValueOrDefault(file.Name));
        }

        public override async Task<WrittenResults> CommitAsync(Func<IReadOnlyList<ResultFile>, ResultManifest> manifest, CancellationToken cancellationToken)
        {
            var files = Pin(_staging);
            var written = manifest(files);
            var bytes = written.ToJson();
            try
            {
                foreach (var file in files)
                {
                    await s3.Client.PutObjectAsync(new PutObjectRequest
                    {
                        BucketName = prefix.Bucket,
                        Key = prefix.Under(file.Name),
                        FilePath = Path.Combine(_staging, file.Name),
                        // Plain signed bodies: S3-compatible servers do not all decode aws-chunked uploads (s3rver keeps the framing).
                        UseChunkEncoding = false,
                    }, cancellationToken).ConfigureAwait(false);
                }
                // The manifest last: results are complete exactly when it is there.
                using var body = new MemoryStream(bytes);
                await s3.Client.PutObjectAsync(new PutObjectRequest
                {
                    BucketName = prefix.Bucket,
                    Key = prefix.Under(ResultManifest.FileName),
                    InputStream = body,
                    ContentType = "application/json",
                    UseChunkEncoding = false,
                }, cancellationToken).ConfigureAwait(false);
            }
            catch (Amazon.S3.AmazonS3Exception e)
            {
                throw new RequestFailure(FailureReasons.OutputUnwritable, $"cannot write the results to {prefix}: {e.Message}", e);
            }
            return new WrittenResults(written, Sha256Digest.Of(bytes).Hex);
        }

        public override void Dispose()
        {
            try
            {
                if (Directory.Exists(_staging)) Directory.Delete(_staging, recursive: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Cleared at the next start.
            }
        }

        private static IEnumerable<string> ResultManifestFiles(byte[] manifest)
        {
            try
            {
                return ResultManifest.Read(manifest).Files.Select(f => f.Name);
            }
            catch (JsonException)
            {
                return [];
            }
        }

        private async Task<string?> DigestAsync(S3Address address, CancellationToken cancellationToken)
        {
            try
            {
                using var response = await s3.Client.GetObjectAsync(address.Bucket, address.Key, cancellationToken).ConfigureAwait(false);
                return (await Sha256Digest.OfAsync(response.ResponseStream, cancellationToken).ConfigureAwait(false)).Hex;
            }
            catch (Amazon.S3.AmazonS3Exception e) when (e.StatusCode == System.Net.HttpStatusCode.NotFound)
            {
                return null;
            }
        }
    }
}
