using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using XenMigrate.Infrastructure.Persistence;
using XenMigrate.Infrastructure.XenServer;

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
