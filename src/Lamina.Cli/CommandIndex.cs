using System.Reflection;
using Lamina.Core.Config;
using Spectre.Console.Cli;

namespace Lamina.Cli;

/// <summary>
/// Every command's path and options, recorded as the commands are added, so that an unknown option is reported with the
/// command it was given to and the nearest option that command has (<c>--sett</c>: did you mean <c>--set</c>?).
/// </summary>
internal sealed class CommandIndex
{
    private readonly Dictionary<string, IReadOnlyList<string>> _options = new(StringComparer.Ordinal);

    public IReadOnlyCollection<string> Paths => _options.Keys;

    public ICommandConfigurator Add<TCommand>(IConfigurator config, string name)
        where TCommand : class, ICommand
    {
        Record(name, typeof(TCommand));
        return config.AddCommand<TCommand>(name);
    }

    public ICommandConfigurator Add<TCommand>(IConfigurator<CommandSettings> branch, string branchName, string name)
        where TCommand : class, ICommandLimiter<CommandSettings>
    {
        Record($"{branchName} {name}", typeof(TCommand));
        return branch.AddCommand<TCommand>(name);
    }

    private void Record(string path, Type command)
    {
        var settings = SettingsType(command);
        _options[path] = [.. settings.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Select(p => p.GetCustomAttribute<CommandOptionAttribute>())
            .OfType<CommandOptionAttribute>()
            .SelectMany(o => o.LongNames.Select(n => $"--{n}").Concat(o.ShortNames.Select(n => $"-{n}")))
            .Order(StringComparer.Ordinal)];
    }

    private static Type SettingsType(Type command)
    {
        for (var type = command.BaseType; type is not null; type = type.BaseType)
        {
            if (type.IsGenericType) return type.GetGenericArguments()[0];
        }
        throw new InvalidOperationException($"{command.Name} has no settings type");
    }

    /// <summary>The command a command line names (<c>runs list</c>), from its leading words.</summary>
    public string? CommandOf(IReadOnlyList<string> args)
    {
        var words = args.TakeWhile(a => !a.StartsWith('-')).Take(2).ToList();
        for (var count = words.Count; count > 0; count--)
        {
            var path = string.Join(' ', words.Take(count));
            if (_options.ContainsKey(path)) return path;
        }
        return null;
    }

    /// <summary>
    /// The line for an option the command does not take: where another command takes it, that it does not apply here;
    /// otherwise the nearest option of the command, or the list of them.
    /// </summary>
    public string UnknownOption(string option, string? command)
    {
        if (command is null) return $"unknown option '{option}': name a command first ('lamina --help' lists them)";
        var where = $" to 'lamina {command}'";
        var options = _options[command];
        if (_options.Values.Any(o => o.Contains(option, StringComparer.Ordinal)))
        {
            return $"option '{option}' does not apply{where}" + Known(options);
        }
        // A one-letter option is one edit from every other: a suggestion would be a guess.
        return option.Length > 2 && Suggestions.Nearest(option, options.Where(o => o.Length > 2)) is { } near
            ? $"unknown option '{option}'{where}; did you mean '{near}'?"
            : $"unknown option '{option}'{where}" + Known(options);
    }

    /// <summary>The line for a command that does not exist, with the nearest one.</summary>
    public string UnknownCommand(string word, IReadOnlyList<string> args)
    {
        var prefix = args.TakeWhile(a => a != word).Where(a => !a.StartsWith('-')).ToList();
        if (prefix.Count > 0 && _options.ContainsKey(string.Join(' ', prefix)))
        {
            return $"unexpected argument '{word}': 'lamina {string.Join(' ', prefix)}' takes no more arguments";
        }
        var level = prefix.Count == 0 ? "" : string.Join(' ', prefix) + " ";
        var candidates = Paths.Where(p => p.StartsWith(level, StringComparison.Ordinal))
            .Select(p => p[level.Length..].Split(' ')[0]).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        return Suggestions.Nearest(word, candidates) is { } near
            ? $"unknown command 'lamina {level}{word}'; did you mean 'lamina {level}{near}'?"
            : $"unknown command 'lamina {level}{word}' (commands: {string.Join(", ", candidates)})";
    }

    private static string Known(IReadOnlyList<string> options) =>
        options.Count == 0 ? "" : $" (its options: {string.Join(", ", options)})";
}
