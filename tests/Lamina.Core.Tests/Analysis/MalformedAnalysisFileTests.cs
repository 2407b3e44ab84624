using Lamina.Core.Analysis;
using Lamina.Core.Config;

namespace Lamina.Core.Tests.Analysis;

/// <summary>
/// Every file under <c>Analysis/Malformed/</c> states the diagnostics it must produce, one per leading comment
/// <c># expect: line:col key.path: message</c> (an empty key path is written as nothing before ": "), in the same
/// form as the experiment files' suite.
/// </summary>
public sealed class MalformedAnalysisFileTests
{
    private const string Expect = "# expect: ";

    private static string Folder => Path.Combine(AppContext.BaseDirectory, "Analysis", "Malformed");

    public static TheoryData<string> Files() =>
        [.. Directory.GetFiles(Folder, "*.yaml").Select(f => Path.GetFileName(f)).Order(StringComparer.Ordinal)];

    [Fact]
    public void TheSuite_HasAtLeastFifteenMalformedFiles() => Assert.True(Files().Count >= 15);

    [Theory]
    [MemberData(nameof(Files))]
    public void Load_MalformedFile_ReportsExactlyTheExpectedDiagnostics(string fileName)
    {
        // Given
        var path = Path.Combine(Folder, fileName);
        var expected = File.ReadAllLines(path)
            .Where(l => l.StartsWith(Expect, StringComparison.Ordinal))
            .Select(l => l[Expect.Length..])
            .Order(StringComparer.Ordinal)
            .ToList();
        Assert.NotEmpty(expected);

        // When
        var e = Assert.Throws<ConfigValidationException>(() => AnalysisFileReader.Load(path, AnalysisCatalog.Create()));

        // Then: one string per file, so that a failure shows every line of both sides
        var actual = e.Diagnostics
            .Select(d => $"{d.Location.Line}:{d.Location.Column} {d.KeyPath}: {d.Message}")
            .Order(StringComparer.Ordinal);
        Assert.Equal(string.Join(Environment.NewLine, expected), string.Join(Environment.NewLine, actual));
        Assert.All(e.Diagnostics, d => Assert.Equal(path, d.Location.File));
    }
}
