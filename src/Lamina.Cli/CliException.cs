using Lamina.Core;

namespace Lamina.Cli;

/// <summary>A command that cannot be carried out as asked: a confirmation missing, something the run has not got.</summary>
internal sealed class CliException : LaminaException
{
    private CliException(string message, Exception? inner = null) : base(message, inner) { }

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

    public static CliException TokensNotKept(string store) =>
        new($"this tracking store ({store}) keeps no web UI tokens: 'lamina tokens' and 'lamina ui' need a store that does") { At = store };

    public static CliException TraceLocalPathFromUi(string id) =>
        new($"the web UI traces run ids, model card digests and registry images, not files or folders of the machine it runs on ('{id}'): run 'lamina trace {id}' there")
        { At = id, Kind = LaminaErrorKind.Usage };

    // lamina submit: broker URIs come here with their password masked already.

    public static CliException BadSubmission(string option, string problem) =>
        new($"{option}: {problem}") { At = option, Kind = LaminaErrorKind.Usage };

    public static CliException BrokerUnreachable(string broker, string problem, Exception inner) =>
        new($"cannot reach the broker {broker}: {problem}", inner) { At = broker, Kind = LaminaErrorKind.Unavailable };

    public static CliException BrokerRefusedLogin(string broker, string problem, Exception inner) =>
        new($"the broker {broker} refused the login ({problem}): check the user and password of --broker or LAMINA_BROKER", inner)
        { At = broker, Kind = LaminaErrorKind.Usage };

    public static CliException BrokerLost(string broker, string doing, string problem, Exception? inner) =>
        new($"lost the broker {broker} while {doing}: {problem}", inner) { At = broker, Kind = LaminaErrorKind.Unavailable };

    public static CliException QueueDeclaredOtherwise(string broker, string queue, string problem, Exception inner) =>
        new($"the broker {broker} has a queue '{queue}' declared otherwise than the analysis service declares it: {problem}", inner)
        { At = queue, Kind = LaminaErrorKind.Conflict };

    public static CliException RequestNotConfirmed(string broker, string request, string queue, string what, Exception inner) =>
        new($"the broker {broker} {what} request {request} on queue '{queue}': it may not be queued; submitting it again with --request-id {request} is safe (a request is answered once per id)", inner)
        { At = request, Kind = LaminaErrorKind.Unavailable };

    public static CliException NoResult(string request, double seconds, string why) =>
        new($"no result for request {request} within {seconds.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture)} s ({why}); it is not withdrawn: its results go to its output when a service answers it")
        { At = request, Kind = LaminaErrorKind.Unavailable };
}
