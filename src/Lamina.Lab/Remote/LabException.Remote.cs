using Lamina.Core;
using Lamina.Tracking;

namespace Lamina.Lab;

/// <summary>The errors of remote execution's submitting side and of workers.</summary>
public partial class LabException
{
    internal static LabException NotRemotable(string experimentPath, string why) =>
        new($"{experimentPath}: cannot be run on a remote worker: {why}; a worker checks out the recorded commit, so commit the experiment first")
        { At = experimentPath, Kind = LaminaErrorKind.Conflict };

    internal static LabException CommitNotOnRemote(string commit, string? remote) =>
        new(remote is null
            ? $"commit {commit[..12]} cannot be fetched by a worker: the repository has no remote. Push it to one, or submit with --ship-source to store the code with the run"
            : $"commit {commit[..12]} is not on the remote {Secrets.RedactUris(remote)} (no remote-tracking branch contains it): push it first, or submit with --ship-source to store the code with the run")
        { At = commit, Kind = LaminaErrorKind.Conflict };

    internal static LabException VersionMismatch(Guid run, string submitted, string worker, string workerId) =>
        new($"run {run} was submitted with Lamina {submitted}, and worker {workerId} runs Lamina {worker}: refused, as the two may not run it alike " +
            "(start the worker with --allow-version-mismatch to accept such runs)")
        { At = run.ToString(), Kind = LaminaErrorKind.Conflict };
}
