using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;

namespace Lamina.Ui.Rendering;

/// <summary>
/// A fragment of HTML that is safe to write as it is: built from literal markup and encoded values only. Interpolating
/// into <see cref="Html.Of"/> encodes every hole that is not itself <see cref="Html"/>, so a run's description or a
/// parameter's value can never become markup.
/// </summary>
internal readonly struct Html
{
    private readonly string? _value;

    private Html(string value) => _value = value;

    public static Html Empty { get; } = new("");

    /// <summary>Markup written by this code (never data): used as it is.</summary>
    public static Html Raw(string markup) => new(markup);

    /// <summary>Text, encoded.</summary>
    public static Html Text(string? text) => new(text is null ? "" : Encode(text));

    /// <summary>Literal parts as markup, holes encoded unless they are <see cref="Html"/>.</summary>
    public static Html Of(ref HtmlHandler handler) => new(handler.ToStringAndClear());

    public static Html Join(IEnumerable<Html> parts) => new(string.Concat(parts.Select(p => p.ToString())));

    public static Html operator +(Html left, Html right) => new(left.ToString() + right.ToString());

    public static Html When(bool condition, Html html) => condition ? html : Empty;

    public override string ToString() => _value ?? "";

    /// <summary>
    /// Escapes the five characters that can end text or a quoted attribute value (<c>&amp; &lt; &gt; " '</c>); everything
    /// else, line breaks and non-ASCII letters included, stays as it is, so a diff or a log reads the same in the source.
    /// </summary>
    internal static string Encode(string text)
    {
        if (text.AsSpan().IndexOfAny("&<>\"'") < 0) return text;
        var builder = new StringBuilder(text.Length + 16);
        foreach (var c in text)
        {
            switch (c)
            {
                case '&': builder.Append("&amp;"); break;
                case '<': builder.Append("&lt;"); break;
                case '>': builder.Append("&gt;"); break;
                case '"': builder.Append("&quot;"); break;
                case '\'': builder.Append("&#39;"); break;
                default: builder.Append(c); break;
            }
        }
        return builder.ToString();
    }
}

/// <summary>Builds <see cref="Html"/> from an interpolated string: literals as markup, holes encoded.</summary>
[InterpolatedStringHandler]
internal struct HtmlHandler
{
    private readonly StringBuilder _builder;

    public HtmlHandler(int literalLength, int formattedCount) => _builder = new StringBuilder(literalLength + formattedCount * 16);

    public readonly void AppendLiteral(string literal) => _builder.Append(literal);

    public readonly void AppendFormatted(Html html) => _builder.Append(html.ToString());

    public readonly void AppendFormatted(IEnumerable<Html> parts)
    {
        foreach (var part in parts) _builder.Append(part.ToString());
    }

    public readonly void AppendFormatted(string? text)
    {
        if (text is not null) _builder.Append(Html.Encode(text));
    }

    public readonly void AppendFormatted<T>(T value)
    {
        // A list of fragments binds here (List<Html> is a better match for T than for IEnumerable<Html>): still markup.
        if (value is IEnumerable<Html> parts)
        {
            AppendFormatted(parts);
            return;
        }
        var text = value switch
        {
            null => "",
            IFormattable formattable => formattable.ToString(null, CultureInfo.InvariantCulture),
            _ => value.ToString() ?? "",
        };
        _builder.Append(Html.Encode(text));
    }

    public readonly void AppendFormatted<T>(T value, string format) where T : IFormattable =>
        _builder.Append(Html.Encode(value.ToString(format, CultureInfo.InvariantCulture)));

    public readonly string ToStringAndClear()
    {
        var text = _builder.ToString();
        _builder.Clear();
        return text;
    }
}
