using System.Globalization;
using Lamina.Serve.Contracts;
using Microsoft.Extensions.Configuration;

namespace Lamina.Serve;

/// <summary>
/// The service's settings, from (later wins) <c>appsettings.json</c> beside the executable (section <c>Serve</c>),
/// environment variables <c>LAMINA_SERVE_*</c> (<c>LAMINA_SERVE_BUNDLE</c>, <c>LAMINA_SERVE_CONCURRENCY</c>…; and
/// <c>LAMINA_BROKER</c> for the broker, as the lab's workers read it), and the command line (<c>--bundle DIR</c>…).
/// </summary>
public sealed class ServeOptions
{
    /// <summary>The command-line options and the settings they set.</summary>
    public static IReadOnlyDictionary<string, string> Switches { get; } = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["--bundle"] = "Serve:Bundle",
        ["--config"] = "Serve:Config",
        ["--broker"] = "Serve:Broker",
        ["--queue"] = "Serve:Queue",
        ["--concurrency"] = "Serve:Concurrency",
        ["--grace"] = "Serve:Grace",
        ["--lease"] = "Serve:Lease",
        ["--attempts"] = "Serve:Attempts",
        ["--scratch"] = "Serve:Scratch",
        ["--instance"] = "Serve:Instance",
        ["--provider"] = "Serve:Provider",
        ["--http"] = "Serve:Http",
        ["--image-digest"] = "Serve:ImageDigest",
        ["--log-format"] = "Serve:LogFormat",
    };

    /// <summary>A bundle folder (verified whole at start), or null when <see cref="Config"/> is given.</summary>
    public string? Bundle { get; set; }

    /// <summary>A resolved analysis file outside a bundle (models as package folders), or null.</summary>
    public string? Config { get; set; }

    /// <summary>The broker's <c>amqp://</c> URI (default <c>LAMINA_BROKER</c>, else a broker on this machine).</summary>
    public string Broker { get; set; } = "amqp://guest:guest@localhost:5672/";

    /// <summary>The request queue.</summary>
    public string Queue { get; set; } = ServeTopology.DefaultQueue;

    /// <summary>Analyses at a time (each runs its tiles in parallel).</summary>
    public int Concurrency { get; set; } = 1;

    /// <summary>Seconds a stopping service lets its current analyses finish before returning them to the queue.</summary>
    public double Grace { get; set; } = 30;

    /// <summary>
    /// Seconds a request taken by this service is held for it: renewed every third of it while the analysis runs, and
    /// back on the request queue that long after the service dies.
    /// </summary>
    public double Lease { get; set; } = 60;

    /// <summary>Services that may take a request and stop before answering it (killed, crashed) before it fails as <c>gave_up</c>.</summary>
    public int Attempts { get; set; } = 5;

    /// <summary>Where <c>s3://</c> slides are fetched to (default a folder under the system's temporary folder).</summary>
    public string? Scratch { get; set; }

    /// <summary>This instance's name in events, logs and its queues (default host-pid-random).</summary>
    public string? Instance { get; set; }

    /// <summary>cpu or cuda.</summary>
    public string Provider { get; set; } = "cpu";

    /// <summary>Where the health and metrics endpoints listen (default <c>http://127.0.0.1:8080</c>); empty for none.</summary>
    public string Http { get; set; } = "http://127.0.0.1:8080";

    /// <summary>The digest of the image the service runs in, recorded in reports and events.</summary>
    public string? ImageDigest { get; set; }

    /// <summary>Reads the settings and checks them.</summary>
    /// <exception cref="ServeException">A setting is missing or wrong: the message names it.</exception>
    public static ServeOptions From(IConfiguration configuration)
    {
        var options = new ServeOptions();
        var section = configuration.GetSection("Serve");
        options.Bundle = Text(section, "Bundle");
        options.Config = Text(section, "Config");
        options.Broker = Text(section, "Broker") ?? (Environment.GetEnvironmentVariable("LAMINA_BROKER") is { Length: > 0 } broker ? broker.Trim() : options.Broker);
        options.Queue = Text(section, "Queue") ?? options.Queue;
        options.Concurrency = (int)Number(section, "Concurrency", options.Concurrency, 1, 256);
        options.Grace = Number(section, "Grace", options.Grace, 0, 86_400);
        options.Lease = Number(section, "Lease", options.Lease, 1, 86_400);
        options.Attempts = (int)Number(section, "Attempts", options.Attempts, 1, 1000);
        options.Scratch = Text(section, "Scratch");
        options.Instance = Text(section, "Instance");
        options.Provider = Text(section, "Provider") ?? options.Provider;
        options.Http = section["Http"]?.Trim() ?? options.Http;
        options.ImageDigest = Text(section, "ImageDigest");
        if (options.Bundle is null == (options.Config is null))
        {
            throw new ServeException("give what to serve: --bundle DIR (a bundle, verified at start) or --config resolved.yaml, not both");
        }
        if (options.Provider is not ("cpu" or "cuda")) throw new ServeException($"--provider must be cpu or cuda, not '{options.Provider}'");
        if (options.Instance is { } name && (name.Length > 100 || name.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))))
        {
            throw new ServeException($"--instance '{name}': use at most 100 letters, digits, '-', '_' or '.'");
        }
        return options;
    }

    /// <summary>The configuration of the command line, environment and <c>appsettings.json</c>.</summary>
    public static IConfigurationRoot Configuration(string[] args, string? baseDirectory = null)
    {
        var environment = Environment.GetEnvironmentVariables().Cast<System.Collections.DictionaryEntry>()
            .Select(e => (Key: (string)e.Key, Value: (string?)e.Value))
            .Where(e => e.Key.StartsWith("LAMINA_SERVE_", StringComparison.Ordinal))
            .ToDictionary(e => "Serve:" + e.Key["LAMINA_SERVE_".Length..].Replace("_", "", StringComparison.Ordinal), e => e.Value, StringComparer.OrdinalIgnoreCase);
        return new ConfigurationBuilder()
            .SetBasePath(baseDirectory ?? AppContext.BaseDirectory)
            .AddJsonFile("appsettings.json", optional: true)
            .AddInMemoryCollection(environment)
            .AddCommandLine(args, Switches.ToDictionary())
            .Build();
    }

    private static string? Text(IConfigurationSection section, string key) => section[key] is { } value && value.Trim().Length > 0 ? value.Trim() : null;

    private static double Number(IConfigurationSection section, string key, double fallback, double min, double max)
    {
        if (Text(section, key) is not { } text) return fallback;
        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || value < min || value > max || double.IsNaN(value))
        {
            throw new ServeException($"--{key.ToLowerInvariant()} must be a number from {min.ToString(CultureInfo.InvariantCulture)} to {max.ToString(CultureInfo.InvariantCulture)}, not '{text}'");
        }
        return value;
    }
}

/// <summary>The service cannot start or go on: a setting, the bundle, or the broker; the message names what.</summary>
public sealed class ServeException : Lamina.Core.LaminaException
{
    public ServeException(string message, Exception? inner = null) : base(message, inner) => Kind = Lamina.Core.LaminaErrorKind.Usage;
}
