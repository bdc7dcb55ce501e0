using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using XenMigrate.Infrastructure.Inventory;
using XenMigrate.Infrastructure.Xapi;

namespace XenMigrate.Infrastructure.XenServer;

/// <summary>A pool member as the gateway sees it: one Nova compute host.</summary>
/// <param name="ComputeName">The Nova compute host name (os-services, OS-EXT-SRV-ATTR:host).</param>
/// <param name="Url">Where the member's own HTTP handlers are (the configured scheme and port, its address).</param>
public sealed record PoolMember(string ComputeName, string HostRef, string HostUuid, string NameLabel, string Address, Uri Url,
    bool IsMaster, bool Live, bool Enabled);

/// <summary>
/// One XenServer pool (a standalone host is a pool of one): its connection, identity and
/// members. Each pool with a name or more than one member is a Nova host aggregate.
/// </summary>
public sealed record PoolTopology(XapiPoolConnection Connection, string PoolRef, string PoolUuid, string PoolName, IReadOnlyList<PoolMember> Members)
{
    public bool IsStandalone => Members.Count == 1;

    /// <summary>A pool shows as an aggregate when it is a real pool: named, or of several hosts.</summary>
    public bool IsAggregate => PoolName.Length > 0 || Members.Count > 1;

    public string AggregateName => PoolName.Length > 0 ? PoolName : Connection.Endpoint.Name;

    public PoolMember? Member(string computeName) => Members.FirstOrDefault(m => m.ComputeName == computeName);

    public PoolMember? MemberByRef(string hostRef) => Members.FirstOrDefault(m => m.HostRef == hostRef);
}

/// <summary>
/// The XenServer pools behind the configured endpoints and the compute hosts they hold: which
/// pool (and so which session) serves a compute host, found again after a fail-over. A member of
/// a pool of several hosts is named by its name_label; a standalone host by its configured name.
/// Topologies are cached and refreshed by the inventory (and on a miss).
/// </summary>
public sealed partial class XenServerPools(
    IXenServerHostSource source,
    IOptions<XenServerOptions> options,
    ILogger<XenServerPools> logger) : IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, XapiPoolConnection> _connections = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<XapiPoolConnection, PoolTopology> _topologies = new();

    /// <summary>One connection per configured endpoint.</summary>
    public async Task<IReadOnlyList<XapiPoolConnection>> ConnectionsAsync(CancellationToken ct)
    {
        var endpoints = await source.GetHostsAsync(ct);
        return endpoints.Select(e => _connections.GetOrAdd($"{e.Name}\n{e.Url}",
            _ => new XapiPoolConnection(e, options.Value.CallTimeout))).ToList();
    }

    /// <summary>Reads the pool, its hosts and their liveness again, and caches them.</summary>
    public async Task<PoolTopology> RefreshAsync(XapiPoolConnection connection, CancellationToken ct)
    {
        var session = await connection.SessionAsync(ct);
        var pool = (await session.CallAsync("pool.get_all_records", ct) as JsonObject ?? []).First();
        var poolRecord = pool.Value!.AsObject();
        var hosts = await session.HostsAsync(ct);
        var metrics = await session.CallAsync("host_metrics.get_all_records", ct) as JsonObject ?? [];
        var master = XapiValues.String(poolRecord["master"]);
        var single = hosts.Count == 1;
        var members = hosts.Values.Select(h => new PoolMember(
                single && connection.Endpoint.Name.Length > 0 ? connection.Endpoint.Name : h.NameLabel,
                h.Ref, h.Uuid, h.NameLabel, h.Address, connection.UrlFor(h.Address), h.Ref == master,
                metrics[h.Metrics] is not JsonObject m || XapiValues.Bool(m["live"]), h.Enabled))
            .OrderBy(m => m.ComputeName, StringComparer.Ordinal)
            .ToList();
        connection.Observe(members.Select(m => m.Address), members.FirstOrDefault(m => m.IsMaster)?.Address ?? string.Empty);
        var topology = new PoolTopology(connection, pool.Key, XapiValues.String(poolRecord["uuid"]), XapiValues.String(poolRecord["name_label"]), members);
        _topologies[connection] = topology;
        return topology;
    }

    /// <summary>Every pool that answered (cached ones as last seen; the others are asked now).</summary>
    public async Task<IReadOnlyList<PoolTopology>> TopologiesAsync(CancellationToken ct)
    {
        var result = new List<PoolTopology>();
        foreach (var connection in await ConnectionsAsync(ct))
        {
            if (_topologies.TryGetValue(connection, out var cached))
            {
                result.Add(cached);
                continue;
            }

            try
            {
                result.Add(await RefreshAsync(connection, ct));
            }
            catch (Exception e) when (e is XapiException or XapiTransportException or TimeoutException or HttpRequestException)
            {
                LogUnreachable(logger, connection.Endpoint.Name, e.Message);
            }
        }

        return result;
    }

    /// <summary>The pool and member behind a compute host name.</summary>
    public async Task<(PoolTopology Pool, PoolMember Member)> ResolveAsync(string computeHost, CancellationToken ct)
    {
        foreach (var pool in await TopologiesAsync(ct))
            if (pool.Member(computeHost) is { } member) return (pool, member);
        // Not seen yet (a host joined the pool, or it was renamed): ask every pool again.
        foreach (var connection in await ConnectionsAsync(ct))
        {
            try
            {
                var pool = await RefreshAsync(connection, ct);
                if (pool.Member(computeHost) is { } member) return (pool, member);
            }
            catch (Exception e) when (e is XapiException or XapiTransportException or TimeoutException or HttpRequestException)
            {
                LogUnreachable(logger, connection.Endpoint.Name, e.Message);
            }
        }

        throw new UnknownComputeHostException(computeHost);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var connection in _connections.Values) await connection.DisposeAsync();
        _connections.Clear();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "XenServer endpoint {Endpoint} did not answer: {Reason}")]
    private static partial void LogUnreachable(ILogger logger, string endpoint, string reason);
}

/// <summary>No configured pool has a host of that name.</summary>
public sealed class UnknownComputeHostException(string host) : Exception($"Host {host} is not configured.")
{
    public string HostName { get; } = host;
}
