using Lamina.Core.Inference;

namespace Lamina.Core.Tests.Inference;

public sealed class ExecutionProvidersTests
{
    [Fact]
    public void EnsureAvailable_CudaWhereItCannotStart_FailsClearlyWithoutFallingBack()
    {
        // This machine's ONNX Runtime package has no CUDA provider (docs/backbones.md says what a GPU machine needs).
        var error = Assert.Throws<InferenceException>(() => ExecutionProviders.EnsureAvailable(ExecutionProvider.Cuda));

        Assert.Contains("execution provider Cuda could not start", error.Message);
        Assert.Contains("does not fall back", error.Message);
    }

    [Fact]
    public void EnsureAvailable_Cpu_Passes_AndItsDeviceIsCpu()
    {
        ExecutionProviders.EnsureAvailable(ExecutionProvider.Cpu);

        Assert.Equal("cpu", ExecutionProviders.Device(ExecutionProvider.Cpu));
        Assert.Equal("cpu", ExecutionProvider.Cpu.Name());
    }

    [Theory]
    [InlineData("cpu", ExecutionProvider.Cpu)]
    [InlineData("CUDA", ExecutionProvider.Cuda)]
    public void Parse_KnownNames(string name, ExecutionProvider expected) => Assert.Equal(expected, ExecutionProviders.Parse(name));

    [Fact]
    public void Parse_UnknownName_ListsTheKnownOnes()
    {
        var error = Assert.Throws<InferenceException>(() => ExecutionProviders.Parse("rocm"));

        Assert.Contains("'rocm' is not one Lamina knows: cpu, cuda", error.Message);
    }
}
