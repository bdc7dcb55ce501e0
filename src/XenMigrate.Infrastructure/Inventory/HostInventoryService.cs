using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using XenMigrate.Infrastructure.Xapi;
using XenMigrate.Infrastructure.XenServer;

namespace XenMigrate.Infrastructure.Inventory;

/// <summary>
/// Watches every configured pool through its one session: reads the pool's members, syncs, then
/// long-polls <c>event.from</c> on VMs, hosts and the pool and syncs again whenever something
/// changed (or the poll times out). <c>EVENTS_LOST</c> (the token fell out of xapi's window) is a
/// resync, not an outage. A pool that stops answering has its hosts marked down and is retried
/// (its connection looks for a new master meanwhile). A server no member reports any more is
/// forgotten after a grace period (long enough for a move to another host to be seen there first).
/// </summary>
public sealed partial class HostInventoryService(
    IServiceScopeFactory scopes,
    IOptions<XenServerOptions> options,
    XenServerPools pools,
    TimeProvider time,
    ILogger<HostInventoryService> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var connections = await pools.ConnectionsAsync(stoppingToken);
        await Task.WhenAll(connections.Select(c => WatchAsync(c, stoppingToken)));
    }

    private async Task WatchAsync(XapiPoolConnection connection, CancellationToken ct)
    {
        var missingSince = new Dictionary<Guid, DateTime>();
        var known = new HashSet<Guid>();
        IReadOnlyCollection<string> hostNames = [connection.Endpoint.Name];
        while (!ct.IsCancellationRequested)
        {
            try
            {
                XapiSession? tokenOf = null;
                var token = string.Empty;
                while (!ct.IsCancellationRequested)
                {
                    // Borrowed anew each pass: after a fail-over (or the master moved) the connection holds another.
                    var session = await connection.SessionAsync(ct);
                    if (!ReferenceEquals(session, tokenOf)) token = string.Empty; // a token belongs to its session's host
                    tokenOf = session;
                    var pool = await pools.RefreshAsync(connection, ct);
                    hostNames = pool.Members.Select(m => m.ComputeName).ToList();
                    var seen = await SyncOnceAsync(pool, session, ct);
                    await ForgetVanishedAsync(hostNames, known, seen, missingSince, ct);
                    try
                    {
                        (_, token) = await session.EventsFromAsync(["vm", "host", "pool"], token, options.Value.EventTimeout, ct);
                    }
                    catch (XapiException e) when (e.Code == XapiException.EventsLost)
                    {
                        token = string.Empty; // too far behind xapi's event window: read everything again
                        LogResync(logger, connection.Endpoint.Name);
                    }

                }
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
            {
                // Whatever went wrong (the pool, or a write that lost a race), this pool's watch must go on.
                if (e is XapiTransportException or XapiException or TimeoutException or HttpRequestException) LogUnreachable(logger, connection.Endpoint.Name, e.Message);
                else LogPassFailed(logger, connection.Endpoint.Name, e);
                await MarkDownAsync(hostNames, ct);
                try
                {
                    await Task.Delay(options.Value.RetryDelay, time, ct);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    private async Task<IReadOnlySet<Guid>> SyncOnceAsync(PoolTopology pool, XapiSession session, CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        return await scope.ServiceProvider.GetRequiredService<HostInventorySync>().SyncAsync(pool, session, options.Value, ct);
    }

    private async Task ForgetVanishedAsync(IReadOnlyCollection<string> hostNames, HashSet<Guid> known, IReadOnlySet<Guid> seen,
        Dictionary<Guid, DateTime> missingSince, CancellationToken ct)
    {
        var now = time.GetUtcNow().UtcDateTime;
        foreach (var id in seen) missingSince.Remove(id);
        foreach (var id in known.Where(id => !seen.Contains(id))) missingSince.TryAdd(id, now);
        known.UnionWith(seen);

        var expired = missingSince.Where(p => now - p.Value >= options.Value.VanishedGrace).Select(p => p.Key).ToList();
        if (expired.Count == 0) return;
        await using var scope = scopes.CreateAsyncScope();
        await scope.ServiceProvider.GetRequiredService<HostInventorySync>().ForgetAsync(expired, hostNames, ct);
        foreach (var id in expired)
        {
            missingSince.Remove(id);
            known.Remove(id);
        }
    }

    private async Task MarkDownAsync(IReadOnlyCollection<string> hostNames, CancellationToken ct)
    {
        try
        {
            await using var scope = scopes.CreateAsyncScope();
            await scope.ServiceProvider.GetRequiredService<HostInventorySync>().ReportUnreachableAsync(hostNames, ct);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            LogMarkDownFailed(logger, string.Join(", ", hostNames), e.Message);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "XenServer pool {Host} is not answering: {Reason}")]
    private static partial void LogUnreachable(ILogger logger, string host, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "Inventory of {Host} failed; it starts again")]
    private static partial void LogPassFailed(ILogger logger, string host, Exception e);

    [LoggerMessage(Level = LogLevel.Information, Message = "XenServer pool {Host}: events lost, reading everything again")]
    private static partial void LogResync(ILogger logger, string host);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not record hosts {Hosts} as down: {Reason}")]
    private static partial void LogMarkDownFailed(ILogger logger, string hosts, string reason);
}

/// <summary>
/// Where the inventory gets its host list: the configuration, or (embedded default) a simulated
/// lab that first has to be started.
/// </summary>
public interface IXenServerHostSource
{
    Task<IReadOnlyList<XapiHostOptions>> GetHostsAsync(CancellationToken ct);
}

public sealed class ConfiguredHostSource(IOptions<XenServerOptions> options) : IXenServerHostSource
{
    public Task<IReadOnlyList<XapiHostOptions>> GetHostsAsync(CancellationToken ct) =>
        Task.FromResult<IReadOnlyList<XapiHostOptions>>(options.Value.Hosts);
}
