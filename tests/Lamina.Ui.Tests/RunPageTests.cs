using System.Net;
using System.Security.Cryptography;
using Lamina.Tracking;

namespace Lamina.Ui.Tests;

/// <summary>A run's page and files: diff, configuration, encoding, artifacts (digest-checked), log.</summary>
public sealed class RunPageTests
{
    [Fact]
    public async Task RunPage_ShowsTheDiffColoured_TheConfiguration_AndTheChartContainers()
    {
        await using var ui = await UiHarness.CreateAsync();
        var seeded = await ui.SeedAsync();
        await ui.StartAsync();

        // By a unique prefix, as people paste them
        var html = await ui.Client.GetStringAsync($"/runs/{seeded.Trained.Id.ToString("N")[..8]}");

        Assert.Contains("data-page=\"run\"", html);
        Assert.Contains("<span class=\"d-del\">-    double gamma = 2;</span>", html);
        Assert.Contains("<span class=\"d-add\">+    double gamma = 3;</span>", html);
        Assert.Contains("<span class=\"d-hunk\">@@ -1,3 +1,3 @@</span>", html);
        Assert.Contains("0123456789abcdef0123456789abcdef01234567", html);
        Assert.Contains("<code>model.layers</code>", html);
        Assert.Contains($"<div class=\"chart\" data-metric=\"loss\" data-runs=\"{seeded.Trained.Id:D}\"", html);
        Assert.Contains("<img src=\"/runs/" + seeded.Trained.Id.ToString("D") + "/artifacts/curves/loss.png?inline=1\"", html);
        Assert.Contains("&quot;auc&quot;: 0.93", html);
        Assert.Contains("epoch 3", html);
    }

    [Fact]
    public async Task RunPage_EncodesWhatARunRecorded_AndRedactsTheRemotesPassword()
    {
        await using var ui = await UiHarness.CreateAsync();
        var seeded = await ui.SeedAsync();
        await ui.StartAsync();

        var html = await ui.Client.GetStringAsync($"/runs/{seeded.Trained.Id:D}");

        Assert.DoesNotContain("<script>alert(1)</script>", html);
        Assert.Contains("first &lt;script&gt;alert(1)&lt;/script&gt; try", html);
        Assert.DoesNotContain("ada:secret@", html);
    }

