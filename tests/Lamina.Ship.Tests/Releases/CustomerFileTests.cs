using Lamina.Core.Config;
using Lamina.Ship.Releases;

namespace Lamina.Ship.Tests.Releases;

public sealed class CustomerFileTests : IDisposable
{
    private readonly TemporaryDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    private string Write(string text, bool withAnalysis = true)
    {
        var folder = _temp.Combine($"customer-{Guid.NewGuid():N}");
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, CustomerFile.FileName), text);
        if (withAnalysis) File.WriteAllText(Path.Combine(folder, "analysis.yaml"), "version: 1\n");
        return folder;
    }

    [Fact]
    public void Load_AValidFile_GivesItsSettings()
    {
        var folder = Write("""
            customer: hospital-a
            image: registry.example.org:5000/customers/hospital-a
            base: "0.1"
            analysis: analysis.yaml
            registry:
              insecure: true
            """);

        var customer = CustomerFile.Load(folder);

        Assert.Equal("hospital-a", customer.Customer);
        Assert.Equal("registry.example.org:5000", customer.Image.Registry);
        Assert.Equal("customers/hospital-a", customer.Image.Repository);
        Assert.Equal("0.1", customer.Base);
        Assert.Equal(Path.Combine(folder, "analysis.yaml"), customer.Analysis);
        Assert.True(customer.Insecure);
        Assert.Equal(folder, customer.Directory);
    }

    [Fact]
    public void Load_ReportsEveryProblemAtOnce_EachAtItsLineAndKey()
    {
        // Given a file with an unknown key, a bad name, a tagged image and a bad registry setting, and no base
        var folder = Write("""
            customer: Hospital A
            image: registry.example.org/customers/hospital-a:1.0
            analysis: analysis.yaml
            analyss: typo.yaml
            registry:
              insecure: maybe
              proxy: x
            """);

        // When it is loaded
        var error = Assert.Throws<ConfigValidationException>(() => CustomerFile.Load(folder));

        // Then each problem names customer.yaml, its line and its key
        var file = Path.Combine(folder, CustomerFile.FileName);
        var messages = error.Diagnostics.Select(d => d.ToString()).ToList();
        Assert.Contains(messages, m => m.StartsWith($"{file}:1:", StringComparison.Ordinal) && m.Contains("'Hospital A' is not a customer name"));
        Assert.Contains(messages, m => m.StartsWith($"{file}:2:", StringComparison.Ordinal) && m.Contains("has a tag or digest"));
        Assert.Contains(messages, m => m.StartsWith($"{file}:4:", StringComparison.Ordinal) && m.Contains("unknown key 'analyss'") && m.Contains("did you mean 'analysis'"));
        Assert.Contains(messages, m => m.StartsWith($"{file}:6:", StringComparison.Ordinal) && m.Contains("insecure is true or false"));
        Assert.Contains(messages, m => m.StartsWith($"{file}:7:", StringComparison.Ordinal) && m.Contains("unknown key 'proxy'"));
        Assert.Contains(messages, m => m.StartsWith($"{file}:1:", StringComparison.Ordinal) && m.Contains("missing key 'base'"));
        Assert.Equal(6, messages.Count);
    }

    [Fact]
    public void Load_AMissingAnalysisFile_IsNamedAtItsKey()
    {
        var folder = Write("""
            customer: hospital-b
            image: customers/hospital-b
            base: "0.1"
            analysis: models/analysis.yaml
            """, withAnalysis: false);

        var error = Assert.Throws<ConfigValidationException>(() => CustomerFile.Load(folder));

        var problem = Assert.Single(error.Diagnostics);
        Assert.Equal(4, problem.Location.Line);
        Assert.Contains($"no analysis file at {Path.Combine(folder, "models", "analysis.yaml")}", problem.Message);
    }

    [Fact]
    public void Load_AFolderWithoutCustomerFile_SaysSo()
    {
        var folder = _temp.Combine("empty");
        Directory.CreateDirectory(folder);

        var error = Assert.Throws<ConfigValidationException>(() => CustomerFile.Load(folder));

        Assert.Contains($"no {CustomerFile.FileName} here", error.Message);
        Assert.Contains(folder, error.Message);
    }
}
