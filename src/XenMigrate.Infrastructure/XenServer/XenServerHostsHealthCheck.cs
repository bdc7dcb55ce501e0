using Microsoft.Extensions.Diagnostics.HealthChecks;
using XenMigrate.Infrastructure.Xapi;

namespace XenMigrate.Infrastructure.XenServer;

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
