using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using Lamina.Core;

namespace Lamina.Cli.Rendering;

/// <summary>
/// Machine-readable output for <c>--json</c>: written straight to stdout, never wrapped or coloured, in Lamina's one
/// JSON convention (<see cref="LaminaJson"/>: snake_case keys). JSON has no NaN or infinities: a metric that is not
/// finite is written as the string <c>"NaN"</c>, <c>"Infinity"</c> or <c>"-Infinity"</c> (README, "Exit codes and errors").
/// </summary>
internal static class JsonOutput
{
    public static readonly JsonSerializerOptions Options = Freeze(new JsonSerializerOptions(LaminaJson.Indented)
    {
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        // Paths and messages as they are ('it', <none>), not \u0027; stdout is not HTML.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    });

    public static void Write<T>(T value)
    {
        Console.Out.WriteLine(JsonSerializer.Serialize(value, Options));
        Console.Out.Flush();
    }

    private static JsonSerializerOptions Freeze(JsonSerializerOptions options)
    {
        options.MakeReadOnly(populateMissingResolver: true);
        return options;
    }
}
