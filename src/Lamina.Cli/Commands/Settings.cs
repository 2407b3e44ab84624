using System.ComponentModel;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Lamina.Cli.Commands;

/// <summary>Options every command takes.</summary>
public class LaminaSettings : CommandSettings
{
    [CommandOption("--verbose")]
    [Description("Print stack traces with errors.")]
    public bool Verbose { get; init; }
}

/// <summary>Options of commands that print something a script may want: <c>--json</c>.</summary>
public class OutputSettings : LaminaSettings
{
    [CommandOption("--json")]
    [Description("Print machine-readable JSON instead of tables.")]
    public bool Json { get; init; }
}

/// <summary>Options of commands that read an experiment file.</summary>
public class ExperimentSettings : OutputSettings
{
    [CommandOption("-f|--file <FILE>")]
    [Description("The experiment file (default: lamina.yaml).")]
    public string? FileOption { get; init; }

    /// <summary>The experiment file: <c>--file</c>, else <c>lamina.yaml</c>.</summary>
    public string File => FileOption ?? "lamina.yaml";

    [CommandOption("--set <KEY=VALUE>")]
    [Description("Override a key of the experiment file, e.g. --set tasks.simple_train.params.n_epochs=5 (repeatable).")]
    public string[] Overrides { get; init; } = [];
}

/// <summary>Options of <c>lamina validate</c>: an experiment file, or with <c>--analysis</c> an analysis file.</summary>
public sealed class ValidateSettings : ExperimentSettings
{
    [CommandOption("--analysis <FILE>")]
    [Description("Check this analysis file (analysis.yaml) instead of the experiment file.")]
    public string? Analysis { get; init; }

    // Issue 12: --set and --file were ignored with --analysis, so a check seemed to pass with them.
    public override ValidationResult Validate() => Analysis is null ? ValidationResult.Success()
        : Overrides.Length > 0 ? ValidationResult.Error("--set does not apply with --analysis: it overrides keys of an experiment file")
        : FileOption is not null ? ValidationResult.Error("--file does not apply with --analysis: give the analysis file to --analysis only")
        : ValidationResult.Success();
}
