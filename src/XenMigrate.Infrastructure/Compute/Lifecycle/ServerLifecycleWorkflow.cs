using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using XenMigrate.Domain.Hosts;
using XenMigrate.Domain.InstanceActions;
using XenMigrate.Domain.Migrations;
using XenMigrate.Domain.Servers;
using XenMigrate.Infrastructure.Compute.Common;
using XenMigrate.Infrastructure.Compute.Resize;
using XenMigrate.Infrastructure.Images;
using XenMigrate.Infrastructure.Inventory;
using XenMigrate.Infrastructure.Persistence;
using XenMigrate.Infrastructure.XenServer;

namespace XenMigrate.Infrastructure.Compute.Lifecycle;

/// <summary>
/// Boot and delete of a server on XenServer. Boot: pick a host with the image and room (committed
/// first), then the driver builds the VM there — a clone of the template, tagged with the server
/// id while it is still a template (so the inventory never mistakes a half-built VM for a new
/// server), the flavor's memory and vCPUs, its disks provisioned from the template's description
/// or its own disk grown to the flavor — and it starts on that host. Every stage looks first for
/// what an earlier run made, so a re-run after a crash carries on. Delete: hard-stop and destroy
/// every VM, snapshot and disk of the server where it lives (both sides of an unconfirmed resize),
/// then soft-delete the row.
/// </summary>
public sealed partial class ServerLifecycleWorkflow(
    XenMigrateDbContext db,
    StepJournal journal,
    IHypervisorDriver driver,
    TemplateImages images,
    DestinationScheduler scheduler,
    TimeProvider time,
    ILogger<ServerLifecycleWorkflow> logger)
{
    private DateTime Now => time.GetUtcNow().UtcDateTime;

    public async Task BuildAsync(Guid serverId, CancellationToken ct)
    {
        db.ChangeTracker.Clear();
        var server = await db.Servers.SingleOrDefaultAsync(s => s.Id == serverId, ct);
        if (server is null || !server.IsBuilding) return; // built, failed, or being deleted
        var steps = await journal.ForLatestAsync(server, InstanceActionNames.Create, ct);

        if (server.Host is null)
        {
            steps.Begin(InstanceEventNames.BuildAndRun, null, "instance.create");
            await using var placing = await scheduler.HoldGroupAsync(server, ct); // until the host is saved
            var image = await images.FindAsync(Guid.Parse(server.ImageId!), ct);
            var candidates = await HostsWithNetworksAsync(image?.Hosts ?? [], server.RequestedNetworks?.NetworkIds ?? [], ct);
            var (host, reason) = await scheduler.PickForBuildAsync(server, candidates.Contains, ct);
            if (host is null) throw new NoValidHostException(image is null ? $"Image {server.ImageId} could not be found." : reason);
            server.BeginSpawn(host.Name, host.Name, Now);
            await db.SaveChangesAsync(ct); // placed before anything is made on the host
        }

        var flavor = server.Flavor;
        // The key pair as it is now (a pair deleted since the create is no longer handed out).
        var publicKey = server.KeyName is null ? null
            : await db.KeyPairs.AsNoTracking().Where(k => k.UserId == server.UserId && k.Name == server.KeyName).Select(k => k.PublicKey).FirstOrDefaultAsync(ct);
        var vm = await driver.BuildAsync(server.Host!, new BuildSpec(serverId, server.Name, server.ProjectId, server.UserId,
            Guid.Parse(server.ImageId!), flavor.MemoryMb, flavor.Vcpus, flavor.RootGb * (1L << 30),
            server.RequestedNetworks ?? RequestedNetworks.AutoAllocate, publicKey), ct);
        if (vm.Power == VmPower.Halted) await driver.StartAsync(server.Host!, vm.Uuid, paused: false, ct);
        // ACTIVE with its networks listed (openstacksdk refuses a server that reaches ACTIVE without any); the IPs follow as the guest reports them.
        server.ObserveAddresses(await driver.AddressesAsync(server.Host!, vm.Uuid, ct));

        server.FinishBuild(PowerState.Running, Now);
        steps.End(InstanceEventNames.BuildAndRun, "instance.create");
        await db.SaveChangesAsync(ct);
        LogBuilt(logger, server.Name, serverId, server.Host!);
    }

    /// <summary>
    /// The hosts whose pool has every requested network (a network's uuid names it in one pool
    /// only); none, for a build that asks for networks, is Nova's "Network … could not be found."
    /// </summary>
    private async Task<IReadOnlySet<string>> HostsWithNetworksAsync(IEnumerable<string> hosts, IReadOnlyList<string> networkIds, CancellationToken ct)
    {
        if (networkIds.Count == 0) return hosts.ToHashSet(StringComparer.Ordinal);
        var (fitting, answered) = await driver.HostsWithNetworksAsync(hosts, networkIds, ct);
        if (fitting.Count == 0 && answered)
            throw new NoValidHostException($"Network {string.Join(", ", networkIds)} could not be found.");
        return fitting;
    }

    /// <summary>
    /// The build gave up (no valid host, or its retries are spent): whatever it made on the host is
    /// removed, then the server is ERROR with the cause as its fault.
    /// </summary>
    public async Task FailBuildAsync(Guid serverId, string reason, CancellationToken ct)
    {
        db.ChangeTracker.Clear();
        var server = await db.Servers.SingleOrDefaultAsync(s => s.Id == serverId, ct);
        if (server is null || !server.IsBuilding) return;
        if (server.Host is not null)
        {
            await driver.DestroyServerAsync(server.Host, serverId, moveTag: null, ct);
        }

        (await journal.ForLatestAsync(server, InstanceActionNames.Create, ct)).Fail(InstanceEventNames.BuildAndRun, reason);
        server.FailBuild(new ServerFault(500, reason, null, Now), hostCleaned: true, Now);
        await db.SaveChangesAsync(ct);
        LogBuildFailed(logger, serverId, reason);
    }

    /// <summary>
    /// Destroys the server's VMs and disks where it lives; in VERIFY_RESIZE also the untouched source
    /// and the migration's snapshot (Nova confirms the resize on delete), then soft-deletes the row.
    /// </summary>
    public async Task DeleteAsync(Guid serverId, CancellationToken ct)
    {
        db.ChangeTracker.Clear();
        var server = await db.Servers.SingleOrDefaultAsync(s => s.Id == serverId, ct);
        if (server is null || server.TaskState != TaskState.Deleting) return;
        var steps = await journal.ForLatestAsync(server, InstanceActionNames.Delete, ct);
        steps.Begin(InstanceEventNames.Terminate, null);

        // VERIFY_RESIZE, or a confirm accepted and not yet done: both sides go (a racing confirm job settles as confirmed too).
        var migration = await db.Migrations.Where(m => m.InstanceUuid == serverId && (m.Status == MigrationStatus.Finished || m.Status == MigrationStatus.Confirming))
            .OrderByDescending(m => m.Id).FirstOrDefaultAsync(ct);
        var tag = migration?.Uuid.ToString();
        var places = new[] { server.Host, migration?.SourceCompute, migration?.DestCompute }.OfType<string>().Distinct().ToList();
        foreach (var place in places) await driver.DestroyServerAsync(place, serverId, tag, ct);

        if (migration is not null)
        {
            if (migration.Status == MigrationStatus.Finished) migration.TransitionTo(MigrationStatus.Confirming, Now);
            migration.TransitionTo(MigrationStatus.Confirmed, Now);
        }

        steps.Notify("instance.delete.start");
        server.MarkDeleted(Now);
        steps.End(InstanceEventNames.Terminate, "instance.delete");
        await db.SaveChangesAsync(ct);
        LogDeleted(logger, server.Name, serverId, string.Join(", ", places));
    }

    /// <summary>The delete kept failing: ERROR with the cause (Nova's outcome too); deleting again retries.</summary>
    public async Task FailDeleteAsync(Guid serverId, string reason, CancellationToken ct)
    {
        db.ChangeTracker.Clear();
        var server = await db.Servers.SingleOrDefaultAsync(s => s.Id == serverId, ct);
        if (server is null || server.TaskState != TaskState.Deleting) return;
        (await journal.ForLatestAsync(server, InstanceActionNames.Delete, ct)).Fail(InstanceEventNames.Terminate, reason);
        server.FailDelete(new ServerFault(500, reason, null, Now), Now);
        await db.SaveChangesAsync(ct);
    }

    /// <summary>Servers whose build or delete no worker carries on (a killed process, a lost job).</summary>
    public async Task<List<(Guid Id, bool Deleting)>> StalledAsync(DateTime cutoff, CancellationToken ct)
    {
        var rows = await db.Servers.AsNoTracking()
            .Where(s => s.UpdatedAt < cutoff && (s.VmState == VmState.Building || s.TaskState == TaskState.Deleting))
            .Select(s => new { s.Id, s.TaskState }).ToListAsync(ct);
        return rows.Select(r => (r.Id, r.TaskState == TaskState.Deleting)).ToList();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Server {Name} ({ServerId}) built on {Host}")]
    private static partial void LogBuilt(ILogger logger, string name, Guid serverId, string host);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Build of server {ServerId} failed: {Reason}")]
    private static partial void LogBuildFailed(ILogger logger, Guid serverId, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Server {Name} ({ServerId}) deleted from {Hosts}")]
    private static partial void LogDeleted(ILogger logger, string name, Guid serverId, string hosts);
}
