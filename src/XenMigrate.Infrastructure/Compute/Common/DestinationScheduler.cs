using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using XenMigrate.Domain.Flavors;
using XenMigrate.Domain.Hosts;
using XenMigrate.Domain.Migrations;
using XenMigrate.Domain.ServerGroups;
using XenMigrate.Domain.Servers;
using XenMigrate.Infrastructure.Durable;
using XenMigrate.Infrastructure.Persistence;
using XenMigrate.Infrastructure.Xapi;
using XenMigrate.Infrastructure.XenServer;

namespace XenMigrate.Infrastructure.Compute.Common;

/// <summary>
/// Picks where a server boots or where a resized or migrated one goes: an enabled, up host (not
/// its own unless allowed), with enough free memory and local storage for the flavor once the
/// memory already claimed by other open migrations and builds to it is counted, that its server
/// group's hard policy and its same_host / different_host hints admit (Nova's
/// ServerGroupAffinityFilter, ServerGroupAntiAffinityFilter, SameHostFilter, DifferentHostFilter).
/// The soft policies' preference wins first, then the most free memory.
/// </summary>
public sealed class DestinationScheduler(XenMigrateDbContext db, IHypervisorDriver driver, WorkerLocks locks, IOptions<WorkflowOptions> options)
{
    private static readonly TimeSpan GroupLockWait = TimeSpan.FromMinutes(2);

    /// <summary>
    /// Holds the server's group while one of its members is placed, from the pick until the caller
    /// has saved where it goes, so two members placed at once (two builds, a build and a drain's
    /// move) each see the other: an anti-affinity pair never lands on one host. A no-op for a
    /// server in no group.
    /// </summary>
    /// <exception cref="TimeoutException">Another placement of the group held it too long (the job is retried).</exception>
    public async Task<IAsyncDisposable> HoldGroupAsync(Server server, CancellationToken ct)
    {
        var groupId = await GroupIdAsync(server.Id, ct);
        if (groupId is null) return NoLock.Instance;
        return await locks.TryAcquireAsync(LockResource.ServerGroup(groupId.Value), GroupLockWait, ct)
               ?? throw new TimeoutException($"Server group {groupId} is being placed by another worker.");
    }

    public async Task<(ComputeHost? Host, string Reason)> PickAsync(Server server, Migration migration, string? requestedHost, CancellationToken ct)
    {
        var flavor = server.NewFlavor ?? server.Flavor;
        var source = server.PreviousHost ?? server.Host;

        var candidates = await db.ComputeHosts.AsNoTracking().ToListAsync(ct);
        candidates = candidates.Where(h => h.IsSchedulable).ToList();
        if (requestedHost is not null) candidates = candidates.Where(h => h.Name == requestedHost).ToList();
        else if (!options.Value.AllowResizeToSameHost) candidates = candidates.Where(h => h.Name != source).ToList();
        return await BestAsync(candidates, flavor, await ClaimedMemoryAsync(migration.Id, server.Id, ct), await RulesAsync(server, ct), ct);
    }

    /// <summary>Where a new server boots: a schedulable host that has its image (template), with room for its flavor.</summary>
    public async Task<(ComputeHost? Host, string Reason)> PickForBuildAsync(Server server, Func<string, bool> hasImage, CancellationToken ct)
    {
        var candidates = (await db.ComputeHosts.AsNoTracking().ToListAsync(ct)).Where(h => h.IsSchedulable && hasImage(h.Name)).ToList();
        return await BestAsync(candidates, server.Flavor, await ClaimedMemoryAsync(0, server.Id, ct), await RulesAsync(server, ct), ct);
    }

    private async Task<(ComputeHost? Host, string Reason)> BestAsync(List<ComputeHost> candidates, FlavorSnapshot flavor,
        Dictionary<string, long> claims, PlacementRules rules, CancellationToken ct)
    {
        if (candidates.Count == 0) return (null, "No valid host was found. There are not enough hosts available.");
        var neededMemory = flavor.MemoryMb * 1024L * 1024;
        var neededDisk = (flavor.RootGb + flavor.EphemeralGb) * 1024L * 1024 * 1024;
        (ComputeHost Host, int Preference, long Free)? best = null;
        var reasons = new List<string>();
        foreach (var host in candidates)
        {
            if (rules.Refusal(host.Name) is { } refused)
            {
                reasons.Add($"{host.Name}: {refused}");
                continue;
            }

            var preference = rules.Preference(host.Name);
            try
            {
                var usage = await driver.UsageAsync(host.Name, ct);
                var free = usage.MemoryFreeBytes - claims.GetValueOrDefault(host.Name);
                if (free < neededMemory) reasons.Add($"{host.Name}: {free / (1024 * 1024)} MB free, {flavor.MemoryMb} MB needed");
                else if (usage.DiskBytes - usage.DiskUsedBytes < neededDisk) reasons.Add($"{host.Name}: not enough free storage");
                else if (best is null || (preference, free).CompareTo((best.Value.Preference, best.Value.Free)) > 0) best = (host, preference, free);
            }
            catch (Exception e) when (e is XapiException or XapiTransportException or TimeoutException or UnknownComputeHostException)
            {
                reasons.Add($"{host.Name}: not answering");
            }
        }

        return best is { } b ? (b.Host, string.Empty) : (null, "No valid host was found. " + string.Join("; ", reasons));
    }

