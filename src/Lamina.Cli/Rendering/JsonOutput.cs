using System.Text.Json;
using Lamina.Core;

namespace Lamina.Cli.Rendering;

/// <summary>
/// Machine-readable output for <c>--json</c>: written straight to stdout, never wrapped or coloured, in Lamina's one
/// JSON convention (<see cref="LaminaJson"/>: snake_case keys).
/// </summary>
internal static class JsonOutput
{
    public static void Write<T>(T value)
    {
        Console.Out.WriteLine(JsonSerializer.Serialize(value, LaminaJson.Indented));
        Console.Out.Flush();
    }
}
