using System.Text;
using Lamina.Serve.Contracts;

namespace Lamina.Serve.Tests;

public sealed class AnalysisRequestTests
{
    private static AnalysisRequest Parse(string json, string? messageId = null) => AnalysisRequest.Parse(Encoding.UTF8.GetBytes(json), messageId);

    [Fact]
    public void Parse_WhatToJsonWrote_GivesTheSameRequest()
    {
        var request = new AnalysisRequest("r-1", "s3://slides/a.svs", "breast", "/results/r-1", "c-9", 0.25);

        var read = AnalysisRequest.Parse(request.ToJson());

        Assert.Equal(request, read);
        Assert.Contains("\"request_id\":\"r-1\"", Encoding.UTF8.GetString(request.ToJson()), StringComparison.Ordinal);
        Assert.StartsWith("{\"version\":1,", Encoding.UTF8.GetString(request.ToJson()), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"slide":"a","analysis":"b","output":"c"}""", "'request_id' is missing or empty")]
    [InlineData("""{"request_id":"r","analysis":"b","output":"c"}""", "'slide' is missing or empty")]
    [InlineData("""{"request_id":"r","slide":"a","output":"c"}""", "'analysis' is missing or empty")]
    [InlineData("""{"request_id":"r","slide":"a","analysis":"b"}""", "'output' is missing or empty")]
    [InlineData("""{"request_id":"r","slide":" ","analysis":"b","output":"c"}""", "'slide' is missing or empty")]
    [InlineData("""{"request_id":"r","slide":7,"analysis":"b","output":"c"}""", "'slide' must be a string, not number")]
    [InlineData("""{"version":2,"request_id":"r","slide":"a","analysis":"b","output":"c"}""", "version 2 is not one this service reads")]
    [InlineData("""{"request_id":"r","slide":"a","analysis":"b","output":"c","microns_per_pixel":-1}""", "microns_per_pixel must be positive")]
    [InlineData("""{"request_id":"../up","slide":"a","analysis":"b","output":"c"}""", "request_id '../up' must be at most 200 characters, without '/'")]
    [InlineData("[1, 2]", "the body is not a JSON object")]
    [InlineData("{not json", "the body is not JSON")]
    public void Parse_ABadBody_NamesTheFieldAtFault(string json, string expected)
    {
        var error = Assert.Throws<InvalidRequestException>(() => Parse(json));

        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_ABadBodyWithAMessageId_KeepsTheIdForTheAnswer()
    {
        var unreadable = Assert.Throws<InvalidRequestException>(() => Parse("{not json", "from-amqp"));
        var missing = Assert.Throws<InvalidRequestException>(() => Parse("""{"request_id":"from-body","slide":"a"}""", "from-amqp"));

        Assert.Equal("from-amqp", unreadable.RequestId);
        Assert.Equal("from-body", missing.RequestId);
        Assert.Null(Assert.Throws<InvalidRequestException>(() => Parse("{}")).RequestId);
    }
}
