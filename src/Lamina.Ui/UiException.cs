using Lamina.Core;

namespace Lamina.Ui;

/// <summary>An error the web UI raises on purpose: a request it cannot answer, named with what is at fault.</summary>
public sealed class UiException : LaminaException
{
    private UiException(string message, LaminaErrorKind kind, string? at = null, Exception? inner = null) : base(message, inner)
    {
        Kind = kind;
        At = at;
    }

    internal static UiException StoreLacks(string what, Type storeType) =>
        new($"the tracking store ({storeType.Name}) does not implement {what}: this Lamina's store is older than its web UI", LaminaErrorKind.Failed, storeType.Name);

    internal static UiException BadQuery(string key, string value, string expected) =>
        new($"query '{key}={value}': {expected}", LaminaErrorKind.Usage, key);

    internal static UiException TooManyRuns(int count, int limit) =>
        new($"compare takes 2 to {limit} runs, not {count}: give them as runs=ID,ID,…", LaminaErrorKind.Usage, "runs");

    internal static UiException NoArtifact(Guid runId, string name) =>
        new($"run {runId:D} has no artifact '{name}'", LaminaErrorKind.NotFound, name);

    internal static UiException NoDiff(Guid runId) =>
        new($"run {runId:D} has no recorded git diff (it was not started in a git work tree)", LaminaErrorKind.NotFound, runId.ToString("D"));

    internal static UiException CannotListen(string host, int port, Exception inner) =>
        new($"the web UI cannot listen on {host}:{port}: {inner.Message}", LaminaErrorKind.Unavailable, $"{host}:{port}", inner);

    internal static UiException UnknownHost(string host, Exception? inner = null) =>
        new($"--host '{host}' is neither an IP address nor a name this machine resolves", LaminaErrorKind.Usage, host, inner);

    internal static UiException BlobAltered(string digest, string actual, string what) =>
        new($"{what}: blob {digest} now has digest {actual}: the blob store was altered", LaminaErrorKind.Integrity, what);

    internal static UiException BadFormField(string field, string problem) =>
        new($"form field '{field}': {problem}", LaminaErrorKind.Usage, field);
}
