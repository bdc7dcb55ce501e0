using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using XenMigrate.Infrastructure.Workflow;
using XenMigrate.Infrastructure.Xapi;

namespace XenMigrate.Infrastructure.Inventory;

/// <summary>What one XenServer host has and uses, read live from XAPI for <c>/os-hypervisors</c>.</summary>
public sealed record HypervisorUsage(
    string Host,
    bool Answered,
    string Address,
    string ProductVersion,
    IReadOnlyDictionary<string, string> CpuInfo,
    int Vcpus,
    int VcpusUsed,
    long MemoryBytes,
    long MemoryFreeBytes,
    long DiskBytes,
    long DiskUsedBytes,
    int RunningVms)
{
    public static HypervisorUsage Unreachable(string host) => new(host, false, string.Empty, string.Empty,
        new Dictionary<string, string>(), 0, 0, 0, 0, 0, 0, 0);
}

/// <summary>
/// Reads <see cref="HypervisorUsage"/> from every host at once. A host that does not answer within
/// the timeout is reported as such rather than holding up the others.
/// </summary>
public sealed class HypervisorUsageReader(XenServerHosts hosts, ILogger<HypervisorUsageReader> logger)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);

    public async Task<IReadOnlyDictionary<string, HypervisorUsage>> ReadAsync(IEnumerable<string> hostNames, CancellationToken ct)
    {
        var reads = hostNames.Distinct().Select(name => ReadOneAsync(name, ct));
        return (await Task.WhenAll(reads)).ToDictionary(u => u.Host);
    }

    private async Task<HypervisorUsage> ReadOneAsync(string name, CancellationToken ct)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
        deadline.CancelAfter(Timeout);
        try
        {
            await using var session = await hosts.OpenAsync(name, deadline.Token);
            var host = (await session.HostsAsync(deadline.Token)).Values.First();
            var metrics = await session.CallAsync("host_metrics.get_record", deadline.Token, host.Metrics) as JsonObject;
            var free = await session.ComputeFreeMemoryAsync(host.Ref, deadline.Token);
            var pool = await session.PoolAsync(deadline.Token);
            var sr = (await session.SrsAsync(deadline.Token)).GetValueOrDefault(pool.DefaultSr);
            var guests = (await session.VmsAsync(deadline.Token)).Values
                .Where(vm => vm.IsGuest && vm.PowerState is "Running" or "Paused").ToList();
            var cpus = int.TryParse(host.CpuInfo.GetValueOrDefault("cpu_count"), out var count) ? count : 0;
            return new HypervisorUsage(name, true, host.Address, host.SoftwareVersion.GetValueOrDefault("product_version") ?? string.Empty,
                host.CpuInfo, cpus, (int)guests.Sum(vm => vm.VcpusMax), XapiValues.Int(metrics?["memory_total"]), free,
                sr?.PhysicalSize ?? 0, sr?.PhysicalUtilisation ?? 0, guests.Count);
        }
        catch (Exception e) when (e is XapiException or XapiTransportException or TimeoutException or OperationCanceledException
                                   && !ct.IsCancellationRequested)
        {
            logger.LogInformation("Host {Host} did not report its usage: {Reason}", name, e.Message);
            return HypervisorUsage.Unreachable(name);
        }
    }
}
