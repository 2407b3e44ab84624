using Lamina.Core;

namespace Lamina.Cli;

/// <summary>A command that cannot be carried out as asked: a confirmation missing, something the run has not got.</summary>
internal sealed class CliException : LaminaException
{
    private CliException(string message) : base(message) { }

    public static CliException NoBroker(string variable, string configFile) =>
        new($"no broker is set for remote runs: set {variable}=amqp://user:password@host:5672/ (or the key {variable} in {configFile})")
        { At = variable, Kind = LaminaErrorKind.Usage };

    public static CliException NoDiff(Guid run) =>
        new($"run {run} was not made in a git repository: there is no diff") { At = run.ToString(), Kind = LaminaErrorKind.NotFound };

    public static CliException ConfirmationNeeded(string action, Guid run) =>
        new($"refusing to {action} run {run} without confirmation: add --yes") { At = "--yes", Kind = LaminaErrorKind.Usage };

    public static CliException StoreOptionMissing(string option, string side) =>
        new($"{option} is needed: give {side} HOME (a Lamina home folder) or every {side}-tracking, {side}-artifacts and {side}-production URI") { At = option, Kind = LaminaErrorKind.Usage };

    public static CliException StoreUriNotSupported(string uri, string kind, string forms) =>
        new($"'{uri}' is not a {kind} store this Lamina can open: use {forms}") { At = uri, Kind = LaminaErrorKind.Usage };

    public static CliException CopyOntoItself(string store) =>
        new($"the source and the target are the same tracking store ({store}): a store cannot be copied onto itself") { At = store, Kind = LaminaErrorKind.Usage };

    public static CliException SourceStoreMissing(string path) =>
        new($"no tracking store at {path}: the source of a copy must exist") { At = path, Kind = LaminaErrorKind.NotFound };

}
