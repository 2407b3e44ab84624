using System.Text;

namespace Lamina.Core.Config;

/// <summary>How CLR names and types appear in configuration files and their messages.</summary>
internal static class Naming
{
    /// <summary><c>nLayers</c> → <c>n_layers</c>, <c>HTTPPort</c> → <c>http_port</c>, <c>tile2D</c> → <c>tile2d</c>.</summary>
    public static string SnakeCase(string name)
    {
        var builder = new StringBuilder(name.Length + 4);
        for (var i = 0; i < name.Length; i++)
        {
            var c = name[i];
            if (char.IsUpper(c))
            {
                var previous = i > 0 ? name[i - 1] : '\0';
                var next = i + 1 < name.Length ? name[i + 1] : '\0';
                var startsWord = char.IsLower(previous) || ((char.IsDigit(previous) || char.IsUpper(previous)) && char.IsLower(next));
                if (i > 0 && startsWord && previous != '_')
                {
                    builder.Append('_');
                }
                builder.Append(char.ToLowerInvariant(c));
            }
            else
            {
                builder.Append(c);
            }
        }
        return builder.ToString();
    }

    /// <summary>Compares names the way users may write enum values: case and underscores ignored.</summary>
    public static string Loose(string name) => name.Replace("_", "", StringComparison.Ordinal).ToLowerInvariant();

    /// <summary>A C#-style name for messages: <c>float</c>, <c>int?</c>, <c>IReadOnlyList&lt;string&gt;</c>.</summary>
    public static string Display(Type type)
    {
        if (Nullable.GetUnderlyingType(type) is { } underlying)
        {
            return Display(underlying) + "?";
        }
        if (type.IsArray)
        {
            return Display(type.GetElementType()!) + "[]";
        }
        if (type.IsByRef)
        {
            return "ref " + Display(type.GetElementType()!);
        }
        if (Keywords.TryGetValue(type, out var keyword))
        {
            return keyword;
        }
        if (type.IsGenericType)
        {
            var name = type.Name;
            var tick = name.IndexOf('`', StringComparison.Ordinal);
            if (tick >= 0)
            {
                name = name[..tick];
            }
            return $"{name}<{string.Join(", ", type.GetGenericArguments().Select(Display))}>";
        }
        return type.Name;
    }

    private static readonly Dictionary<Type, string> Keywords = new()
    {
        [typeof(string)] = "string",
        [typeof(bool)] = "bool",
        [typeof(sbyte)] = "sbyte",
        [typeof(byte)] = "byte",
        [typeof(short)] = "short",
        [typeof(ushort)] = "ushort",
        [typeof(int)] = "int",
        [typeof(uint)] = "uint",
        [typeof(long)] = "long",
        [typeof(ulong)] = "ulong",
        [typeof(float)] = "float",
        [typeof(double)] = "double",
        [typeof(decimal)] = "decimal",
        [typeof(object)] = "object",
    };
}
