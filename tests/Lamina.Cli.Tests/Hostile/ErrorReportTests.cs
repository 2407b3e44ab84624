using System.Text.Json;
using Lamina.Cli.Rendering;
using Lamina.Tracking;

namespace Lamina.Cli.Tests.Hostile;

/// <summary>Issue 12: what a user can cause is named plainly with the exit code of its kind; only a bug is "internal".</summary>
public sealed class ErrorReportTests
{
    public static TheoryData<Exception, string, int, string> Exceptions => new()
    {
        { new FileNotFoundException("Could not find file", "/data/slide.svs"), "not_found", ExitCodes.NotFound, "/data/slide.svs: no such file" },
        { new DirectoryNotFoundException("Could not find a part of the path '/data/missing/x.yaml'."), "not_found", ExitCodes.NotFound, "/data/missing/x.yaml" },
        { new UnauthorizedAccessException("Access to the path '/root/x' is denied."), "failed", ExitCodes.Failed, "permission denied" },
        { new IOException("No space left on device : '/data/out/x.tif'"), "failed", ExitCodes.Failed, "the disk is full" },
        { new IOException("The process cannot access the file '/data/x'"), "failed", ExitCodes.Failed, "cannot read or write a file" },
        { new JsonException("'x' is an invalid start of a value. LineNumber: 0"), "validation", ExitCodes.Validation, "malformed JSON" },
        { new FormatException("Input string was not in a correct format."), "validation", ExitCodes.Validation, "malformed input" },
        { new OutOfMemoryException(), "failed", ExitCodes.Failed, "out of memory: the input is too large" },
        { RunNotFound(), "not_found", ExitCodes.NotFound, "no run" },
        { new TrackingException("the tracking database stayed busy", isTransient: true), "unavailable", ExitCodes.Unavailable, "stayed busy" },
        { new RunPublishedException(Guid.Empty, DateTimeOffset.UnixEpoch, "deleted"), "conflict", ExitCodes.Conflict, "is published" },
        { new AmbiguousRunIdException("ab", [Guid.Empty, Guid.Empty]), "usage", ExitCodes.Usage, "ambiguous" },
        { new BlobNotFoundException(new string('0', 64), "/blobs"), "integrity", ExitCodes.Integrity, "not found in /blobs" },
        { new InvalidOperationException("Sequence contains no elements"), "internal", ExitCodes.Internal, "internal error: Sequence contains no elements" },
    };

    private static RunNotFoundException RunNotFound() => new("no run 0000");

    [Theory]
    [MemberData(nameof(Exceptions))]
    public void Classify_NamesTheProblem_WithTheExitCodeOfItsKind(Exception exception, string code, int exitCode, string message)
    {
        var failure = ErrorReport.Classify(exception, [], new CommandIndex());

        Assert.Equal(code, failure.Code);
        Assert.Equal(exitCode, failure.ExitCode);
        Assert.Contains(message, failure.Message);
        Assert.DoesNotContain('\n', failure.Message);
    }

    [Fact]
    public void InternalError_SaysHowToReportIt()
    {
        var failure = ErrorReport.Classify(new NullReferenceException("Object reference not set"), [], new CommandIndex());

        Assert.Equal(ExitCodes.Internal, failure.ExitCode);
        Assert.Contains("a bug in Lamina: please report it", failure.Message);
        Assert.Contains("--verbose", failure.Message);
    }
}