    [Fact]
    public async Task RunPage_ForAFailedRun_OffersRequeue_NotAbort_AndNeverDelete()
    {
        await using var ui = await UiHarness.CreateAsync();
        var seeded = await ui.SeedAsync();
        await ui.StartAsync();

        var failed = await ui.Client.GetStringAsync($"/runs/{seeded.Failed.Id:D}");
        var running = await ui.Client.GetStringAsync($"/runs/{seeded.Running.Id:D}");

        Assert.Contains($"action=\"/runs/{seeded.Failed.Id:D}/requeue\"", failed);
        Assert.DoesNotContain("/abort\"", failed);
        Assert.Contains($"action=\"/runs/{seeded.Running.Id:D}/abort\"", running);
        Assert.Contains("data-live=\"1\"", running);
        Assert.DoesNotContain("delete", failed, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Artifact_Download_HasTheRecordedDigest_AsAnAttachment()
    {
        await using var ui = await UiHarness.CreateAsync();
        var seeded = await ui.SeedAsync();
        await ui.StartAsync();

        var response = await ui.Client.GetAsync($"/runs/{seeded.Trained.Id:D}/artifacts/curves/loss.png");
        var bytes = await response.Content.ReadAsByteArrayAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(seeded.PngDigest, Convert.ToHexStringLower(SHA256.HashData(bytes)));
        Assert.Equal("attachment", response.Content.Headers.ContentDisposition!.DispositionType);
        Assert.Equal("loss.png", response.Content.Headers.ContentDisposition.FileNameStar ?? response.Content.Headers.ContentDisposition.FileName);
        Assert.Equal(seeded.PngDigest, response.Headers.GetValues("X-Lamina-Sha256").Single());
    }

    [Fact]
    public async Task Artifact_Inline_IsAnImageForAPng_ButNeverForAnythingThatCouldRun()
    {
        await using var ui = await UiHarness.CreateAsync();
        var seeded = await ui.SeedAsync();
        var (digest, size) = await ui.Blobs.PutBytesAsync("<html><script>alert(1)</script></html>"u8.ToArray(), CancellationToken.None);
        await ui.Store.AddArtifactAsync(seeded.Running.Id, "report.html", digest, size, CancellationToken.None);
        await ui.StartAsync();

        var png = await ui.Client.GetAsync($"/runs/{seeded.Trained.Id:D}/artifacts/curves/loss.png?inline=1");
        var html = await ui.Client.GetAsync($"/runs/{seeded.Running.Id:D}/artifacts/report.html?inline=1");

        Assert.Equal("image/png", png.Content.Headers.ContentType!.MediaType);
        Assert.Equal("inline", png.Content.Headers.ContentDisposition!.DispositionType);
        Assert.Equal("application/octet-stream", html.Content.Headers.ContentType!.MediaType);
        Assert.Equal("attachment", html.Content.Headers.ContentDisposition!.DispositionType);
    }

    [Fact]
    public async Task Artifact_WhoseBlobWasAltered_IsRefused_WhenSmall()
    {
        // Given a small artifact whose blob file was changed after it was recorded
        await using var ui = await UiHarness.CreateAsync();
        var seeded = await ui.SeedAsync();
        Alter(ui.Blobs.PathOf(seeded.JsonDigest), 2);
        await ui.StartAsync();

        // When it is downloaded
        var response = await ui.Client.GetAsync($"/runs/{seeded.Trained.Id:D}/artifacts/metrics/report.json");

        // Then nothing of it is served, and the answer names the altered blob
        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        Assert.Contains($"blob {seeded.JsonDigest} now has digest", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Artifact_WhoseBlobWasAltered_IsCutShort_WhenLarge()
    {
        // Given a 1 MB artifact whose last bytes were changed after it was recorded
        await using var ui = await UiHarness.CreateAsync();
        var seeded = await ui.SeedAsync();
        var content = new byte[1 << 20];
        new Random(7).NextBytes(content);
        var (digest, size) = await ui.Blobs.PutBytesAsync(content, CancellationToken.None);
        await ui.Store.AddArtifactAsync(seeded.Running.Id, "weights.bin", digest, size, CancellationToken.None);
        Alter(ui.Blobs.PathOf(digest), content.Length - 10);
        await ui.StartAsync();

        // When it is downloaded, then the download fails rather than completing with the altered bytes
        await Assert.ThrowsAnyAsync<HttpRequestException>(async () =>
        {
            var response = await ui.Client.GetAsync($"/runs/{seeded.Running.Id:D}/artifacts/weights.bin");
            await response.Content.ReadAsByteArrayAsync();
        });
    }

    private static void Alter(string path, int offset)
    {
        File.SetAttributes(path, FileAttributes.Normal);
        var bytes = File.ReadAllBytes(path);
        bytes[offset] ^= 0x20;
        File.WriteAllBytes(path, bytes);
    }

    [Fact]
    public async Task Artifact_Unknown_IsNotFound()
    {
        await using var ui = await UiHarness.CreateAsync();
        var seeded = await ui.SeedAsync();
        await ui.StartAsync();

        var response = await ui.Client.GetAsync($"/runs/{seeded.Trained.Id:D}/artifacts/nothing.bin");

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Contains("nothing.bin", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Log_Tail_GivesTheLastLines_AndDiff_IsTheRecordedBytes()
    {
        await using var ui = await UiHarness.CreateAsync();
        var seeded = await ui.SeedAsync();
        await ui.StartAsync();

        var tail = await ui.Client.GetAsync($"/runs/{seeded.Trained.Id:D}/log?tail=2");
        var diff = await ui.Client.GetStringAsync($"/runs/{seeded.Trained.Id:D}/diff");

        Assert.Equal("epoch 2\nepoch 3\n", await tail.Content.ReadAsStringAsync());
        Assert.Equal("3", tail.Headers.GetValues("X-Lamina-Log-Lines").Single());
        Assert.Equal(UiHarness.Diff, diff);
    }

    [Fact]
    public async Task RunState_ForTheLivePage_IsSnakeCaseJson()
    {
        await using var ui = await UiHarness.CreateAsync();
        var seeded = await ui.SeedAsync();
        await ui.StartAsync();

        var json = await ui.Client.GetStringAsync($"/api/runs/{seeded.Failed.Id:D}");

        Assert.Contains("\"status\":\"failed\"", json);
        Assert.Contains("\"error\":\"out of memory\"", json);
        Assert.Contains("\"ended_at\":", json);
    }

    [Fact]
    public async Task UnknownRun_IsNotFound()
    {
        await using var ui = await UiHarness.CreateAsync();
        await ui.SeedAsync();
        await ui.StartAsync();

        var response = await ui.Client.GetAsync("/runs/ffffffff-ffff-ffff-ffff-ffffffffffff");

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Contains("data-page=\"error\"", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Requeue_OfARunWithoutQueue_IsRefusedWithTheStoresReason()
    {
        await using var ui = await UiHarness.CreateAsync();
        var seeded = await ui.SeedAsync();
        var server = await ui.StartAsync();

        // A run executed where it was made has no queue: the store refuses, and the page says why
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/runs/{seeded.Failed.Id:D}/requeue")
        {
            Content = new FormUrlEncodedContent([new("reason", "retry")]),
        };
        request.Headers.Add("Origin", server.Address.GetLeftPart(UriPartial.Authority));
        var response = await ui.Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("has no queue", await response.Content.ReadAsStringAsync());
        Assert.Equal(RunStatus.Failed, (await ui.Store.ResolveRunAsync(seeded.Failed.Id.ToString(), CancellationToken.None)).Status);
    }

    [Fact]
    public async Task Requeue_OfAnAbortedRemoteRun_QueuesItAgain_AuditedAsTheUiUser()
    {
        // Given a remote run aborted while it waited on its queue
        await using var ui = await UiHarness.CreateAsync();
        var queued = await ui.Store.CreateRunAsync(UiHarness.NewRun("pathology", "simple_train", "{}", null, [], null) with
        {
            InitialStatus = RunStatus.Queued,
            Queueing = new RunQueueing("gpu", 3),
        }, CancellationToken.None);
        await ui.Store.RequestAbortAsync(queued.Id, "wrong data", CancellationToken.None);
        var server = await ui.StartAsync();

        // When an operator requeues it from its page
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/runs/{queued.Id:D}/requeue")
        {
            Content = new FormUrlEncodedContent([new("reason", "data fixed")]),
        };
        request.Headers.Add("Referer", server.Address + $"runs/{queued.Id:D}");
        var response = await ui.Client.SendAsync(request);

        // Then it waits on its queue again, and the audit trail says who requeued it
        Assert.Equal(HttpStatusCode.SeeOther, response.StatusCode);
        Assert.Equal(RunStatus.Queued, (await ui.Store.ResolveRunAsync(queued.Id.ToString(), CancellationToken.None)).Status);
        var entry = (await ui.Store.ListAuditAsync(queued.Id.ToString("D"), CancellationToken.None)).Last();
        Assert.Equal((AuditLog.RunRequeued, "ui:" + AuditLog.CurrentActor, "data fixed"), (entry.Action, entry.Who, entry.Reason));
    }
}
