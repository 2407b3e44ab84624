using Lamina.Core;

namespace Lamina.Lab.Demo;

/// <summary>The sample experiments shipped inside Lamina, written out on demand.</summary>
public static class SampleExperiments
{
    private const string Prefix = "samples/";

    /// <summary>The names of the samples embedded in this build.</summary>
    public static IReadOnlyList<string> Names =>
        [.. typeof(SampleExperiments).Assembly.GetManifestResourceNames()
            .Where(n => n.StartsWith(Prefix, StringComparison.Ordinal))
            .Select(n => n[Prefix.Length..].Split('/')[0])
            .Distinct()
            .Order(StringComparer.Ordinal)];

    /// <summary>The text of one file of a sample, such as <c>analysis.yaml</c> of <c>breast-analysis</c>.</summary>
    public static string ReadText(string name, string file)
    {
        using var stream = typeof(SampleExperiments).Assembly.GetManifestResourceStream($"{Prefix}{name}/{file}")
            ?? throw LabException.SampleFileMissing(name, file);
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    /// <summary>Writes sample <paramref name="name"/> into <paramref name="directory"/>; returns the files written.</summary>
    public static IReadOnlyList<string> WriteTo(string name, string directory)
    {
        var assembly = typeof(SampleExperiments).Assembly;
        var prefix = $"{Prefix}{name}/";
        var resources = assembly.GetManifestResourceNames().Where(n => n.StartsWith(prefix, StringComparison.Ordinal)).ToList();
        if (resources.Count == 0)
        {
            throw LabException.NoSuchSample(name, Names);
        }
        var written = new List<string>();
        foreach (var resource in resources.Order(StringComparer.Ordinal))
        {
            var target = Path.Combine(directory, resource[prefix.Length..]);
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            using var source = assembly.GetManifestResourceStream(resource)!;
            using var file = File.Create(target);
            source.CopyTo(file);
            written.Add(target);
        }
        return written;
    }
}
