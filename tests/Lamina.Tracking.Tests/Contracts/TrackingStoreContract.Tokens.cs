namespace Lamina.Tracking.Tests.Contracts;

/// <summary>
/// Issue 17: web UI tokens, kept hashed and audited, and the web UI's writes made in the name of a token's owner.
/// </summary>
public abstract partial class TrackingStoreContract
{
    [Fact]
    public async Task Token_Created_AuthenticatesByItsSecretOnly_UntilRevoked()
    {
        // Given a token made by an admin
        await using var store = await OpenAsync("root@ui-host");
        var (token, secret) = await store.CreateTokenAsync("alice", AccessRole.Operator, Start.AddDays(30), None);

        // Then its secret names it, and opens it
        Assert.Matches("^lamina_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$", secret);
        Assert.StartsWith($"lamina_{token.Id}_", secret);
        Assert.Equal(new AccessToken(token.Id, "alice", AccessRole.Operator, Start, Start.AddDays(30), "root@ui-host", null), token);
        Assert.Equal(token, await store.AuthenticateAsync(secret, None));

        // And nothing else does: the right id with a wrong secret, a secret cut short, an unknown id, garbage
        var wrong = secret[..^4] + (secret.EndsWith("AAAA", StringComparison.Ordinal) ? "BBBB" : "AAAA");
        foreach (var attempt in new[] { wrong, secret[..^1], $"lamina_000000000000_{secret[20..]}", "lamina_", "", "Bearer " + secret, secret.ToUpperInvariant() })
        {
            Assert.Null(await store.AuthenticateAsync(attempt, None));
        }

        // When it is revoked, it opens nothing, and is listed as revoked
        Time.Advance(TimeSpan.FromHours(1));
        var revoked = await store.RevokeTokenAsync(token.Id, "left the lab", None);
        Assert.Equal(Start.AddHours(1), revoked.RevokedAt);
        Assert.Null(await store.AuthenticateAsync(secret, None));
        Assert.Equal([revoked], await store.ListTokensAsync(None));
    }

    [Fact]
    public async Task Token_PastItsExpiry_IsRefused()
    {
        await using var store = await OpenAsync();
        var (_, secret) = await store.CreateTokenAsync("bob", AccessRole.Viewer, Start.AddHours(1), None);
        Time.Advance(TimeSpan.FromMinutes(59));
        Assert.NotNull(await store.AuthenticateAsync(secret, None));

        Time.Advance(TimeSpan.FromMinutes(1));

        Assert.Null(await store.AuthenticateAsync(secret, None));
        await Assert.ThrowsAnyAsync<ArgumentException>(() => store.CreateTokenAsync("bob", AccessRole.Viewer, Time.GetUtcNow(), None));
    }

    [Fact]
    public async Task Tokens_AreListedNewestFirst_KeptOnlyHashed_AndTheirCreationAndRevocationAudited()
    {
        await using var store = await OpenAsync("root@ui-host");
        var (first, firstSecret) = await store.CreateTokenAsync("alice", AccessRole.Admin, Start.AddDays(1), None);
        Time.Advance(TimeSpan.FromSeconds(1));
        var (second, secondSecret) = await store.CreateTokenAsync("bob", AccessRole.Viewer, Start.AddDays(1), None);

        await store.RevokeTokenAsync(first.Id, "rotated", None);
        await store.RevokeTokenAsync(first.Id, "again", None);

        Assert.Equal([second.Id, first.Id], (await store.ListTokensAsync(None)).Select(t => t.Id));
        var audit = (await store.ListAuditAsync(null, None)).Where(e => e.Action.StartsWith("token.", StringComparison.Ordinal)).ToList();
        Assert.Equal([(AuditLog.TokenCreated, first.Id), (AuditLog.TokenCreated, second.Id), (AuditLog.TokenRevoked, first.Id)],
            audit.Select(e => (e.Action, e.ObjectId)));
        Assert.All(audit, e => Assert.Equal("root@ui-host", e.Who));
        Assert.Contains("\"role\":\"admin\"", audit[0].NewValue);
        Assert.Equal("rotated", audit[2].Reason);
        Assert.All(audit, e => Assert.DoesNotContain(firstSecret[7..], e.NewValue + e.OldValue));
        Assert.DoesNotContain(audit, e => (e.NewValue + e.OldValue).Contains(secondSecret[7..], StringComparison.Ordinal));
        Assert.True((await store.VerifyAuditAsync(None)).Intact);

        var e = await Assert.ThrowsAnyAsync<TrackingException>(() => store.RevokeTokenAsync("0123456789ab", "typo", None));
        Assert.Contains("0123456789ab", e.Message);
    }

    [Fact]
    public async Task ActingAs_NamesTheActorInAuditEntries_OnTheSameStore_AndDisposingTheViewLeavesTheStoreOpen()
    {
        // Given a store opened by the UI's process, and a running and a queued run
        var store = await OpenAsync("lamina-ui@ui-host");
        var running = await store.CreateRunAsync(Samples.Run(), None);
        var queued = await store.CreateRunAsync(Samples.Run(initial: RunStatus.Queued) with { Queueing = new RunQueueing("gpu", 2) }, None);

        // When an operator's writes are made through a view acting as them
        await using (var asAlice = ((IActingStore)store).ActingAs("ui:alice"))
        {
            await asAlice.RequestAbortAsync(running.Id, "wrong data set", None);
            await asAlice.RequestAbortAsync(queued.Id, "not needed", None);
            Assert.Equal(RunStatus.Aborted, (await store.ResolveRunAsync(queued.Id.ToString(), None)).Status);
        }

        // Then their audit entries name them; the store's own writes still name the store's actor
        await store.FinishRunAsync(running.Id, RunStatus.Aborted, "asked to", None);
        var entries = await store.ListAuditAsync(null, None);
        Assert.Equal([("ui:alice", AuditLog.RunAbortRequested, running.Id.ToString()), ("ui:alice", AuditLog.RunAborted, queued.Id.ToString()),
                      ("lamina-ui@ui-host", AuditLog.RunAborted, running.Id.ToString())],
            entries.Where(e => e.Action is AuditLog.RunAbortRequested or AuditLog.RunAborted).Select(e => (e.Who, e.Action, e.ObjectId)));
        Assert.True((await store.VerifyAuditAsync(None)).Intact);
        Assert.Throws<ArgumentException>(() => ((IActingStore)store).ActingAs(" "));
    }
}
