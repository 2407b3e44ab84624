using Lamina.Core;

namespace Lamina.Cli;

/// <summary>
/// The exit codes of <c>lamina</c>, one per kind of failure (README, "Exit codes and errors"): a script tells a typo
/// from a missing run from an altered file without reading the message.
/// </summary>
public static class ExitCodes
{
    public const int Ok = 0;

    /// <summary>The work failed: a run that failed, a check that found a problem, a tool that failed.</summary>
    public const int Failed = 1;

    /// <summary>The command line is wrong: an unknown or inapplicable option, a missing argument, a bad value.</summary>
    public const int Usage = 2;

    /// <summary>An input is not valid: an experiment or analysis file, a model card, a value given with <c>--set</c>.</summary>
    public const int Validation = 3;

    /// <summary>What was named does not exist: a run, a model, a file, a slide, a task.</summary>
    public const int NotFound = 4;

    /// <summary>The state forbids it: a published run, a run already ended, a model already published, a non-empty folder.</summary>
    public const int Conflict = 5;

    /// <summary>Something does not match its recorded digest or lacks what a record names: it was altered.</summary>
    public const int Integrity = 6;

    /// <summary>A resource is busy or unreachable (a locked database); trying again later may work.</summary>
    public const int Unavailable = 7;

    /// <summary>A bug in Lamina; <c>--verbose</c> prints the details to report.</summary>
    public const int Internal = 70;

    /// <summary>Stopped by Ctrl+C (128 + SIGINT, as shells do).</summary>
    public const int Interrupted = 130;

    public static int Of(LaminaErrorKind kind) => kind switch
    {
        LaminaErrorKind.Usage => Usage,
        LaminaErrorKind.Validation => Validation,
        LaminaErrorKind.NotFound => NotFound,
        LaminaErrorKind.Conflict => Conflict,
        LaminaErrorKind.Integrity => Integrity,
        LaminaErrorKind.Unavailable => Unavailable,
        _ => Failed,
    };

    /// <summary>The <c>code</c> of a <c>--json</c> error: <c>usage</c>, <c>not_found</c>…</summary>
    public static string Code(LaminaErrorKind kind) => kind switch
    {
        LaminaErrorKind.Usage => "usage",
        LaminaErrorKind.Validation => "validation",
        LaminaErrorKind.NotFound => "not_found",
        LaminaErrorKind.Conflict => "conflict",
        LaminaErrorKind.Integrity => "integrity",
        LaminaErrorKind.Unavailable => "unavailable",
        _ => "failed",
    };
}
