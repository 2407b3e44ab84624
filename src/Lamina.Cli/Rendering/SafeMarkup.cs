using System.Globalization;
using Spectre.Console;

namespace Lamina.Cli.Rendering;

/// <summary>
/// Markup whose holes are always text: Spectre's <c>MarkupLineInterpolated</c> escapes only string holes, so a record or a
/// path object holding a user's <c>[</c> was read as a tag and crashed the command (issue 12).
/// </summary>
internal static class SafeMarkup
{
    public static void MarkupLineEscaped(this IAnsiConsole console, FormattableString value) =>
        console.MarkupLine(Escape(value));

    /// <summary>The markup with every hole formatted (invariant culture, its format kept) and escaped.</summary>
    public static string Escape(FormattableString value) =>
        string.Format(CultureInfo.InvariantCulture, value.Format, [.. value.GetArguments().Select(a => new Escaped(a))]);

    private sealed class Escaped(object? value) : IFormattable
    {
        public string ToString(string? format, IFormatProvider? provider) =>
            Markup.Escape(value is IFormattable formattable ? formattable.ToString(format, provider) : value?.ToString() ?? "");

        public override string ToString() => ToString(null, CultureInfo.InvariantCulture);
    }
}
