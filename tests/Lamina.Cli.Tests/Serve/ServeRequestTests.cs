using System.Net;
using System.Text;
using System.Text.Json;
using Amazon.S3.Model;
using Lamina.Serve.Contracts;
using Lamina.Testing;

namespace Lamina.Cli.Tests.Serve;

/// <summary>
/// Issue 15: what a caller of <c>lamina-serve</c> relies on for one request, against the real service process, a real
/// broker and a real S3 server: results that verify and trace to the bundle, answers from results for a request sent
/// again, and for each request that cannot succeed its reason, the request dead-lettered and the service serving on.
/// </summary>
[Collection(ServeCollection.Name)]
public sealed class ServeRequestTests(ServeBundles bundles) : IAsyncLifetime
{
    private static readonly TimeSpan Answer = TimeSpan.FromSeconds(60);
    private ServeScope _scope = null!;

    private ServeBundle Small => bundles.Small;

    public async Task InitializeAsync() => _scope = new ServeScope((await RabbitMqServer.SharedAsync()).Uri);

    public async Task DisposeAsync() => await _scope.DisposeAsync();

    [Fact]
    public async Task Request_ForASlide_CompletesWithResultsThatVerify_AndTraceToTheBundle()
    {
        // Given a ready service on a bundle, and a client listening to its events
        var service = await _scope.StartReadyAsync(Small.Bundle);
        var client = await _scope.ClientAsync();
        var id = ServeClient.NewRequestId("ok");
        var output = _scope.Temp.Combine("results", id);

        // When a request for a slide is submitted
        await client.SubmitAsync(new AnalysisRequest(id, Small.Slide, ServeBundle.Analysis, output, CorrelationId: "case-17"));
        var answer = await client.WaitForAsync(id, Answer, _scope.Logs);

        // Then it completes, the event describing the request and its results
        Assert.True(answer.IsCompleted, $"{answer}\n{_scope.Logs()}");
        var completed = answer.Completed;
        Assert.Equal((id, "case-17", ServeBundle.Analysis, Small.Slide, output, service.Name), (completed.RequestId, completed.CorrelationId, completed.Analysis, completed.Slide, completed.Output, completed.Instance));
        Assert.False(completed.Replayed);
        Assert.Equal(ServeResults.Sha256(Small.Slide), completed.SlideSha256);
        Assert.NotEmpty(completed.Figures);
        Assert.True(completed.Timings.Tiles > 0 && completed.Timings.Total >= completed.Timings.Analysis, JsonSerializer.Serialize(completed.Timings));

        // And every file of the output verifies against its result manifest, which the event pins
        var manifest = ServeResults.Verify(output, id);
        Assert.Equal(ServeResults.Sha256(Path.Combine(output, ResultManifest.FileName)), completed.ResultSha256);
        Assert.Equal(manifest.ReportSha256, completed.ReportSha256);
        var files = ServeResults.Files(output);
        Assert.Superset(new HashSet<string> { "report.json", "results.geojson", "report.html", "summary.png", ResultManifest.FileName }, files.ToHashSet());
        Assert.Contains(files, f => f.Contains("heatmap", StringComparison.Ordinal));
        Assert.Contains(files, f => f.Contains("overlay", StringComparison.Ordinal));

        // And the report traces to the bundle served, as the event does
        using var report = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(output, "report.json")));
        Assert.Equal(Small.ProvenanceSha256, report.RootElement.GetProperty("provenance").GetProperty("bundle_provenance_sha256").GetString());
        Assert.Equal(Small.ProvenanceSha256, completed.BundleProvenanceSha256);

        // And nothing of the writing is left beside the output; the service said it took the request, once
        Assert.Empty(Directory.GetFileSystemEntries(Path.GetDirectoryName(output)!, $"{id}.tmp-*"));
        Assert.Single(service.AnalysingLines(id));
    }

    [Fact]
    public async Task Request_SentAgainAfterCompletion_IsAnsweredFromItsResults_WithoutRecomputing()
    {
        // Given a request completed once
        var service = await _scope.StartReadyAsync(Small.Bundle);
        var client = await _scope.ClientAsync();
        var id = ServeClient.NewRequestId("again");
        var output = _scope.Temp.Combine("results", id);
        var request = new AnalysisRequest(id, Small.Slide, ServeBundle.Analysis, output);
        await client.SubmitAsync(request);
        var first = (await client.WaitForAsync(id, Answer, _scope.Logs)).Completed;
        var startedAt = StartedAt(output);
        var written = ServeResults.Files(output).ToDictionary(f => f, f => File.GetLastWriteTimeUtc(Path.Combine(output, f)));

        // When the same request is sent again
        await client.SubmitAsync(request);
        var events = await client.WaitForCountAsync(id, 2, Answer, _scope.Logs);

        // Then it completes again, replayed, with the same report and result manifest
        Assert.True(events[1].IsCompleted, $"{events[1]}\n{_scope.Logs()}");
        var second = events[1].Completed;
        Assert.True(second.Replayed, events[1].ToString());
        Assert.False(first.Replayed);
        Assert.Equal((first.ReportSha256, first.ResultSha256), (second.ReportSha256, second.ResultSha256));

        // And nothing was recomputed or rewritten: the report's start time and every file's time are as they were
        Assert.Equal(startedAt, StartedAt(output));
        Assert.Equal(written, ServeResults.Files(output).ToDictionary(f => f, f => File.GetLastWriteTimeUtc(Path.Combine(output, f))));
        ServeResults.Verify(output, id);
    }

    [Fact]
    public async Task Request_WhoseOutputHoldsOtherFiles_FailsAsOutputConflict_LeavesThemAlone_AndTheServiceServesTheNext()
    {
        // Given an output folder that holds someone else's file
        var service = await _scope.StartReadyAsync(Small.Bundle);
        var client = await _scope.ClientAsync();
        var id = ServeClient.NewRequestId("conflict");
        var output = _scope.Temp.Combine("results", id);
        Directory.CreateDirectory(output);
        await File.WriteAllTextAsync(Path.Combine(output, "notes.txt"), "a pathologist's notes");

        // When a request names it as its output
        await client.SubmitAsync(new AnalysisRequest(id, Small.Slide, ServeBundle.Analysis, output));
        var answer = await client.WaitForAsync(id, Answer, _scope.Logs);

        // Then it fails as an output conflict, and the folder is as it was
        Assert.True(answer.IsFailed, $"{answer}\n{_scope.Logs()}");
        Assert.Equal(FailureReasons.OutputConflict, answer.Failed.Reason);
        Assert.Equal(["notes.txt"], ServeResults.Files(output));
        Assert.Equal("a pathologist's notes", await File.ReadAllTextAsync(Path.Combine(output, "notes.txt")));

        // And the request is dead-lettered, and the service is ready and serves the next request
        await client.WaitForDeadLetterAsync(d => d.MessageId == id, Answer, _scope.Logs);
        await AssertServesNextAsync(service, client);
    }

    public static TheoryData<string> BadRequests => ["missing slide", "broken slide", "unknown analysis", "not JSON", "not JSON, with a message id", "no output",
        "a scale replacing the slide's, warnings not accepted"];

    [Theory]
    [MemberData(nameof(BadRequests))]
    public async Task BadRequest_FailsWithItsReason_IsDeadLettered_AndTheServiceServesTheNext(string bad)
    {
        // Given a ready service, and a request that cannot succeed
        var service = await _scope.StartReadyAsync(Small.Bundle);
        var client = await _scope.ClientAsync();
        var id = ServeClient.NewRequestId("bad");
        var output = _scope.Temp.Combine("results", id);
        var broken = _scope.Temp.Combine("broken.svs");
        File.Copy(TestPaths.TestData("broken.svs"), broken);
        var (body, messageId, reason, answeredAs) = bad switch
        {
            "missing slide" => (Request(_scope.Temp.Combine("no-such-slide.tif"), ServeBundle.Analysis), id, FailureReasons.SlideNotFound, id),
            "broken slide" => (Request(broken, ServeBundle.Analysis), id, FailureReasons.SlideUnreadable, id),
            "unknown analysis" => (Request(Small.Slide, "lung"), id, FailureReasons.UnknownAnalysis, id),
            "a scale replacing the slide's, warnings not accepted" => (new AnalysisRequest(id, Small.Slide, ServeBundle.Analysis, output, MicronsPerPixel: 0.123).ToJson(),
                id, FailureReasons.InputRefused, id),
            "not JSON" => ("{ this is not JSON"u8.ToArray(), null, FailureReasons.InvalidRequest, null),
            "not JSON, with a message id" => ("{ this is not JSON"u8.ToArray(), id, FailureReasons.InvalidRequest, id),
            "no output" => (Encoding.UTF8.GetBytes(JsonSerializer.Serialize(new { version = 1, request_id = id, slide = Small.Slide, analysis = ServeBundle.Analysis })),
                id, FailureReasons.InvalidRequest, id),
            _ => throw new ArgumentOutOfRangeException(nameof(bad)),
        };

        // When it is submitted
        await client.PublishRawAsync(body, messageId);
        var answer = answeredAs is null
            ? await client.WaitForAsync(e => e.IsFailed && e.RequestId is null && e.Instance == service.Name, "failed without a request id from " + service.Name, Answer, _scope.Logs)
            : await client.WaitForAsync(answeredAs, Answer, _scope.Logs);

        // Then it fails with its reason, its message naming what is wrong, and nothing is written
        Assert.True(answer.IsFailed, $"{bad}: {answer}\n{_scope.Logs()}");
        var failed = answer.Failed;
        Assert.True(failed.Reason == reason, $"{bad}: reason {failed.Reason}, expected {reason}: {answer}");
        Assert.Equal((answeredAs, service.Name), (failed.RequestId, failed.Instance));
        if (bad == "no output") Assert.Contains("output", failed.Message, StringComparison.Ordinal);
        if (bad == "unknown analysis") Assert.Contains("lung", failed.Message, StringComparison.Ordinal);
        if (failed.Reason == FailureReasons.InputRefused) Assert.Contains("given as an override, replacing", failed.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(output), $"{bad}: {output} was created: {ServeResults.Listing(output)}");

        // And the request is dead-lettered as it was sent, and the service is ready and serves the next request
        await client.WaitForDeadLetterAsync(d => d.Body.AsSpan().SequenceEqual(body) && d.MessageId == messageId, Answer, _scope.Logs);
        await AssertServesNextAsync(service, client);

        byte[] Request(string slide, string analysis) => new AnalysisRequest(id, slide, analysis, output).ToJson();
    }

    [Theory]
    [InlineData("slides/case-1.tif")]
    [InlineData("slides/case 1.tif")]
    public async Task Request_WithAnS3Slide_AndAnS3Output_IsFetchedToScratchAndRemoved_AndUploadedWithTheManifestLast(string key)
    {
        // Given a slide in an S3 bucket, and a service with the bucket's endpoint and credentials and a scratch folder
        var s3 = await S3Server.SharedAsync();
        var bucket = await s3.CreateBucketAsync();
        using var s3Client = Lamina.Tracking.S3Location.Parse($"s3://{bucket}/", s3.Environment).CreateClient();
        await s3Client.PutObjectAsync(new PutObjectRequest { BucketName = bucket, Key = key, FilePath = Small.Slide, UseChunkEncoding = false });
        Assert.Equal(new FileInfo(Small.Slide).Length, (await s3Client.GetObjectMetadataAsync(bucket, key)).ContentLength);
        var scratch = _scope.Temp.Combine("scratch");
        var environment = new[] { "LAMINA_S3_ENDPOINT", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION" }.ToDictionary(n => n, n => s3.Environment(n)!);
        var service = await _scope.StartReadyAsync(Small.Bundle, ["--scratch", scratch], environment);
        var client = await _scope.ClientAsync();
        var id = ServeClient.NewRequestId("s3");
        var (slide, output) = ($"s3://{bucket}/{key}", $"s3://{bucket}/results/{id}");

        // When a request names the slide (its key as is, as the AWS tools take it) and an output by S3 URI
        await client.SubmitAsync(new AnalysisRequest(id, slide, ServeBundle.Analysis, output));
        var answer = await client.WaitForAsync(id, Answer, _scope.Logs);

        // Then it completes, having analysed the slide's bytes
        Assert.True(answer.IsCompleted, $"{answer}\n{_scope.Logs()}");
        var completed = answer.Completed;
        Assert.Equal((slide, output, ServeResults.Sha256(Small.Slide)), (completed.Slide, completed.Output, completed.SlideSha256));

        // And every file under the prefix verifies against the manifest, which was uploaded last
        var listed = await s3Client.ListObjectsV2Async(new ListObjectsV2Request { BucketName = bucket, Prefix = $"results/{id}/" });
        var objects = listed.S3Objects ?? [];
        var downloaded = _scope.Temp.Combine("downloaded");
        foreach (var item in objects)
        {
            using var got = await s3Client.GetObjectAsync(bucket, item.Key);
            var path = Path.Combine(downloaded, item.Key[$"results/{id}/".Length..]);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            await using var file = File.Create(path);
            await got.ResponseStream.CopyToAsync(file);
        }
        ServeResults.Verify(downloaded, id);
        Assert.Equal(ServeResults.Sha256(Path.Combine(downloaded, ResultManifest.FileName)), completed.ResultSha256);
        var manifestObject = objects.Single(o => o.Key.EndsWith("/" + ResultManifest.FileName, StringComparison.Ordinal));
        Assert.All(objects, o => Assert.True(o.LastModified <= manifestObject.LastModified, $"{o.Key} ({o.LastModified:O}) is newer than the manifest ({manifestObject.LastModified:O})"));

        // And the fetched slide is gone from the scratch folder
        Assert.True(ServeResults.Files(scratch).Count == 0, $"left in scratch: {ServeResults.Listing(scratch)}");
    }

    [Fact]
    public async Task Metrics_CountRequestsByOutcome_AndSayTheServiceIsReady()
    {
        // Given a ready service
        var service = await _scope.StartReadyAsync(Small.Bundle);
        var client = await _scope.ClientAsync();
        Assert.Equal(HttpStatusCode.OK, await service.StatusAsync("/health/live"));
        Assert.Equal(HttpStatusCode.OK, await service.ReadyStatusAsync());

        // When it answers one request that completes and one that fails
        var (good, bad) = (ServeClient.NewRequestId("good"), ServeClient.NewRequestId("bad"));
        await client.SubmitAsync(new AnalysisRequest(good, Small.Slide, ServeBundle.Analysis, _scope.Temp.Combine(good)));
        await client.SubmitAsync(new AnalysisRequest(bad, Small.Slide, "lung", _scope.Temp.Combine(bad)));
        Assert.True((await client.WaitForAsync(good, Answer, _scope.Logs)).IsCompleted);
        Assert.True((await client.WaitForAsync(bad, Answer, _scope.Logs)).IsFailed);

        // Then its metrics count one completed of two requests, say it is ready, and give its memory
        var metrics = "";
        for (var tries = 0; tries < 50; tries++)
        {
            metrics = await service.MetricsAsync();
            if (ServeInstance.Metric(metrics, "lamina_serve_requests_total") == 2) break;
            await Task.Delay(100);
        }
        Assert.True(ServeInstance.Metric(metrics, "lamina_serve_requests_total", "outcome=\"completed\"") == 1, metrics);
        Assert.True(ServeInstance.Metric(metrics, "lamina_serve_requests_total") == 2, metrics);
        Assert.True(ServeInstance.Metric(metrics, "lamina_serve_ready") == 1, metrics);
        Assert.True(ServeInstance.Metric(metrics, "process_resident_memory_bytes") > 0, metrics);
    }

    /// <summary>The service is still ready, and completes a good request.</summary>
    internal static async Task AssertServesNextAsync(ServeInstance service, ServeClient client, ServeBundle bundle, string outputs, Func<string> logs)
    {
        Assert.True(await service.ReadyStatusAsync() == HttpStatusCode.OK, $"not ready after a failed request\n{logs()}");
        var next = ServeClient.NewRequestId("next");
        var output = Path.Combine(outputs, next);
        await client.SubmitAsync(new AnalysisRequest(next, bundle.Slide, ServeBundle.Analysis, output));
        var answer = await client.WaitForAsync(next, Answer, logs);
        Assert.True(answer.IsCompleted, $"the next request: {answer}\n{logs()}");
        ServeResults.Verify(output, next);
    }

    private Task AssertServesNextAsync(ServeInstance service, ServeClient client) =>
        AssertServesNextAsync(service, client, Small, _scope.Temp.Combine("results"), _scope.Logs);

    private static string StartedAt(string output)
    {
        using var report = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(output, "report.json")));
        return report.RootElement.GetProperty("timing").GetProperty("started_at").GetString()!;
    }
}
