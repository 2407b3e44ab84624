using Lamina.Serve.Contracts;
using Lamina.Serve.Requests;

namespace Lamina.Serve.Tests;

/// <summary>Results in a folder: whole or not at all, pinned by lamina-result.json, never replaced.</summary>
public sealed class ResultTargetTests : IDisposable
{
    private readonly TemporaryDirectory _temp = new();
    private readonly S3Objects _s3 = new();

    public void Dispose()
    {
        _s3.Dispose();
        _temp.Dispose();
    }

    private AnalysisRequest Request(string id, string output = "out") => new(id, "slide.tif", "breast", _temp.Combine(output));

    private static ResultManifest Manifest(string id, IReadOnlyList<ResultFile> files) => new()
    {
        RequestId = id,
        Analysis = "breast",
        Slide = "slide.tif",
        SlideSha256 = new string('a', 64),
        ReportSha256 = files.Single(f => f.Name == "report.json").Sha256,
        Files = files,
        Instance = "test",
        CompletedAt = DateTimeOffset.UnixEpoch,
    };

    private async Task<WrittenResults> WriteAsync(string id, string output = "out")
    {
        using var target = ResultTarget.For(Request(id, output), _temp.Combine("scratch"), _s3);
        Assert.IsType<ExistingResults.Absent>(await target.InspectAsync(id, CancellationToken.None));
        File.WriteAllText(Path.Combine(target.Staging, "report.json"), "{}");
        Directory.CreateDirectory(Path.Combine(target.Staging, "pictures"));
        File.WriteAllText(Path.Combine(target.Staging, "pictures", "summary.png"), "png");
        return await target.CommitAsync(files => Manifest(id, files), CancellationToken.None);
    }

    [Fact]
    public async Task Commit_StagedFiles_AppearTogetherPinnedByTheManifest()
    {
        var written = await WriteAsync("r-1");

        var output = _temp.Combine("out");
        Assert.Equal(["pictures/summary.png", "report.json"], written.Manifest.Files.Select(f => f.Name));
        Assert.Equal(Lamina.Core.Provenance.Sha256Digest.OfFile(Path.Combine(output, "pictures", "summary.png")).Digest.Hex, written.Manifest.Files[0].Sha256);
        var manifest = ResultManifest.Read(File.ReadAllBytes(Path.Combine(output, ResultManifest.FileName)));
        Assert.Equal("r-1", manifest.RequestId);
        Assert.Equal([output], Directory.GetDirectories(_temp.Path).Where(d => Path.GetFileName(d).StartsWith("out", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task Inspect_ThisRequestsVerifiedResults_IsComplete()
    {
        var written = await WriteAsync("r-1");
        using var again = ResultTarget.For(Request("r-1"), _temp.Combine("scratch"), _s3);

        var existing = await again.InspectAsync("r-1", CancellationToken.None);

        var complete = Assert.IsType<ExistingResults.Complete>(existing);
        Assert.Equal(written.ManifestSha256, complete.ManifestSha256);
    }

    [Fact]
    public async Task Inspect_AnotherRequestsResults_IsAConflictNamingIt()
    {
        await WriteAsync("r-1");
        using var other = ResultTarget.For(Request("r-2"), _temp.Combine("scratch"), _s3);

        var existing = await other.InspectAsync("r-2", CancellationToken.None);

        Assert.Contains("holds the results of request 'r-1'", Assert.IsType<ExistingResults.Conflict>(existing).Why, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Inspect_AnAlteredOrMissingFile_IsAConflictNamingTheFile()
    {
        await WriteAsync("r-1");
        await WriteAsync("r-2", "out2");
        File.AppendAllText(_temp.Combine("out", "report.json"), " ");
        File.Delete(_temp.Combine("out2", "pictures", "summary.png"));
        using var altered = ResultTarget.For(Request("r-1"), _temp.Combine("scratch"), _s3);
        using var missing = ResultTarget.For(Request("r-2", "out2"), _temp.Combine("scratch"), _s3);

        var alteredWhy = Assert.IsType<ExistingResults.Conflict>(await altered.InspectAsync("r-1", CancellationToken.None)).Why;
        var missingWhy = Assert.IsType<ExistingResults.Conflict>(await missing.InspectAsync("r-2", CancellationToken.None)).Why;

        Assert.Contains("report.json of this request's results was altered", alteredWhy, StringComparison.Ordinal);
        Assert.Contains("pictures/summary.png of this request's results is missing", missingWhy, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Inspect_AFolderHoldingSomethingElse_IsAConflict_AndAFileInTheWayToo()
    {
        Directory.CreateDirectory(_temp.Combine("busy"));
        File.WriteAllText(_temp.Combine("busy", "notes.txt"), "mine");
        File.WriteAllText(_temp.Combine("file"), "x");
        using var busy = ResultTarget.For(Request("r-1", "busy"), _temp.Combine("scratch"), _s3);
        using var file = ResultTarget.For(Request("r-1", "file"), _temp.Combine("scratch"), _s3);

        Assert.IsType<ExistingResults.Conflict>(await busy.InspectAsync("r-1", CancellationToken.None));
        Assert.IsType<ExistingResults.Conflict>(await file.InspectAsync("r-1", CancellationToken.None));
        Assert.Equal("mine", File.ReadAllText(_temp.Combine("busy", "notes.txt")));
    }

    [Fact]
    public async Task Commit_ResultsThatAppearedMeanwhile_AreNotReplaced()
    {
        // Given two services answering the same request (a redelivery), both staged
        using var first = ResultTarget.For(Request("r-1"), _temp.Combine("scratch"), _s3);
        using var second = ResultTarget.For(Request("r-1"), _temp.Combine("scratch"), _s3);
        await first.InspectAsync("r-1", CancellationToken.None);
        await second.InspectAsync("r-1", CancellationToken.None);
        foreach (var target in new[] { first, second }) File.WriteAllText(Path.Combine(target.Staging, "report.json"), target == first ? "{\"first\":1}" : "{}");

        // When both commit
        await first.CommitAsync(files => Manifest("r-1", files), CancellationToken.None);
        var error = await Assert.ThrowsAsync<RequestFailure>(() => second.CommitAsync(files => Manifest("r-1", files), CancellationToken.None));

        // Then the first results stand, whole
        Assert.Equal(FailureReasons.OutputConflict, error.Reason);
        Assert.Equal("{\"first\":1}", File.ReadAllText(_temp.Combine("out", "report.json")));
    }

    [Fact]
    public async Task Dispose_WithoutCommitting_LeavesNothing()
    {
        using (var target = ResultTarget.For(Request("r-1"), _temp.Combine("scratch"), _s3))
        {
            await target.InspectAsync("r-1", CancellationToken.None);
            File.WriteAllText(Path.Combine(target.Staging, "report.json"), "{}");
        }

        Assert.False(Directory.Exists(_temp.Combine("out")));
        Assert.DoesNotContain(Directory.GetDirectories(_temp.Path), d => Path.GetFileName(d).StartsWith("out", StringComparison.Ordinal));
    }
}
