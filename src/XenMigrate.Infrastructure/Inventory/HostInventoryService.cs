using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using XenMigrate.Infrastructure.Xapi;

namespace XenMigrate.Infrastructure.Inventory;

/// <summary>
/// Watches every configured host: logs in, syncs, then long-polls <c>event.from</c> on VMs and
/// syncs again whenever something changed (or the poll times out). A host that stops answering is
/// marked down and retried. A server its host no longer reports is forgotten after a grace period
/// (long enough for a move to another host to be seen there first).
/// </summary>
public sealed partial class HostInventoryService(
    IServiceScopeFactory scopes,
    IOptions<XenServerOptions> options,
    IXenServerHostSource hostSource,
    TimeProvider time,
    ILogger<HostInventoryService> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var hosts = await hostSource.GetHostsAsync(stoppingToken);
        await Task.WhenAll(hosts.Select(h => WatchAsync(h, stoppingToken)));
    }

    private async Task WatchAsync(XapiHostOptions host, CancellationToken ct)
    {
        var missingSince = new Dictionary<Guid, DateTime>();
        var known = new HashSet<Guid>();
        while (!ct.IsCancellationRequested)
        {
            try
            {
                await using var session = await XapiSession.OpenAsync(host, options.Value.CallTimeout, ct);
                var token = string.Empty;
                while (!ct.IsCancellationRequested)
                {
                    var seen = await SyncOnceAsync(session, ct);
                    await ForgetVanishedAsync(host, known, seen, missingSince, ct);
                    (_, token) = await session.EventsFromAsync(["vm"], token, options.Value.EventTimeout, ct);
                }
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is XapiTransportException or XapiException or TimeoutException or HttpRequestException)
            {
                LogUnreachable(logger, host.Name, e.Message);
                await MarkDownAsync(host.Name, ct);
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

    private async Task<IReadOnlySet<Guid>> SyncOnceAsync(XapiSession session, CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        return await scope.ServiceProvider.GetRequiredService<HostInventorySync>().SyncAsync(session, options.Value, ct);
    }

    private async Task ForgetVanishedAsync(XapiHostOptions host, HashSet<Guid> known, IReadOnlySet<Guid> seen,
        Dictionary<Guid, DateTime> missingSince, CancellationToken ct)
    {
        var now = time.GetUtcNow().UtcDateTime;
        foreach (var id in seen) missingSince.Remove(id);
        foreach (var id in known.Where(id => !seen.Contains(id))) missingSince.TryAdd(id, now);
        known.UnionWith(seen);

        var expired = missingSince.Where(p => now - p.Value >= options.Value.VanishedGrace).Select(p => p.Key).ToList();
        if (expired.Count == 0) return;
        await using var scope = scopes.CreateAsyncScope();
        await scope.ServiceProvider.GetRequiredService<HostInventorySync>().ForgetAsync(expired, host.Name, ct);
        foreach (var id in expired)
        {
            missingSince.Remove(id);
            known.Remove(id);
        }
    }

    private async Task MarkDownAsync(string hostName, CancellationToken ct)
    {
        try
        {
            await using var scope = scopes.CreateAsyncScope();
            await scope.ServiceProvider.GetRequiredService<HostInventorySync>().ReportUnreachableAsync(hostName, ct);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            LogMarkDownFailed(logger, hostName, e.Message);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "XenServer host {Host} is not answering: {Reason}")]
    private static partial void LogUnreachable(ILogger logger, string host, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not record host {Host} as down: {Reason}")]
    private static partial void LogMarkDownFailed(ILogger logger, string host, string reason);
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
