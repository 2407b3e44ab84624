using Lamina.Core.Analysis.Outputs;

namespace Lamina.Core.Tests.Analysis.Outputs;

public sealed class ReportHtmlTests : IDisposable
{
    private readonly TemporaryDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    private static IReadOnlyDictionary<string, IReadOnlyDictionary<string, (double Value, string? Unit)>> Figures() =>
        new Dictionary<string, IReadOnlyDictionary<string, (double Value, string? Unit)>>
        {
            ["carcinoma"] = new Dictionary<string, (double, string?)> { ["area_mm2"] = (12.5, "mm²"), ["fraction"] = (0.123456789, null) },
            ["mitosis<count>"] = new Dictionary<string, (double, string?)> { ["per_10_hpf"] = (7, "per 10 HPF") },
        };

    [Fact]
    public void Write_FiguresImagesAndProvenance_AppearInTheirTables()
    {
        var path = _temp.Combine("report.html");

        ReportHtml.Write(path, "CMU-1", Figures(), ["carcinoma.png", _temp.Combine("heatmaps", "mitosis map.png")],
            new Dictionary<string, string> { ["configuration digest"] = "sha256:abc" });

        var html = File.ReadAllText(path);
        Assert.Contains("<td>area_mm2</td><td class=\"value\">12.5</td><td>mm²</td>", html);
        Assert.Contains("<td class=\"value\">0.123457</td>", html);
        Assert.Contains("<td class=\"value\">7</td><td>per 10 HPF</td>", html);
        Assert.Contains("<img src=\"carcinoma.png\"", html);
        Assert.Contains("<img src=\"heatmaps/mitosis%20map.png\"", html);
        Assert.Contains("<th>configuration digest</th><td>sha256:abc</td>", html);
        Assert.DoesNotContain("<script", html);
    }

    [Fact]
    public void Write_TextWithMarkup_IsEscaped()
    {
        var path = _temp.Combine("report.html");

        ReportHtml.Write(path, "a <b> & \"c\"", Figures(), [],
            new Dictionary<string, string> { ["<script>"] = "alert('x') </td>" });

        var html = File.ReadAllText(path);
        Assert.Contains("<title>a &lt;b&gt; &amp; &quot;c&quot;</title>", html);
        Assert.Contains("<h3>mitosis&lt;count&gt;</h3>", html);
        Assert.Contains("<th>&lt;script&gt;</th><td>alert(&#39;x&#39;) &lt;/td&gt;</td>", html);
        Assert.DoesNotContain("<script>", html);
        Assert.DoesNotContain("<b>", html);
    }
}
