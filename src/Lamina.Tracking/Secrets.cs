using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Lamina.Tracking;

/// <summary>
/// Keeps secrets out of everything Lamina records, shows or exports: passwords and tokens in URIs (a git remote, a
/// connection string) and the values of configuration keys whose names say password, token, secret or key.
/// Every recording point (git capture, the effective configuration of a run) goes through here.
/// </summary>
public static partial class Secrets
{
    /// <summary>What a secret is replaced with.</summary>
    public const string Mask = "***";

    // Whole name segments that are secrets ("key" in access_key, "pwd" in db_pwd).
    private static readonly HashSet<string> SecretSegments = new(StringComparer.OrdinalIgnoreCase)
    {
        "key", "keys", "apikey", "accesskey", "secretkey", "privatekey", "pwd", "passwd", "token", "tokens",
    };

    // Words that make any segment holding them a secret ("dbpassword", "apitoken", "secrets").
    private static readonly string[] SecretWords = ["password", "passphrase", "secret", "credential"];

    /// <summary>
    /// Whether a configuration key's name says it holds a secret: a segment of it (split on <c>_</c>, <c>-</c>, <c>.</c>
    /// and camelCase) is key, token, pwd, passwd, apikey… or holds password, passphrase, secret or credential.
    /// <c>api_token</c>, <c>dbPassword</c>, <c>secret</c>, <c>access_key</c>, <c>apikey</c> are; <c>monkey</c> is not.
    /// </summary>
    public static bool IsSecretName(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        foreach (var segment in Segments(name))
        {
            if (SecretSegments.Contains(segment) || segment.EndsWith("token", StringComparison.OrdinalIgnoreCase)
                || SecretWords.Any(w => segment.Contains(w, StringComparison.OrdinalIgnoreCase)))
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>The segments of a name: <c>dbPassword</c> → db, Password; <c>APIKey</c> → API, Key; <c>api_token</c> → api, token.</summary>
    internal static IEnumerable<string> Segments(string name)
    {
        var current = new StringBuilder();
        for (var i = 0; i < name.Length; i++)
        {
            var c = name[i];
            if (c is '_' or '-' or '.' or ' ')
            {
                if (current.Length > 0) yield return current.ToString();
                current.Clear();
                continue;
            }
            var boundary = char.IsUpper(c) && current.Length > 0
                && (char.IsLower(name[i - 1]) || char.IsDigit(name[i - 1]) || (i + 1 < name.Length && char.IsLower(name[i + 1])));
            if (boundary)
            {
                yield return current.ToString();
                current.Clear();
            }
            current.Append(c);
        }
        if (current.Length > 0) yield return current.ToString();
    }

    /// <summary>
    /// The text with the credentials of every URI in it masked: <c>https://alice:tok@host/x</c> →
    /// <c>https://alice:***@host/x</c>, <c>postgresql://u:pw@db/lamina</c> → <c>postgresql://u:***@db/lamina</c>; an
    /// http(s) URI whose user alone is given (a token as user name, <c>https://ghp_x@github.com</c>) has it masked;
    /// a plain user (<c>ssh://git@host</c>) is kept.
    /// </summary>
    public static string RedactUris(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var separator = text.IndexOf("://", StringComparison.Ordinal);
        if (separator < 0)
        {
            return text;
        }
        var result = new StringBuilder(text.Length);
        var done = 0;
        while (separator >= 0)
        {
            var authorityStart = separator + 3;
            var authorityEnd = authorityStart;
            while (authorityEnd < text.Length && !IsAuthorityEnd(text[authorityEnd])) authorityEnd++;
            var at = text.LastIndexOf('@', authorityEnd - 1, authorityEnd - authorityStart);
            if (authorityEnd > authorityStart && at >= authorityStart)
            {
                var schemeStart = separator;
                while (schemeStart > 0 && (char.IsAsciiLetterOrDigit(text[schemeStart - 1]) || text[schemeStart - 1] is '+' or '.' or '-')) schemeStart--;
                var scheme = text[schemeStart..separator];
                var userInfo = text[authorityStart..at];
                var colon = userInfo.IndexOf(':', StringComparison.Ordinal);
                var masked = colon >= 0
                    ? $"{userInfo[..colon]}:{Mask}"
                    : IsWeb(scheme) && userInfo.Length > 0 ? Mask : userInfo;
                result.Append(text, done, authorityStart - done).Append(masked);
                done = at;
            }
            separator = authorityEnd < text.Length ? text.IndexOf("://", authorityEnd, StringComparison.Ordinal) : -1;
        }
        result.Append(text, done, text.Length - done);
        return result.ToString();
    }

    private static bool IsAuthorityEnd(char c) => c is '/' or '?' or '#' or '"' or '\'' or '<' or '>' or '`' || char.IsWhiteSpace(c);

    private static bool IsWeb(string scheme) =>
        scheme.EndsWith("http", StringComparison.OrdinalIgnoreCase) || scheme.EndsWith("https", StringComparison.OrdinalIgnoreCase);

    /// <summary>Whether the text holds a URI with credentials that <see cref="RedactUris"/> would mask.</summary>
    public static bool HasUriCredentials(string text) => !string.Equals(RedactUris(text), text, StringComparison.Ordinal);

    /// <summary>
    /// A copy of a plain configuration tree (dictionaries, lists, scalars, as <c>ConfigNode.ToPlain</c> gives) with the
    /// value of every key whose name is a secret (<see cref="IsSecretName"/>) replaced by <see cref="Mask"/> (every value
    /// of a list or mapping under one too: <c>credentials: {user: a, pass: b}</c>), and the credentials of URIs in every
    /// other string masked.
    /// </summary>
    public static object? RedactConfiguration(object? plain) => Redact(plain, secret: false);

    private static object? Redact(object? value, bool secret) => value switch
    {
        null => null,
        IDictionary<string, object?> mapping => mapping.ToDictionary(e => e.Key, e => Redact(e.Value, secret || IsSecretName(e.Key)), StringComparer.Ordinal),
        string text => secret ? Mask : RedactUris(text),
        System.Collections.IEnumerable list => list.Cast<object?>().Select(item => Redact(item, secret)).ToList(),
        _ => secret ? Mask : value,
    };

    /// <summary>
    /// A git patch with the secrets of the named files masked in every line shown of them (added, removed, context):
    /// the values of secret keys (<c>api_token: x</c>, <c>{password: x}</c>) become <c>"***"</c> and URI credentials
    /// are masked. Such a file's part no longer applies: it is a configuration file, whose recorded effective
    /// configuration is what a run executes, and is left out when the patch is applied.
    /// </summary>
    /// <param name="paths">The files, relative to the repository root, with <c>/</c>.</param>
    public static byte[] RedactPatch(byte[] patch, IReadOnlyCollection<string> paths)
    {
        ArgumentNullException.ThrowIfNull(patch);
        ArgumentNullException.ThrowIfNull(paths);
        if (paths.Count == 0 || patch.Length == 0)
        {
            return patch;
        }
        // Latin-1 maps every byte to one char and back, so the parts not masked stay byte for byte (binary hunks too).
        var lines = Encoding.Latin1.GetString(patch).Split('\n');
        var inFile = false;
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i];
            if (line.StartsWith("diff --git a/", StringComparison.Ordinal))
            {
                inFile = PatchPath(line) is { } path && paths.Contains(path);
                continue;
            }
            if (inFile && line.Length > 0 && line[0] is ' ' or '+' or '-' or '@' && !line.StartsWith("+++ ", StringComparison.Ordinal)
                && !line.StartsWith("--- ", StringComparison.Ordinal))
            {
                var text = Encoding.UTF8.GetString(Encoding.Latin1.GetBytes(line));
                var masked = RedactLine(text);
                if (!string.Equals(masked, text, StringComparison.Ordinal))
                {
                    lines[i] = Encoding.Latin1.GetString(Encoding.UTF8.GetBytes(masked));
                }
            }
        }
        return Encoding.Latin1.GetBytes(string.Join('\n', lines));
    }

