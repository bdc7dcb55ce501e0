using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using XenMigrate.Infrastructure.Persistence;
using XenMigrate.Infrastructure.Xapi;
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

/// <summary>
/// Asks every configured pool at once (each bounded by <see cref="ProbeTimeout"/>) through its
/// session: healthy when every host answers, degraded when some do (migrations go to the others)
/// or none is configured, unhealthy when none does. A member XenServer no longer sees as live is down.
/// </summary>
public sealed class XenServerHostsHealthCheck(XenServerPools pools) : IHealthCheck
{
    public const string HostsKey = "hosts";
    public static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(5);

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var connections = await pools.ConnectionsAsync(cancellationToken);
        if (connections.Count == 0) return HealthCheckResult.Degraded("No XenServer hosts are configured.");

        var results = (await Task.WhenAll(connections.Select(c => ProbeAsync(c, cancellationToken)))).SelectMany(r => r).ToList();
        var states = results.ToDictionary(r => r.Name, r => r.Up ? "up" : "down", StringComparer.Ordinal);
        var data = new Dictionary<string, object> { [HostsKey] = (IReadOnlyDictionary<string, string>)states };
        var up = results.Count(r => r.Up);
        if (up == results.Count) return HealthCheckResult.Healthy($"{up} of {results.Count} hosts up.", data);
        if (up > 0) return HealthCheckResult.Degraded($"{up} of {results.Count} hosts up.", data: data);
        return HealthCheckResult.Unhealthy($"None of {results.Count} hosts answers.", data: data);
    }

    private async Task<IReadOnlyList<(string Name, bool Up)>> ProbeAsync(XapiPoolConnection connection, CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(ProbeTimeout);
        try
        {
            var pool = await pools.RefreshAsync(connection, timeout.Token);
            return pool.Members.Select(m => (m.ComputeName, m.Live)).ToList();
        }
        catch (Exception e) when (e is XapiException or XapiTransportException or TimeoutException or OperationCanceledException or HttpRequestException
                                      && !ct.IsCancellationRequested)
        {
            var known = (await pools.TopologiesAsync(CancellationToken.None)).FirstOrDefault(p => ReferenceEquals(p.Connection, connection));
            return known is null ? [(connection.Endpoint.Name, false)] : known.Members.Select(m => (m.ComputeName, false)).ToList();
        }
    }
}
