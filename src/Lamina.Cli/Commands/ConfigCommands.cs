using Lamina.Cli.Rendering;
using Lamina.Tracking;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Lamina.Cli.Commands;

/// <summary>
/// <c>lamina config show</c>: the stores every command opens (tracking, artifacts, production, the S3 endpoints) and
/// where each value came from, with passwords masked and no credential shown, only where credentials would come from.
/// </summary>
public sealed class ConfigShowCommand : Command<OutputSettings>
{
    public override int Execute(CommandContext context, OutputSettings settings)
    {
        var stores = StoreSettings.Resolve(LaminaHome.Resolve().Root);
        var locations = new[] { ("tracking", stores.Tracking), ("artifacts", stores.Artifacts), ("production", stores.Production) };
        if (settings.Json)
        {
            JsonOutput.Write(new
            {
                home = stores.Home,
                config_file = stores.ConfigFile,
                config_file_exists = File.Exists(stores.ConfigFile),
                stores = locations.ToDictionary(l => l.Item1, l => new
                {
                    variable = l.Item2.Variable,
                    backend = l.Item2.Backend,
                    value = l.Item2.Display,
                    source = l.Item2.Source,
                    s3 = l.Item2.Backend == StoreBackend.S3 ? stores.S3AccessOf(l.Item2) : null,
                }),
                broker = stores.Broker is { } broker
                    ? new { variable = StoreSettings.BrokerVariable, value = Secrets.RedactUris(broker.Value), source = broker.Source }
                    : null,
            });
            return 0;
        }
        AnsiConsole.Console.MarkupLineEscaped($"[grey]Lamina home {stores.Home}; settings file {stores.ConfigFile}{(File.Exists(stores.ConfigFile) ? "" : " (none)")}[/]");
        var table = new Table().AddColumns("store", "backend", "value", "from");
        foreach (var (name, location) in locations)
        {
            table.AddRow(name, location.Backend.ToString().ToLowerInvariant(), Markup.Escape(location.Display), Markup.Escape(From(location.Variable, location.Source)));
            if (location.Backend == StoreBackend.S3)
            {
                var access = stores.S3AccessOf(location);
                table.AddRow("", "", Markup.Escape($"endpoint {access.Endpoint ?? "(AWS)"}"),
                    Markup.Escape(access.EndpointVariable is { } variable && access.EndpointSource is { } source ? From(variable, source) : "default"));
                table.AddRow("", "", Markup.Escape($"credentials from {access.Credentials}"), "");
            }
        }
        table.AddRow("broker", stores.Broker is null ? "none" : "rabbitmq",
            Markup.Escape(stores.Broker is { } b ? Secrets.RedactUris(b.Value) : "(remote runs need LAMINA_BROKER=amqp://…)"),
            stores.Broker is { } set ? Markup.Escape(From(StoreSettings.BrokerVariable, set.Source)) : "");
        AnsiConsole.Write(table);
        return 0;
    }

    private static string From(string variable, SettingSource source) =>
        source == SettingSource.Environment ? $"environment ({variable})" : source.ToString();
}
