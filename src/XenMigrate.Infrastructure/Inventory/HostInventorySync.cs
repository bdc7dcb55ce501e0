using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using XenMigrate.Domain.Flavors;
using XenMigrate.Domain.Hosts;
using XenMigrate.Domain.Identity;
using XenMigrate.Domain.Servers;
using XenMigrate.Infrastructure.Persistence;
using XenMigrate.Infrastructure.Xapi;

namespace XenMigrate.Infrastructure.Inventory;

/// <summary>
/// One pass of the inventory over one host: the host becomes a ComputeHost row (up), each guest VM
/// a Server row. Rows owned by a running task (a migration) are left to that task.
/// </summary>
public sealed partial class HostInventorySync(
    XenMigrateDbContext db,
    TimeProvider time,
    ILogger<HostInventorySync> logger)
{
    public async Task<IReadOnlySet<Guid>> SyncAsync(XapiSession session, XenServerOptions options, CancellationToken ct)
    {
        var now = time.GetUtcNow().UtcDateTime;
        var hostOptions = session.Host;
        var xapiHost = (await session.HostsAsync(ct)).Values.First();
        await EnsureComputeHostAsync(hostOptions, xapiHost, now, ct);

        var vms = await session.VmsAsync(ct);
        var vbds = await session.VbdsAsync(ct);
        var vdis = await session.VdisAsync(ct);
        var flavors = await db.Flavors.ToListAsync(ct);
        var projects = await db.Projects.AsNoTracking().ToListAsync(ct);
        var assignments = await db.RoleAssignments.AsNoTracking().ToListAsync(ct);
        var users = await db.Users.AsNoTracking().ToListAsync(ct);

        var seen = new HashSet<Guid>();
        foreach (var vm in vms.Values.Where(v => v.IsGuest))
        {
            var serverId = await EnsureServerIdAsync(session, vm, ct);
            if (serverId is null) continue;
            seen.Add(serverId.Value);

            var rootBytes = vm.Vbds.Select(r => vbds.GetValueOrDefault(r)).Where(b => b is { IsDisk: true })
                .OrderBy(b => b!.Userdevice, StringComparer.Ordinal)
                .Select(b => vdis.GetValueOrDefault(b!.Vdi)?.VirtualSize ?? 0).FirstOrDefault();
            var memoryMb = (int)(vm.MemoryStaticMax / FlavorMatcher.MiB);
            var vcpus = (int)Math.Max(1, vm.VcpusMax);
            var rootGb = FlavorMatcher.CeilGiB(rootBytes);
            var power = ToPowerState(vm.PowerState);

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

                var project = Resolve(projects, vm.OtherConfig.GetValueOrDefault(InventoryKeys.Project),
                                  hostOptions.DefaultProject ?? options.DefaultProject)
                              ?? throw new InvalidOperationException(
                                  $"No project for VM {vm.Uuid}: the default project '{hostOptions.DefaultProject ?? options.DefaultProject}' does not exist.");
                var userId = ResolveUser(users, assignments, project, vm.OtherConfig.GetValueOrDefault(InventoryKeys.User));
                db.Servers.Add(new Server(serverId.Value, vm.NameLabel, project.Id, userId, flavor.Snapshot(),
                    hostOptions.Name, hostOptions.Name, ToVmState(power), power, now));
                LogDiscovered(logger, vm.NameLabel, serverId.Value, hostOptions.Name);
            }
            else if (server.TaskState is null && server.VmState != VmState.Resized)
            {
                // While a resize is open the workflow owns the server: both copies exist on purpose.
                if (server.Name != vm.NameLabel && !string.IsNullOrWhiteSpace(vm.NameLabel)) server.Rename(vm.NameLabel, now);
                server.ObservePlacement(hostOptions.Name, hostOptions.Name, now);
                server.ObservePowerState(power, now);
            }
        }

        try
        {
            await db.SaveChangesAsync(ct);
        }
        catch (DbUpdateException e)
        {
            // Another writer (a migration step, another gateway) changed a row first: the next pass sees theirs.
            LogConflict(logger, hostOptions.Name, e.GetType().Name);
        }

        return seen;
    }

    /// <summary>Marks the host down in the database (it stopped answering).</summary>
    public async Task ReportUnreachableAsync(string hostName, CancellationToken ct)
    {
        var host = await db.ComputeHosts.FirstOrDefaultAsync(h => h.Name == hostName, ct);
        if (host is null || !host.IsUp) return;
        host.ReportUnreachable(time.GetUtcNow().UtcDateTime);
        await db.SaveChangesAsync(ct);
    }

    /// <summary>Removes servers of this host that no host has reported for the grace period.</summary>
    public async Task ForgetAsync(IEnumerable<Guid> serverIds, string hostName, CancellationToken ct)
    {
        var ids = serverIds.ToList();
        if (ids.Count == 0) return;
        var gone = await db.Servers.Where(s => ids.Contains(s.Id) && s.Host == hostName && s.TaskState == null).ToListAsync(ct);
        db.Servers.RemoveRange(gone);
        await db.SaveChangesAsync(ct);
        foreach (var s in gone) LogForgotten(logger, s.Name, s.Id, hostName);
    }

    private async Task EnsureComputeHostAsync(XapiHostOptions options, XapiHost xapiHost, DateTime now, CancellationToken ct)
    {
        var host = await db.ComputeHosts.FirstOrDefaultAsync(h => h.Name == options.Name, ct);
        if (host is null)
        {
            host = new ComputeHost(Guid.TryParse(xapiHost.Uuid, out var uuid) ? uuid : Guid.NewGuid(), options.Name, options.Url, now);
            db.ComputeHosts.Add(host);
        }
        else if (host.XapiUrl != options.Url)
        {
            host.MoveTo(options.Url, now);
        }

        host.ReportAnswered(now);
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

    public static PowerState ToPowerState(string xapiPowerState) => xapiPowerState switch
    {
        "Running" => PowerState.Running,
        "Halted" => PowerState.Shutdown,
        "Paused" => PowerState.Paused,
        "Suspended" => PowerState.Suspended,
        _ => PowerState.NoState,
    };

    private static VmState ToVmState(PowerState power) => power switch
    {
        PowerState.Running => VmState.Active,
        PowerState.Paused => VmState.Paused,
        PowerState.Suspended => VmState.Suspended,
        _ => VmState.Stopped,
    };

    [LoggerMessage(Level = LogLevel.Information, Message = "Discovered VM {Name} as server {ServerId} on {Host}")]
    private static partial void LogDiscovered(ILogger logger, string name, Guid serverId, string host);

    [LoggerMessage(Level = LogLevel.Information, Message = "Server {Name} ({ServerId}) is on no host any more; last seen on {Host}")]
    private static partial void LogForgotten(ILogger logger, string name, Guid serverId, string host);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Inventory of {Host} lost a write race ({Error}); the next pass retries")]
    private static partial void LogConflict(ILogger logger, string host, string error);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Could not tag VM {VmUuid} with its server id ({Code}); the next pass retries")]
    private static partial void LogTagFailed(ILogger logger, string vmUuid, string code);
}
