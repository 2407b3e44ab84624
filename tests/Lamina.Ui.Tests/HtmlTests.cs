using Lamina.Ui.Rendering;

namespace Lamina.Ui.Tests;

public sealed class HtmlTests
{
    [Fact]
    public void Interpolated_EncodesEveryHole_ButKeepsMarkup()
    {
        var name = "<img src=x onerror=alert(1)>";
        var attribute = "\" onclick=\"evil()";

        var html = Html.Of($"<td title=\"{attribute}\">{name}{Html.Raw("<br>")}</td>").ToString();

        Assert.Equal("<td title=\"&quot; onclick=&quot;evil()\">&lt;img src=x onerror=alert(1)&gt;<br></td>", html);
    }

    [Fact]
    public void Interpolated_KeepsNonAsciiTextReadable()
    {
        Assert.Equal("<p>µm × 3 – Zürich</p>", Html.Of($"<p>{"µm × 3 – Zürich"}</p>").ToString());
    }
}
