using Lamina.Core;

namespace Lamina.Cli.Commands;

/// <summary>A step of <c>lamina demo --team</c> that failed: it names the step and the folder kept for inspection.</summary>
public sealed class TeamDemoException : LaminaException
{
    private TeamDemoException(string message, Exception? inner = null) : base(message, inner) { }

    internal static TeamDemoException OutputNotEmpty(string folder) =>
        new($"demo --team: {folder} is not empty; give --out a new or empty folder") { At = folder, Kind = LaminaErrorKind.Usage };

    internal static TeamDemoException StepFailed(string step, string folder, string reason, Exception? inner = null) =>
        new($"demo --team: step '{step}' failed: {reason} (everything it made is kept in {folder}; its logs in {Path.Combine(folder, "logs")})", inner) { At = step };
}
