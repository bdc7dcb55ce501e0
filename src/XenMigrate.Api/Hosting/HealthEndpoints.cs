using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using XenMigrate.Infrastructure.Persistence;
using XenMigrate.Infrastructure.Workflow;
using XenMigrate.Infrastructure.Xapi;

namespace XenMigrate.Api.Hosting;

/// <summary>
/// Health, the same on every role: <c>/healthz</c> is liveness (the process answers: no
/// dependency is checked, so a database outage does not get every gateway restarted) and
/// <c>/healthz/ready</c> is readiness: the database answers and at least one XenServer host
/// accepts a login. Readiness reports each check, and each host, in JSON: 200 when
/// <c>Healthy</c> or <c>Degraded</c> (some hosts down, or none configured), 503 when <c>Unhealthy</c>.
/// Both are anonymous and name nothing but host names and states.
/// </summary>
public static class HealthEndpoints
{
    public const string LivenessPath = "/healthz";
    public const string ReadinessPath = "/healthz/ready";
    private const string ReadyTag = "ready";

    public static void AddXenMigrateHealthChecks(this IServiceCollection services) =>
        services.AddHealthChecks()
            .AddDbContextCheck<XenMigrateDbContext>("database", tags: [ReadyTag])
            .AddCheck<XenServerHostsHealthCheck>("xenserver", tags: [ReadyTag]);

    public static void MapXenMigrateHealth(this WebApplication app)
    {
        string[] methods = ["GET", "HEAD"];
        app.MapHealthChecks(LivenessPath, new HealthCheckOptions { Predicate = _ => false })
            .WithMetadata(new HttpMethodMetadata(methods));
        app.MapHealthChecks(ReadinessPath, new HealthCheckOptions { Predicate = c => c.Tags.Contains(ReadyTag), ResponseWriter = WriteJsonAsync })
            .WithMetadata(new HttpMethodMetadata(methods));
    }

    private static Task WriteJsonAsync(HttpContext context, HealthReport report)
    {
        var checks = new JsonObject();
        foreach (var (name, entry) in report.Entries)
        {
            var check = new JsonObject { ["status"] = entry.Status.ToString() };
            if (entry.Description is not null) check["description"] = entry.Description;
            if (entry.Data.TryGetValue(XenServerHostsHealthCheck.HostsKey, out var hosts) && hosts is IReadOnlyDictionary<string, string> states)
                check["hosts"] = new JsonObject(states.Select(p => KeyValuePair.Create(p.Key, (JsonNode?)p.Value)));
            checks[name] = check;
        }

        var body = new JsonObject
        {
            ["status"] = report.Status.ToString(),
            ["duration_ms"] = Math.Round(report.TotalDuration.TotalMilliseconds, 1),
            ["checks"] = checks,
        };
        context.Response.ContentType = "application/json";
        return context.Response.WriteAsync(body.ToJsonString(new JsonSerializerOptions { WriteIndented = false }), context.RequestAborted);
    }
}

/// <summary>
/// Logs in to every configured host at once (each bounded by <see cref="ProbeTimeout"/>): healthy when
/// all answer, degraded when some do (migrations go to the others) or none is configured,
/// unhealthy when none does.
/// </summary>
public sealed class XenServerHostsHealthCheck(XenServerHosts hosts, IOptions<XenServerOptions> options) : IHealthCheck
{
    public const string HostsKey = "hosts";
    public static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(5);

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var configured = await hosts.AllAsync(cancellationToken);
        if (configured.Count == 0) return HealthCheckResult.Degraded("No XenServer hosts are configured.");

        var probes = configured.Select(async h => (h.Name, Up: await ProbeAsync(h, cancellationToken))).ToList();
        var results = await Task.WhenAll(probes);
        var states = results.ToDictionary(r => r.Name, r => r.Up ? "up" : "down", StringComparer.Ordinal);
        var data = new Dictionary<string, object> { [HostsKey] = (IReadOnlyDictionary<string, string>)states };
        var up = results.Count(r => r.Up);
        if (up == results.Length) return HealthCheckResult.Healthy($"{up} of {results.Length} hosts up.", data);
        if (up > 0) return HealthCheckResult.Degraded($"{up} of {results.Length} hosts up.", data: data);
        return HealthCheckResult.Unhealthy($"None of {results.Length} hosts answers.", data: data);
    }

    private async Task<bool> ProbeAsync(XapiHostOptions host, CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(ProbeTimeout);
        try
        {
            await using var session = await XapiSession.OpenAsync(host, TimeSpan.FromTicks(Math.Min(ProbeTimeout.Ticks, options.Value.CallTimeout.Ticks)), timeout.Token);
            return true;
        }
        catch (Exception e) when (e is XapiException or XapiTransportException or TimeoutException or OperationCanceledException or HttpRequestException
                                      && !ct.IsCancellationRequested)
        {
            return false;
        }
    }
}
