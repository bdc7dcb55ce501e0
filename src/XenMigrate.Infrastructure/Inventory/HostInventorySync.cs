using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using XenMigrate.Domain.Flavors;
using XenMigrate.Domain.Hosts;
using XenMigrate.Domain.Identity;
using XenMigrate.Domain.Servers;
using XenMigrate.Infrastructure.Persistence;
using XenMigrate.Infrastructure.Xapi;
using XenMigrate.Infrastructure.XenServer;

namespace XenMigrate.Infrastructure.Inventory;

/// <summary>
/// One pass of the inventory over one pool: each member becomes a ComputeHost row (up, or down
/// when XenServer says it is not live), the pool a host aggregate, each guest VM a Server row on
/// the member it runs on (or belongs to). Only VMs XenMigrate manages (XenServer:AdoptVms) get its
/// keys written into their other_config; the others appear to admins as unmanaged, untouched.
/// Each pass also refreshes the servers' addresses from their VIFs and guest metrics (Nova's
/// periodic heal of the network info cache).
/// Rows owned by a running task (a migration) are left to that task.
/// </summary>
public sealed partial class HostInventorySync(
    XenMigrateDbContext db,
    TimeProvider time,
    ILogger<HostInventorySync> logger)
{
    /// <summary>The namespace of the ids given to VMs the gateway does not manage (name-based on the VM uuid: nothing is written to them).</summary>
    private static readonly Guid UnmanagedNamespace = new("b0c4e2f1-5d3a-4c8e-9f6b-2a7d1e0c3b54");

    public async Task<IReadOnlySet<Guid>> SyncAsync(PoolTopology pool, XapiSession session, XenServerOptions options, CancellationToken ct)
    {
        var now = time.GetUtcNow().UtcDateTime;
        var endpoint = pool.Connection.Endpoint;
        foreach (var member in pool.Members) await EnsureComputeHostAsync(pool, member, now, ct);
        await EnsureAggregateAsync(pool, now, ct);

        var vms = await session.VmsAsync(ct);
        var vbds = await session.VbdsAsync(ct);
        var vdis = await session.VdisAsync(ct);
        var pbds = await session.PbdRecordsAsync(ct);
        var vifs = await session.VifsAsync(ct);
        var networkLabels = await session.NetworkLabelsAsync(ct);
        var guestMetrics = await session.GuestMetricsAsync(ct);
        var flavors = await db.Flavors.ToListAsync(ct);
        var projects = await db.Projects.AsNoTracking().ToListAsync(ct);
        var assignments = await db.RoleAssignments.AsNoTracking().ToListAsync(ct);
        var users = await db.Users.AsNoTracking().ToListAsync(ct);
        var memberNames = pool.Members.Select(m => m.ComputeName).ToList();
        var current = await db.Servers.Where(s => s.Host != null && memberNames.Contains(s.Host))
            .Select(s => new { s.Id, s.Host }).ToDictionaryAsync(s => s.Id, s => s.Host, ct);

        var seen = new HashSet<Guid>();
        foreach (var vm in vms.Values.Where(v => v.IsGuest))
        {
            var managed = XapiDriver.IsManaged(vm, options);
            var serverId = managed ? await EnsureServerIdAsync(session, vm, ct) : UnmanagedId(vm);
            if (serverId is null) continue;
            seen.Add(serverId.Value);

            var host = XapiDriver.PlacementOf(pool, vm, vbds, vdis, pbds, current.GetValueOrDefault(serverId.Value)) ?? pool.Members[0].ComputeName;
            var rootBytes = vm.Vbds.Select(r => vbds.GetValueOrDefault(r)).Where(b => b is { IsDisk: true })
                .OrderBy(b => b!.Userdevice, StringComparer.Ordinal)
                .Select(b => vdis.GetValueOrDefault(b!.Vdi)?.VirtualSize ?? 0).FirstOrDefault();
            var memoryMb = (int)(vm.MemoryStaticMax / FlavorMatcher.MiB);
            var vcpus = (int)Math.Max(1, vm.VcpusMax);
            var rootGb = FlavorMatcher.CeilGiB(rootBytes);
            var power = ToPowerState(XapiDriver.PowerOf(vm.PowerState));

            var server = await db.Servers.FirstOrDefaultAsync(s => s.Id == serverId, ct);
            if (server is null)
            {
                var flavor = FlavorMatcher.Match(flavors, memoryMb, vcpus, rootGb);
                if (flavor is null)
                {
                    flavor = FlavorMatcher.Custom(memoryMb, vcpus, rootGb);
                    db.Flavors.Add(flavor);
                    flavors.Add(flavor);
                    await db.SaveChangesAsync(ct); // the snapshot needs the flavor's database id
                }

                var fallback = endpoint.DefaultProject ?? options.DefaultProject;
                // A VM the gateway does not manage belongs to the default (admin) project, whatever it says.
                var project = Resolve(projects, managed ? vm.OtherConfig.GetValueOrDefault(InventoryKeys.Project) : null, fallback)
                              ?? throw new InvalidOperationException($"No project for VM {vm.Uuid}: the default project '{fallback}' does not exist.");
                var userId = ResolveUser(users, assignments, project, managed ? vm.OtherConfig.GetValueOrDefault(InventoryKeys.User) : null);
                var created = new Server(serverId.Value, vm.NameLabel, project.Id, userId, flavor.Snapshot(), host, host, ToVmState(power), power, now);
                created.ObserveManaged(managed, now);
                created.ObserveAddresses(XapiDriver.AddressesOf(vm, vifs, networkLabels, guestMetrics));
                db.Servers.Add(created);
                LogDiscovered(logger, vm.NameLabel, serverId.Value, host, managed);
            }
            else if (server.TaskState is null && server.VmState != VmState.Resized)
            {
                // While a resize is open the workflow owns the server: both copies exist on purpose.
                if (server.Name != vm.NameLabel && !string.IsNullOrWhiteSpace(vm.NameLabel)) server.Rename(vm.NameLabel, now);
                server.ObservePlacement(host, host, now);
                server.ObservePowerState(power, now);
                server.ObserveManaged(managed, now);
                server.ObserveAddresses(XapiDriver.AddressesOf(vm, vifs, networkLabels, guestMetrics));
            }
        }

        try
        {
            await db.SaveChangesAsync(ct);
        }
        catch (DbUpdateException e)
        {
            // Another writer (a migration step, another gateway) changed a row first: the next pass sees theirs.
            LogConflict(logger, endpoint.Name, e.GetType().Name);
        }

        return seen;
    }

    /// <summary>The id of a VM XenMigrate does not manage: stable (from its uuid), never written to it.</summary>
    private static Guid UnmanagedId(XapiVm vm) =>
        vm.OtherConfig.TryGetValue(InventoryKeys.ServerId, out var text) && Guid.TryParse(text, out var id) ? id : NameBased(vm.Uuid);

    private static Guid NameBased(string name)
    {
        Span<byte> input = stackalloc byte[16 + System.Text.Encoding.UTF8.GetByteCount(name)];
        UnmanagedNamespace.TryWriteBytes(input[..16], bigEndian: true, out _);
        System.Text.Encoding.UTF8.GetBytes(name, input[16..]);
#pragma warning disable CA5350 // not for security: RFC 4122 defines version 5 UUIDs with SHA-1
        var hash = System.Security.Cryptography.SHA1.HashData(input);
#pragma warning restore CA5350
        hash[6] = (byte)((hash[6] & 0x0F) | 0x50);
        hash[8] = (byte)((hash[8] & 0x3F) | 0x80);
        return new Guid(hash.AsSpan(0, 16), bigEndian: true);
    }

    /// <summary>Marks hosts down in the database (their pool stopped answering).</summary>
    public async Task ReportUnreachableAsync(IReadOnlyCollection<string> hostNames, CancellationToken ct)
    {
        var hosts = await db.ComputeHosts.Where(h => hostNames.Contains(h.Name) && h.IsUp).ToListAsync(ct);
        if (hosts.Count == 0) return;
        foreach (var host in hosts) host.ReportUnreachable(time.GetUtcNow().UtcDateTime);
        await db.SaveChangesAsync(ct);
    }

    /// <summary>Removes servers of these hosts that no host has reported for the grace period.</summary>
    public async Task ForgetAsync(IEnumerable<Guid> serverIds, IReadOnlyCollection<string> hostNames, CancellationToken ct)
    {
        var ids = serverIds.ToList();
        if (ids.Count == 0) return;
        var gone = await db.Servers.Where(s => ids.Contains(s.Id) && s.Host != null && hostNames.Contains(s.Host) && s.TaskState == null).ToListAsync(ct);
        db.Servers.RemoveRange(gone);
        await db.SaveChangesAsync(ct);
        foreach (var s in gone) LogForgotten(logger, s.Name, s.Id, s.Host!);
    }

    private async Task EnsureComputeHostAsync(PoolTopology pool, PoolMember member, DateTime now, CancellationToken ct)
    {
        var url = member.Url.ToString().TrimEnd('/');
        var host = await db.ComputeHosts.FirstOrDefaultAsync(h => h.Name == member.ComputeName, ct);
        if (host is null)
        {
            host = new ComputeHost(Guid.TryParse(member.HostUuid, out var uuid) ? uuid : Guid.NewGuid(), member.ComputeName, url, now);
            db.ComputeHosts.Add(host);
        }
        else if (host.XapiUrl != url)
        {
            host.MoveTo(url, now);
        }

        if (Guid.TryParse(pool.PoolUuid, out var poolUuid)) host.ObservePool(poolUuid, pool.PoolName, pool.IsAggregate, now);
        // The master answered for the whole pool; a member xapi no longer sees as live is down.
        if (member.Live) host.ReportAnswered(now);
        else host.ReportUnreachable(now);
        await db.SaveChangesAsync(ct);
    }

    /// <summary>A real pool (named, or of several hosts) is a host aggregate with a stable id.</summary>
    private async Task EnsureAggregateAsync(PoolTopology pool, DateTime now, CancellationToken ct)
    {
        if (!pool.IsAggregate || !Guid.TryParse(pool.PoolUuid, out var poolUuid)) return;
        var aggregate = await db.HostAggregates.FirstOrDefaultAsync(a => a.PoolUuid == poolUuid, ct);
        if (aggregate is null) db.HostAggregates.Add(new HostAggregate(poolUuid, pool.AggregateName, poolUuid, now));
        else aggregate.Rename(pool.AggregateName, now);
        await db.SaveChangesAsync(ct);
    }

    /// <summary>The server id kept on the VM; a VM without one is given one (written back to XAPI).</summary>
    private async Task<Guid?> EnsureServerIdAsync(XapiSession session, XapiVm vm, CancellationToken ct)
    {
        if (vm.OtherConfig.TryGetValue(InventoryKeys.ServerId, out var text) && Guid.TryParse(text, out var existing)) return existing;
        var id = Guid.NewGuid();
        try
        {
            if (text is not null) await session.RemoveFromOtherConfigAsync("VM", vm.Ref, InventoryKeys.ServerId, ct);
            await session.AddToOtherConfigAsync("VM", vm.Ref, InventoryKeys.ServerId, id.ToString(), ct);
            return id;
        }
        catch (XapiException e)
        {
            // Someone else (another gateway process) tagged it meanwhile, or it just went away: next pass.
            LogTagFailed(logger, vm.Uuid, e.Code);
            return null;
        }
    }

    private static Project? Resolve(List<Project> projects, string? named, string fallback) =>
        (named is null ? null : projects.FirstOrDefault(p => p.Id == named) ?? projects.FirstOrDefault(p => p.Name == named))
        ?? projects.FirstOrDefault(p => p.Name == fallback) ?? projects.FirstOrDefault(p => p.Id == fallback);

    private static string ResolveUser(List<User> users, List<RoleAssignment> assignments, Project project, string? named)
    {
        if (named is not null && users.FirstOrDefault(u => u.Id == named || u.Name == named) is { } user) return user.Id;
        return assignments.Where(a => a.ProjectId == project.Id)
            .OrderBy(a => a.Role == Roles.Member ? 0 : a.Role == Roles.Admin ? 1 : 2)
            .Select(a => a.UserId).FirstOrDefault() ?? string.Empty;
    }

    public static PowerState ToPowerState(VmPower power) => power switch
    {
        VmPower.Running => PowerState.Running,
        VmPower.Halted => PowerState.Shutdown,
        VmPower.Paused => PowerState.Paused,
        VmPower.Suspended => PowerState.Suspended,
        _ => PowerState.NoState,
    };

    private static VmState ToVmState(PowerState power) => power switch
    {
        PowerState.Running => VmState.Active,
        PowerState.Paused => VmState.Paused,
        PowerState.Suspended => VmState.Suspended,
        _ => VmState.Stopped,
    };

    [LoggerMessage(Level = LogLevel.Information, Message = "Discovered VM {Name} as server {ServerId} on {Host} (managed: {Managed})")]
    private static partial void LogDiscovered(ILogger logger, string name, Guid serverId, string host, bool managed);

    [LoggerMessage(Level = LogLevel.Information, Message = "Server {Name} ({ServerId}) is on no host any more; last seen on {Host}")]
    private static partial void LogForgotten(ILogger logger, string name, Guid serverId, string host);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Inventory of {Host} lost a write race ({Error}); the next pass retries")]
    private static partial void LogConflict(ILogger logger, string host, string error);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Could not tag VM {VmUuid} with its server id ({Code}); the next pass retries")]
    private static partial void LogTagFailed(ILogger logger, string vmUuid, string code);
}