    private async Task<Guid?> GroupIdAsync(Guid serverId, CancellationToken ct) =>
        await db.ServerGroupMembers.AsNoTracking().Where(m => m.ServerId == serverId).Select(m => (Guid?)m.GroupId).FirstOrDefaultAsync(ct);

    /// <summary>
    /// What the server's group and hints say of each host: where the group's other members are (a
    /// member moving now counts on its destination too) and the hosts of the servers named by
    /// same_host and different_host. The server itself never counts against its own move.
    /// </summary>
    private async Task<PlacementRules> RulesAsync(Server server, CancellationToken ct)
    {
        ServerGroup? group = null;
        var membersPerHost = new Dictionary<string, int>(StringComparer.Ordinal);
        if (await GroupIdAsync(server.Id, ct) is { } groupId && await db.ServerGroups.AsNoTracking().Include(g => g.Members)
                .FirstOrDefaultAsync(g => g.Id == groupId, ct) is { } found)
        {
            group = found;
            var others = found.Members.Select(m => m.ServerId).Where(id => id != server.Id).ToList();
            foreach (var host in await PositionsAsync(others, ct))
                membersPerHost[host] = membersPerHost.GetValueOrDefault(host) + 1;
        }

        var hints = server.SchedulerHints;
        var sameHosts = hints?.SameHostAs() is { Count: > 0 } same ? (await PositionsAsync(same, ct)).ToHashSet(StringComparer.Ordinal) : null;
        var differentHosts = hints?.DifferentHostFrom() is { Count: > 0 } different
            ? (await PositionsAsync(different.Where(id => id != server.Id).ToList(), ct)).ToHashSet(StringComparer.Ordinal)
            : [];
        return new PlacementRules(group, membersPerHost, sameHosts, differentHosts);
    }

    /// <summary>Every host the servers occupy: where each lives and, while it moves, where it is going.</summary>
    private async Task<List<string>> PositionsAsync(IReadOnlyCollection<Guid> serverIds, CancellationToken ct)
    {
        if (serverIds.Count == 0) return [];
        var hosts = await db.Servers.AsNoTracking().Where(s => serverIds.Contains(s.Id) && s.Host != null).Select(s => new { s.Id, s.Host }).ToListAsync(ct);
        var moving = await db.Migrations.AsNoTracking().Where(m => serverIds.Contains(m.InstanceUuid) && m.DestCompute != null).ToListAsync(ct);
        var live = hosts.Select(h => h.Id).ToHashSet();
        return hosts.Select(h => (h.Id, Host: h.Host!))
            .Concat(moving.Where(m => m.IsInProgress && live.Contains(m.InstanceUuid)).Select(m => (Id: m.InstanceUuid, Host: m.DestCompute!)))
            .Distinct().Select(p => p.Host).ToList();
    }

    /// <summary>The group's verdict and the host hints, for one candidate host.</summary>
    private sealed record PlacementRules(ServerGroup? Group, IReadOnlyDictionary<string, int> MembersPerHost,
        IReadOnlySet<string>? SameHosts, IReadOnlySet<string> DifferentHosts)
    {
        public string? Refusal(string host)
        {
            if (SameHosts is not null && !SameHosts.Contains(host)) return "not the host of a server named in same_host";
            if (DifferentHosts.Contains(host)) return "the host of a server named in different_host";
            return Group?.Judge(host, MembersPerHost) is { Allowed: false } verdict ? verdict.Reason : null;
        }

        public int Preference(string host) => Group?.Judge(host, MembersPerHost).Preference ?? 0;
    }

    private sealed class NoLock : IAsyncDisposable
    {
        public static readonly NoLock Instance = new();
        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
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