    /// <summary>
    /// The text of a YAML (or JSON) configuration file with the values of secret keys written on one line
    /// (<c>api_token: x</c>, <c>{password: x}</c>, <c>"secret": "x"</c>) replaced by <c>"***"</c> and URI credentials
    /// masked: what is kept of an experiment file.
    /// </summary>
    public static string RedactConfigurationText(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return string.Join('\n', text.Split('\n').Select(RedactLine));
    }

    private static string RedactLine(string line) =>
        RedactUris(KeyValue().Replace(line, m => IsSecretName(m.Groups["key"].Value.Trim('"', '\''))
            ? $"{m.Groups["key"].Value}{m.Groups["sep"].Value}\"{Mask}\""
            : m.Value));

    // "diff --git a/P b/P": both names are the same (renames are off), so P is half of what is left.
    private static string? PatchPath(string header)
    {
        var rest = header["diff --git a/".Length..];
        if ((rest.Length - 3) % 2 != 0 || rest.Length < 5)
        {
            return null;
        }
        var length = (rest.Length - 3) / 2;
        var path = rest[..length];
        return rest[length..] == $" b/{path}" ? Encoding.UTF8.GetString(Encoding.Latin1.GetBytes(path)) : null;
    }

    // A YAML key and its scalar value, in block (key: value) or flow ({key: value, …}) style.
    [GeneratedRegex("""(?<key>[A-Za-z_][A-Za-z0-9_.\-]*|"[^"\n]+"|'[^'\n]+')(?<sep>[ \t]*:[ \t]+)(?<value>"[^"]*"|'[^']*'|[^\s,{}[\]#|>&*!][^,}\]#]*)""")]
    private static partial Regex KeyValue();

