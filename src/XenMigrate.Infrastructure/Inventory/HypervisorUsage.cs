using Microsoft.Extensions.Logging;
using XenMigrate.Infrastructure.Xapi;
using XenMigrate.Infrastructure.XenServer;

namespace XenMigrate.Infrastructure.Inventory;

/// <summary>
/// Reads each host's <see cref="HostUsage"/> (for <c>/os-hypervisors</c>) at once. A host that does
/// not answer within the timeout is reported as such rather than holding up the others.
/// </summary>
public sealed class HypervisorUsageReader(IHypervisorDriver driver, ILogger<HypervisorUsageReader> logger)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);

    public async Task<IReadOnlyDictionary<string, HostUsage>> ReadAsync(IEnumerable<string> hostNames, CancellationToken ct)
    {
        var reads = hostNames.Distinct().Select(name => ReadOneAsync(name, ct));
        return (await Task.WhenAll(reads)).ToDictionary(u => u.Host);
    }

    private async Task<HostUsage> ReadOneAsync(string name, CancellationToken ct)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
        deadline.CancelAfter(Timeout);
        try
        {
            return await driver.UsageAsync(name, deadline.Token);
        }
        catch (Exception e) when (e is XapiException or XapiTransportException or TimeoutException or UnknownComputeHostException
                                   or OperationCanceledException && !ct.IsCancellationRequested)
        {
            logger.LogInformation("Host {Host} did not report its usage: {Reason}", name, e.Message);
            return HostUsage.Unreachable(name);
        }
    }
}
