using System.Reflection;
using System.Text.Json;
using System.Text.RegularExpressions;
using Lamina.Core;
using Lamina.Core.Config;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Lamina.Cli.Rendering;

/// <summary>
/// Turns any exception into one line on standard error (and with <c>--json</c>, one
/// <c>{"error": {"code", "message", "at"}}</c> object on standard output) and the exit code of its kind
/// (<see cref="ExitCodes"/>). What a user can cause is named plainly; anything else is an internal error that says how
/// to report it. A stack trace only with <c>--verbose</c>.
/// </summary>
internal static partial class ErrorReport
{
    /// <summary>One failure as it is reported.</summary>
    /// <param name="Code">The <c>--json</c> code: usage, validation, not_found, conflict, integrity, unavailable, failed, internal, interrupted.</param>
    internal sealed record Failure(string Code, int ExitCode, string Message, string? At);

    public static int Write(Exception exception, string[] args, CommandIndex commands)
    {
        exception = Unwrap(exception);
        var json = args.Contains("--json");
        var verbose = args.Contains("--verbose");
        var failure = Classify(exception, args, commands);
        // The line on stderr always, for whoever watches; with --json the same error as an object on stdout, for a script.
        if (exception is ConfigValidationException invalid)
        {
            DiagnosticRenderer.Render(ErrorConsole(), invalid.Diagnostics, ExperimentDirectory(args));
        }
        else
        {
            WriteLine(failure.Code == "interrupted" ? failure.Message : $"error: {failure.Message}");
        }
        if (json)
        {
            WriteJson(failure, exception as ConfigValidationException);
        }
        if (verbose)
        {
            Console.Error.WriteLine(exception.ToString());
        }
        return failure.ExitCode;
    }

    internal static Failure Classify(Exception exception, IReadOnlyList<string> args, CommandIndex commands)
    {
        if (exception.GetType().Namespace?.StartsWith("YamlDotNet", StringComparison.Ordinal) == true)
        {
            return new("validation", ExitCodes.Validation, $"malformed YAML: {OneLine(exception.Message)}", null);
        }
        switch (exception)
        {
            case CommandParseException parse:
                return new("usage", ExitCodes.Usage, ParseMessage(parse.Message, args, commands, out var at), at);
            case CommandRuntimeException runtime:
                // Spectre wraps a value its converter refused (-n abc): the inner message says which.
                return BadValue(runtime.InnerException?.Message ?? runtime.Message, args);
            case OperationCanceledException when CliContext.Cancellation.IsCancellationRequested:
                return new("interrupted", CliContext.AbortExitCode, "interrupted", null);
            case ConfigValidationException invalid:
                return new("validation", ExitCodes.Validation, OneLine(invalid.Diagnostics.Count == 1 ? invalid.Message : $"{invalid.Diagnostics.Count} problems: {string.Join("; ", invalid.Diagnostics)}"),
                    invalid.Diagnostics.Count > 0 ? invalid.Diagnostics[0].Location.ToString() : invalid.At);
            case LaminaException lamina:
                return new(ExitCodes.Code(lamina.Kind), ExitCodes.Of(lamina.Kind), OneLine(lamina.Message), lamina.At);
            case FileNotFoundException missing:
                return new("not_found", ExitCodes.NotFound, missing.FileName is { } file ? $"{file}: no such file" : OneLine(missing.Message), missing.FileName);
            case DirectoryNotFoundException missing:
                return new("not_found", ExitCodes.NotFound, $"no such folder: {OneLine(missing.Message)}", PathIn(missing.Message));
            case UnauthorizedAccessException denied:
                return new("failed", ExitCodes.Failed, $"permission denied: {OneLine(denied.Message)}", PathIn(denied.Message));
            case IOException io when io.Message.Contains("No space left", StringComparison.OrdinalIgnoreCase) || io.HResult is 28 or 0x70 or unchecked((int)0x80070070):
                return new("failed", ExitCodes.Failed, $"the disk is full: {OneLine(io.Message)}", PathIn(io.Message));
            case IOException io:
                return new("failed", ExitCodes.Failed, $"cannot read or write a file: {OneLine(io.Message)}", PathIn(io.Message));
            case JsonException malformed:
                return new("validation", ExitCodes.Validation, $"malformed JSON: {OneLine(malformed.Message)}", malformed.Path);
            case FormatException or OverflowException or InvalidDataException:
                return new("validation", ExitCodes.Validation, $"malformed input: {OneLine(exception.Message)}", null);
            case OutOfMemoryException or InsufficientExecutionStackException:
                return new("failed", ExitCodes.Failed, "out of memory: the input is too large (or too deeply nested) to process", null);
            case TimeoutException timeout:
                return new("unavailable", ExitCodes.Unavailable, $"timed out: {OneLine(timeout.Message)}", null);
            case DllNotFoundException library:
                return new("failed", ExitCodes.Failed, $"a native library is missing: {OneLine(library.Message)}", null);
            default:
                return new("internal", ExitCodes.Internal,
                    $"internal error: {OneLine(exception.Message)} ({exception.GetType().Name}); this is a bug in Lamina: please report it with what the same command prints with --verbose (the stack trace)", null);
        }
    }