    /// <summary>
    /// A recorded JSON configuration with its secrets masked as <see cref="RedactConfiguration"/> masks them: what is
    /// shown or exported of a record, so that one made before secrets were masked shows none either.
    /// </summary>
    public static string RedactConfigurationJson(string configurationJson)
    {
        ArgumentNullException.ThrowIfNull(configurationJson);
        var node = JsonNode.Parse(configurationJson);
        return node is null ? configurationJson : Redact(node, secret: false)?.ToJsonString(IndentedJson) ?? "null";
    }

    private static readonly JsonSerializerOptions IndentedJson = new() { WriteIndented = true };

    private static JsonNode? Redact(JsonNode? node, bool secret) => node switch
    {
        null => null,
        JsonObject mapping => new JsonObject(mapping.Select(e => KeyValuePair.Create(e.Key, Redact(e.Value, secret || IsSecretName(e.Key))))),
        JsonArray list => new JsonArray([.. list.Select(item => Redact(item, secret))]),
        JsonValue when secret => JsonValue.Create(Mask),
        JsonValue value when value.TryGetValue<string>(out var text) => JsonValue.Create(RedactUris(text)),
        _ => node.DeepClone(),
    };

    /// <summary>A git record fit to show or export: its remote's credentials masked.</summary>
    public static GitInfo? Redact(GitInfo? git) => git is { Remote: { } remote } ? git with { Remote = RedactUris(remote) } : git;

    /// <summary>
    /// The key paths (<c>tasks.t.params.api_token</c>, <c>items[0].password</c>, as <c>--set</c> names them) of a
    /// recorded JSON configuration whose value was masked: these must be given again to run the configuration.
    /// </summary>
    public static IReadOnlyList<string> MaskedPaths(string configurationJson)
    {
        ArgumentNullException.ThrowIfNull(configurationJson);
        var paths = new List<string>();
        using var document = JsonDocument.Parse(configurationJson);
        Walk(document.RootElement, "", paths);
        return paths;
    }

    private static void Walk(JsonElement element, string path, List<string> paths)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                foreach (var property in element.EnumerateObject())
                {
                    Walk(property.Value, path.Length == 0 ? property.Name : $"{path}.{property.Name}", paths);
                }
                break;
            case JsonValueKind.Array:
                var index = 0;
                foreach (var item in element.EnumerateArray())
                {
                    Walk(item, $"{path}[{index++}]", paths);
                }
                break;
            case JsonValueKind.String when element.GetString() is { } text
                && (text == Mask || text.Contains($":{Mask}@", StringComparison.Ordinal) || text.Contains($"://{Mask}@", StringComparison.Ordinal)):
                paths.Add(path);
                break;
        }
    }
}
