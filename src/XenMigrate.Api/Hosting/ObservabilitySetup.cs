using System.Net;
using OpenTelemetry;
using OpenTelemetry.Logs;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using XenMigrate.Api.Nova.Faults;
using XenMigrate.Infrastructure.Telemetry;

namespace XenMigrate.Api.Hosting;

/// <summary>Configuration section <c>Telemetry</c>.</summary>
public sealed class TelemetryOptions
{
    public const string Section = "Telemetry";

    /// <summary>
    /// Networks (CIDR, e.g. <c>10.0.0.0/8</c>) besides loopback whose callers may scrape
    /// <see cref="ObservabilitySetup.MetricsPath"/>; it is anonymous, so it is not open to everyone by default.
    /// </summary>
    public List<string> MetricsAllowedNetworks { get; set; } = [];
}

/// <summary>
/// OpenTelemetry for the gateway: traces of HTTP in (the API) and out (XAPI calls and disk
/// streams) plus the workflow's own step spans, metrics (ours from <see cref="XenMigrateTelemetry"/>,
/// ASP.NET Core's and HttpClient's), a Prometheus scrape endpoint, and OTLP export of all three
/// signals when <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set (the other <c>OTEL_*</c> settings,
/// e.g. <c>OTEL_SERVICE_NAME</c>, <c>OTEL_EXPORTER_OTLP_PROTOCOL</c>, apply as the SDK defines them).
/// </summary>
public static class ObservabilitySetup
{
    public const string MetricsPath = "/metrics";
    public const string ServiceName = "xenmigrate";

    public static void AddXenMigrateObservability(this WebApplicationBuilder builder)
    {
        var otlp = !string.IsNullOrWhiteSpace(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]);
        var role = builder.Configuration["Gateway:Role"] ?? "All";
        builder.Services.AddOptions<TelemetryOptions>().Bind(builder.Configuration.GetSection(TelemetryOptions.Section));

        var telemetry = builder.Services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService(ServiceName, serviceVersion: typeof(ObservabilitySetup).Assembly.GetName().Version?.ToString())
                .AddAttributes([new("xenmigrate.role", role)]))
            .WithTracing(t => t
                .AddSource(XenMigrateTelemetry.Name)
                // Health probes and scrapes would drown the traces that matter.
                .AddAspNetCoreInstrumentation(o => o.Filter = c => !IsProbe(c.Request.Path))
                .AddHttpClientInstrumentation())
            .WithMetrics(m => m
                .AddMeter(XenMigrateTelemetry.Name)
                .AddAspNetCoreInstrumentation()
                .AddHttpClientInstrumentation()
                .AddView(XenMigrateTelemetry.MigrationDurationName, new ExplicitBucketHistogramConfiguration
                {
                    Boundaries = [1, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200],
                })
                .AddView(XenMigrateTelemetry.DowntimeName, new ExplicitBucketHistogramConfiguration
                {
                    Boundaries = [0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300],
                })
                .AddPrometheusExporter());
        if (otlp)
        {
            builder.Logging.AddOpenTelemetry(l =>
            {
                l.IncludeScopes = true; // the request id travels as a scope
                l.IncludeFormattedMessage = true;
            });
            telemetry.UseOtlpExporter(); // reads OTEL_EXPORTER_OTLP_* for every signal
        }
    }

    /// <summary>
    /// <c>GET /metrics</c> in Prometheus' text format, on every role (the worker's jobs record the
    /// migration metrics). Anonymous, so only loopback callers and the configured networks get it;
    /// anyone else sees a 404, as for a route that does not exist.
    /// </summary>
    public static void MapXenMigrateMetrics(this WebApplication app)
    {
        var options = app.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<TelemetryOptions>>().Value;
        var allowed = options.MetricsAllowedNetworks.Select(n => IPNetwork.Parse(n.Trim())).ToList();
        app.Use(async (context, next) =>
        {
            if (context.Request.Path.Equals(MetricsPath, StringComparison.OrdinalIgnoreCase) && !MayScrape(context.Connection.RemoteIpAddress, allowed))
            {
                await FaultWriter.WriteAsync(context, StatusCodes.Status404NotFound, NovaMessages.ResourceNotFound);
                return;
            }

            await next(context);
        });
        app.MapPrometheusScrapingEndpoint(MetricsPath).WithMetadata(new HttpMethodMetadata(["GET"]));
    }

    internal static bool MayScrape(IPAddress? remote, IReadOnlyList<IPNetwork> allowed)
    {
        if (remote is null) return false;
        if (remote.IsIPv4MappedToIPv6) remote = remote.MapToIPv4();
        return IPAddress.IsLoopback(remote) || allowed.Any(n => n.Contains(remote));
    }

    private static bool IsProbe(PathString path) =>
        path.StartsWithSegments(HealthEndpoints.LivenessPath, StringComparison.OrdinalIgnoreCase)
        || path.StartsWithSegments(MetricsPath, StringComparison.OrdinalIgnoreCase);
}
