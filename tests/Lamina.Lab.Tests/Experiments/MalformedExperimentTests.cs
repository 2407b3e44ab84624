using System.Text.RegularExpressions;
using Lamina.Core.Config;
using Lamina.Lab.Experiments;

namespace Lamina.Lab.Tests.Experiments;

/// <summary>
/// Every file under <c>Experiments/Malformed/</c> states the diagnostics it must produce in leading comments:
/// <c># expect: [file:]line:col key.path: message</c> (an empty key path is written as nothing before ": ");
/// without a file, the location is the experiment file itself. <c># set: key=value</c> lines are overrides.
/// </summary>
public sealed partial class MalformedExperimentTests : IDisposable
{
    private readonly string _cache = Directory.CreateTempSubdirectory("lamina-plugin-cache-").FullName;

    public void Dispose() => Directory.Delete(_cache, recursive: true);

    public static TheoryData<string> Files()
    {
        var data = new TheoryData<string>();
        foreach (var file in Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "Experiments", "Malformed"), "*.yaml")
                     .Order(StringComparer.Ordinal))
        {
            data.Add(Path.GetFileName(file));
        }
        return data;
    }

    [Fact]
    public void TheSuite_HasAtLeastThirtyMalformedFiles() => Assert.True(Files().Count >= 30);

    [Theory]
    [MemberData(nameof(Files))]
    public void Load_MalformedFile_ReportsExactlyTheExpectedDiagnostics(string fileName)
    {
        // Given
        var path = Path.Combine(AppContext.BaseDirectory, "Experiments", "Malformed", fileName);
        var lines = File.ReadAllLines(path);
        var expected = lines.Select(l => ExpectLine().Match(l)).Where(m => m.Success)
            .Select(m => Format(
                m.Groups["file"].Success ? m.Groups["file"].Value : "",
                int.Parse(m.Groups["line"].Value, System.Globalization.CultureInfo.InvariantCulture),
                int.Parse(m.Groups["col"].Value, System.Globalization.CultureInfo.InvariantCulture),
                m.Groups["path"].Value,
                m.Groups["msg"].Value))
            .Order(StringComparer.Ordinal)
            .ToList();
        var overrides = lines.Where(l => l.StartsWith("# set: ", StringComparison.Ordinal)).Select(l => l["# set: ".Length..]).ToList();
        Assert.NotEmpty(expected);

        // When
        var result = ExperimentLoader.Load(path, overrides, _cache, [typeof(BinaryFocal).Assembly]);

        // Then
        var actual = result.Diagnostics
            .Select(d => Format(d.Location.File == path ? "" : d.Location.File, d.Location.Line, d.Location.Column, d.KeyPath, d.Message))
            .Order(StringComparer.Ordinal)
            .ToList();
        // One string per file, so that a failure shows every line of both sides.
        Assert.Equal(string.Join(Environment.NewLine, expected), string.Join(Environment.NewLine, actual));
        Assert.Null(result.Experiment);
        Assert.False(result.IsValid);
    }

    // The experiment file itself is written as nothing, so that failures read like the expect lines.
    private static string Format(string file, int line, int column, string keyPath, string message) =>
        $"{(file.Length == 0 ? "" : file + ":")}{line}:{column} {keyPath}: {message}";

    [GeneratedRegex(@"^# expect: (?:(?<file>[^\s]+):)?(?<line>\d+):(?<col>\d+) (?<path>\S*): (?<msg>.*)$")]
    private static partial Regex ExpectLine();
}
