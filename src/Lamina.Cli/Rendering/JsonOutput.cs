using System.Text.Json;
using System.Text.Json.Serialization;

namespace Lamina.Cli.Rendering;

/// <summary>Machine-readable output for <c>--json</c>: written straight to stdout, never wrapped or coloured.</summary>
internal static class JsonOutput
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
    };

    public static void Write<T>(T value)
    {
        Console.Out.WriteLine(JsonSerializer.Serialize(value, Options));
        Console.Out.Flush();
    }
}
