using System.Runtime.InteropServices;

namespace Lamina.Tracking.Tests;

public sealed class EnvironmentCaptureTests
{
    [Fact]
    public void Capture_DescribesThisMachine_AndListsNonFrameworkAssembliesSorted()
    {
        var info = EnvironmentCapture.Capture([typeof(Xunit.FactAttribute).Assembly]);

        Assert.Equal(RuntimeInformation.OSDescription, info.Os);
        Assert.Equal(Environment.ProcessorCount, info.CpuCount);
        Assert.True(info.MemoryBytes > 0);
        Assert.NotEmpty(info.Cpu);
        Assert.Equal(RuntimeInformation.FrameworkDescription, info.DotnetVersion);
        Assert.StartsWith("0.1.0", info.LaminaVersion);
        Assert.Contains("Lamina.Tracking", info.Packages.Keys);
        Assert.Contains("xunit.core", info.Packages.Keys);
        Assert.DoesNotContain(info.Packages.Keys, k => k.StartsWith("System.", StringComparison.Ordinal) || k == "netstandard");
        Assert.Equal(info.Packages.Keys.Order(StringComparer.Ordinal), info.Packages.Keys);
    }
}