    private static Exception Unwrap(Exception exception)
    {
        while (true)
        {
            switch (exception)
            {
                case AggregateException { InnerExceptions.Count: 1 } aggregate:
                    exception = aggregate.InnerExceptions[0];
                    break;
                case TargetInvocationException { InnerException: { } inner }:
                    exception = inner;
                    break;
                default:
                    return exception;
            }
        }
    }

    [GeneratedRegex(@"^(?<value>.*) is not a valid value for (?<type>\w+)\.")]
    private static partial Regex NotAValuePattern();

    // Spectre's converter names the value and the .NET type, not the option: find the option it was given to.
    private static Failure BadValue(string message, IReadOnlyList<string> args)
    {
        if (NotAValuePattern().Match(message) is not { Success: true } match) return new("usage", ExitCodes.Usage, OneLine(message), null);
        var value = match.Groups["value"].Value;
        var expected = match.Groups["type"].Value switch
        {
            "Int32" or "Int64" => "a whole number",
            "Double" or "Single" or "Decimal" => "a number",
            "Boolean" => "true or false",
            var type => $"a {type}",
        };
        var index = args.ToList().FindIndex(a => a == value || a.EndsWith($"={value}", StringComparison.Ordinal));
        var option = index > 0 && args[index] == value ? args[index - 1] : index >= 0 ? args[index].Split('=')[0] : null;
        return option is not null && option.StartsWith('-')
            ? new("usage", ExitCodes.Usage, $"{option}: '{value}' is not valid: expected {expected}", option)
            : new("usage", ExitCodes.Usage, $"'{value}' is not valid: expected {expected}", null);
    }

    [GeneratedRegex(@"^(Unknown|Unexpected) option '(?<name>[^']+)'")]
    private static partial Regex UnknownOptionPattern();

    [GeneratedRegex(@"^Option '(?<name>[^']+)' is defined but no value has been provided")]
    private static partial Regex NoValuePattern();

    [GeneratedRegex(@"^Unknown command '(?<name>[^']+)'")]
    private static partial Regex UnknownCommandPattern();

    private static string ParseMessage(string message, IReadOnlyList<string> args, CommandIndex commands, out string? at)
    {
        at = null;
        if (UnknownOptionPattern().Match(message) is { Success: true } option)
        {
            var name = option.Groups["name"].Value;
            // Spectre drops the dashes; give the option back as it was typed.
            at = args.FirstOrDefault(a => a.TrimStart('-').Split('=')[0] == name && a.StartsWith('-')) is { } typed
                ? typed.Split('=')[0]
                : (name.Length == 1 ? "-" : "--") + name;
            return commands.UnknownOption(at, commands.CommandOf(args));
        }
        if (NoValuePattern().Match(message) is { Success: true } valueless)
        {
            var name = valueless.Groups["name"].Value;
            at = (name.Length == 1 ? "-" : "--") + name;
            return $"option '{at}' needs a value";
        }
        if (UnknownCommandPattern().Match(message) is { Success: true } command)
        {
            at = command.Groups["name"].Value;
            return commands.UnknownCommand(at, args);
        }
        return OneLine(message);
    }

    private static string OneLine(string message)
    {
        var trimmed = message.Trim();
        return trimmed.Contains('\n') ? string.Join(" ", trimmed.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)) : trimmed;
    }

    [GeneratedRegex(@"'(?<path>/[^']*)'")]
    private static partial Regex QuotedPath();

    private static string? PathIn(string message) => QuotedPath().Match(message) is { Success: true } m ? m.Groups["path"].Value : null;

    private static void WriteJson(Failure failure, ConfigValidationException? invalid)
    {
        var error = new Dictionary<string, object?>
        {
            ["code"] = failure.Code,
            ["message"] = failure.Message,
            ["at"] = failure.At,
        };
        if (invalid is not null)
        {
            error["diagnostics"] = invalid.Diagnostics.Select(d => new
            {
                file = d.Location.File,
                line = d.Location.Line,
                column = d.Location.Column,
                key_path = d.KeyPath,
                message = d.Message,
            });
        }
        JsonOutput.Write(new { error });
    }

    // Plain text, never markup: the message holds what the user typed. Red only on a terminal that wants colour.
    private static void WriteLine(string line)
    {
        var colour = !Console.IsErrorRedirected && string.IsNullOrEmpty(Environment.GetEnvironmentVariable("NO_COLOR"));
        Console.Error.WriteLine(colour && line.StartsWith("error:", StringComparison.Ordinal) ? $"\u001b[31merror:\u001b[0m{line[6..]}" : line);
    }

    private static IAnsiConsole ErrorConsole()
    {
        var error = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(Console.Error),
            Ansi = Console.IsErrorRedirected ? AnsiSupport.No : AnsiSupport.Detect,
        });
        // No wrapping into a file or a pipe: a diagnostic stays one line however long the value in it.
        if (Console.IsErrorRedirected) error.Profile.Width = 4096;
        return error;
    }

    // The folder of the experiment file named by -f/--file (default lamina.yaml), for showing source lines.
    private static string ExperimentDirectory(string[] args)
    {
        var index = Array.FindIndex(args, a => a is "-f" or "--file");
        var file = index >= 0 && index + 1 < args.Length ? args[index + 1] : "lamina.yaml";
        try
        {
            return Path.GetDirectoryName(Path.GetFullPath(file)) ?? Directory.GetCurrentDirectory();
        }
        catch (ArgumentException)
        {
            return Directory.GetCurrentDirectory();
        }
    }
}
