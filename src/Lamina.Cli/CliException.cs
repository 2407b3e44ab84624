using Lamina.Core;

namespace Lamina.Cli;

/// <summary>A command that cannot be carried out as asked: a confirmation missing, something the run has not got.</summary>
internal sealed class CliException : LaminaException
{
    private CliException(string message) : base(message) { }

    public static CliException NoDiff(Guid run) =>
        new($"run {run} was not made in a git repository: there is no diff") { At = run.ToString(), Kind = LaminaErrorKind.NotFound };

    public static CliException ConfirmationNeeded(string action, Guid run) =>
        new($"refusing to {action} run {run} without confirmation: add --yes") { At = "--yes", Kind = LaminaErrorKind.Usage };

    public static CliException BackendNotAvailable(Lamina.Tracking.StoreLocation location) =>
        new($"{location.Variable} names {location.Display} ({location.Source}), but this Lamina cannot open {location.Backend switch
        {
            Lamina.Tracking.StoreBackend.Postgres => "PostgreSQL tracking stores",
            _ => "S3 stores",
        }} yet; unset it to use the default in the Lamina home") { At = location.Variable };
}
