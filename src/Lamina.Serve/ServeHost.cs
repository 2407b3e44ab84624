using System.Text.Json;
using Lamina.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Lamina.Serve;

/// <summary>
/// The analysis service's host (.NET Generic Host with ASP.NET Core for its endpoints): <c>lamina-serve</c> and
/// <c>lamina serve</c> run it. Settings come from <see cref="ServeOptions"/>; logs are structured (<c>--log-format
/// json</c> for one JSON object per line); SIGTERM or Ctrl+C stop it gracefully.
/// </summary>
public static class ServeHost
{
    /// <summary>Runs the service until it is stopped; returns the process exit code (0 after a graceful stop).</summary>
    public static async Task<int> RunAsync(string[] args)
    {
        ArgumentNullException.ThrowIfNull(args);
        if (args.Any(a => a is "-h" or "--help"))
        {
            Console.Out.WriteLine(Usage);
            return 0;
        }
        ServeOptions options;
        var configuration = ServeOptions.Configuration(args);
        try
        {
            var unknown = args.Where(a => a.StartsWith("--", StringComparison.Ordinal) && !ServeOptions.Switches.ContainsKey(a.Split('=')[0])).ToList();
            if (unknown.Count > 0) throw new ServeException($"unknown option {unknown[0]}; lamina-serve --help lists them");
            options = ServeOptions.From(configuration);
        }
        catch (ServeException e)
        {
            await Console.Error.WriteLineAsync($"error: {e.Message}").ConfigureAwait(false);
            return 2;
        }

        var instance = options.Instance ?? $"{Environment.MachineName}-{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..6]}";
        var state = new ServeState(instance);
        if (options.Http.Length == 0)
        {
            // No endpoints: a plain host, no web server listening anywhere.
            var plain = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { ContentRootPath = AppContext.BaseDirectory, Args = [] });
            Configure(plain.Configuration, plain.Logging, plain.Services, configuration, options, state);
            using var host = plain.Build();
            await host.RunAsync().ConfigureAwait(false);
            return state.ExitCode;
        }
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ContentRootPath = AppContext.BaseDirectory, Args = [] });
        Configure(builder.Configuration, builder.Logging, builder.Services, configuration, options, state);
        builder.WebHost.UseUrls(options.Http);
        await using var app = builder.Build();
        app.MapGet("/health/live", () => Results.Text("live\n"));
        app.MapGet("/health/ready", () => Results.Json(new { status = state.Status, instance = state.Instance, in_flight = state.Metrics.InFlight },
            JsonOptions, statusCode: state.IsReady ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable));
        app.MapGet("/metrics", () => Results.Text(state.Metrics.Render(state.IsReady), "text/plain; version=0.0.4; charset=utf-8"));
        try
        {
            await app.RunAsync().ConfigureAwait(false);
        }
        catch (IOException e)
        {
            // Kestrel cannot listen (the port is taken): nothing was served.
            await Console.Error.WriteLineAsync($"error: cannot listen on {options.Http}: {e.Message}").ConfigureAwait(false);
            return 7;
        }
        return state.ExitCode;
    }

    private static void Configure(ConfigurationManager target, ILoggingBuilder logging, IServiceCollection services, IConfigurationRoot configuration,
        ServeOptions options, ServeState state)
    {
        target.AddConfiguration(configuration);
        logging.ClearProviders();
        if (string.Equals(configuration["Serve:LogFormat"], "json", StringComparison.OrdinalIgnoreCase))
        {
            logging.AddJsonConsole(o => o.IncludeScopes = true);
        }
        else
        {
            logging.AddSimpleConsole(o =>
            {
                o.SingleLine = true;
                o.IncludeScopes = false;
                o.TimestampFormat = "yyyy-MM-dd HH:mm:ss.fff ";
                o.UseUtcTimestamp = true;
            });
        }
        logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        logging.AddFilter("Microsoft.Hosting.Lifetime", LogLevel.Warning);
        services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(options.Grace + 30));
        services.AddSingleton(options);
        services.AddSingleton(state);
        services.AddHostedService<ServeWorker>();
    }

    private static readonly JsonSerializerOptions JsonOptions = LaminaJson.Options;

    private const string Usage = """
        lamina-serve: analyses slides from RabbitMQ requests with a verified bundle (docs/serve.md).

        usage: lamina-serve --bundle DIR | --config resolved.yaml [options]

          --bundle DIR           a bundle, verified whole at start (a tampered or missing file stops the service)
          --config FILE          a resolved analysis file outside a bundle
          --broker URI           amqp://user:password@host:port/vhost (default LAMINA_BROKER, else localhost)
          --queue NAME           the request queue (default lamina.analyses)
          --concurrency N        analyses at a time (default 1; each runs its tiles in parallel)
          --grace SECONDS        on SIGTERM, how long running analyses may finish before they go back (default 30)
          --lease SECONDS        how long a taken request is held for this service (default 60)
          --attempts N           services a request may outlive before it fails as gave_up (default 5)
          --scratch DIR          where s3:// slides are fetched (default the temporary folder)
          --instance NAME        this service's name in events, logs and its hold queues
          --provider cpu|cuda    where ONNX Runtime runs (default cpu)
          --http URL             health and metrics endpoints (default http://127.0.0.1:8080; empty for none)
          --image-digest DIGEST  the image's digest, recorded in reports and events
          --log-format text|json structured logs as text lines or JSON objects

        Every option may also be set as LAMINA_SERVE_<NAME> (LAMINA_SERVE_IMAGE_DIGEST) or in appsettings.json, section Serve.
        """;
}
