using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using XenMigrate.Domain.Flavors;
using XenMigrate.Domain.Hosts;
using XenMigrate.Domain.Migrations;
using XenMigrate.Domain.Servers;
using XenMigrate.Infrastructure.Persistence;
using XenMigrate.Infrastructure.Xapi;
using XenMigrate.Infrastructure.XenServer;

namespace XenMigrate.Infrastructure.Compute.Common;

/// <summary>
/// Picks where a resized or migrated server goes: an enabled, up host (not its own unless
/// allowed), with enough free memory and local storage for the new flavor once the memory
/// already claimed by other open migrations to it is counted. The most free memory wins.
/// </summary>
public sealed class DestinationScheduler(XenMigrateDbContext db, IHypervisorDriver driver, IOptions<WorkflowOptions> options)
{
    public async Task<(ComputeHost? Host, string Reason)> PickAsync(Server server, Migration migration, string? requestedHost, CancellationToken ct)
    {
        var flavor = server.NewFlavor ?? server.Flavor;
        var source = server.PreviousHost ?? server.Host;

        var candidates = await db.ComputeHosts.AsNoTracking().ToListAsync(ct);
        candidates = candidates.Where(h => h.IsSchedulable).ToList();
        if (requestedHost is not null) candidates = candidates.Where(h => h.Name == requestedHost).ToList();
        else if (!options.Value.AllowResizeToSameHost) candidates = candidates.Where(h => h.Name != source).ToList();
        return await BestAsync(candidates, flavor, await ClaimedMemoryAsync(migration.Id, server.Id, ct), ct);
    }

    /// <summary>Where a new server boots: a schedulable host that has its image (template), with room for its flavor.</summary>
    public async Task<(ComputeHost? Host, string Reason)> PickForBuildAsync(Server server, Func<string, bool> hasImage, CancellationToken ct)
    {
        var candidates = (await db.ComputeHosts.AsNoTracking().ToListAsync(ct)).Where(h => h.IsSchedulable && hasImage(h.Name)).ToList();
        return await BestAsync(candidates, server.Flavor, await ClaimedMemoryAsync(0, server.Id, ct), ct);
    }

    private async Task<(ComputeHost? Host, string Reason)> BestAsync(List<ComputeHost> candidates, FlavorSnapshot flavor,
        Dictionary<string, long> claims, CancellationToken ct)
    {
        if (candidates.Count == 0) return (null, "No valid host was found. There are not enough hosts available.");
        var neededMemory = flavor.MemoryMb * 1024L * 1024;
        var neededDisk = (flavor.RootGb + flavor.EphemeralGb) * 1024L * 1024 * 1024;
        (ComputeHost Host, long Free)? best = null;
        var reasons = new List<string>();
        foreach (var host in candidates)
        {
            try
            {
                var usage = await driver.UsageAsync(host.Name, ct);
                var free = usage.MemoryFreeBytes - claims.GetValueOrDefault(host.Name);
                if (free < neededMemory) reasons.Add($"{host.Name}: {free / (1024 * 1024)} MB free, {flavor.MemoryMb} MB needed");
                else if (usage.DiskBytes - usage.DiskUsedBytes < neededDisk) reasons.Add($"{host.Name}: not enough free storage");
                else if (best is null || free > best.Value.Free) best = (host, free);
            }
            catch (Exception e) when (e is XapiException or XapiTransportException or TimeoutException or UnknownComputeHostException)
            {
                reasons.Add($"{host.Name}: not answering");
            }
        }

        return best is { } b ? (b.Host, string.Empty) : (null, "No valid host was found. " + string.Join("; ", reasons));
    }

    /// <summary>What a migration brings to its destination: a resize or cold migration its new flavor, a live migration the flavor it runs with.</summary>
    private static FlavorSnapshot? MovingFlavor(Migration migration, Server server) =>
        migration.Type == MigrationType.LiveMigration ? server.Flavor : server.NewFlavor;

    /// <summary>
    /// Memory promised but not yet in use, per host: open migrations to it (what each brings) and
    /// servers being built there (their VM is not running yet, so the host does not count it).
    /// </summary>
    private async Task<Dictionary<string, long>> ClaimedMemoryAsync(int exceptMigrationId, Guid exceptServerId, CancellationToken ct)
    {
        var open = await db.Migrations.AsNoTracking()
            .Where(m => m.Id != exceptMigrationId && m.DestCompute != null)
            .ToListAsync(ct);
        open = open.Where(m => m.IsInProgress).ToList();
        var serverIds = open.Select(m => m.InstanceUuid).ToList();
        var servers = await db.Servers.AsNoTracking().Where(s => serverIds.Contains(s.Id)).ToDictionaryAsync(s => s.Id, ct);
        var claims = open
            .GroupBy(m => m.DestCompute!)
            .ToDictionary(g => g.Key, g => g.Sum(m => servers.TryGetValue(m.InstanceUuid, out var s) && MovingFlavor(m, s) is { } f ? f.MemoryMb * 1024L * 1024 : 0L));
        var building = await db.Servers.AsNoTracking()
            .Where(s => s.VmState == VmState.Building && s.Host != null && s.Id != exceptServerId).ToListAsync(ct);
        foreach (var s in building)
            claims[s.Host!] = claims.GetValueOrDefault(s.Host!) + s.Flavor.MemoryMb * 1024L * 1024;
        return claims;
    }
}
