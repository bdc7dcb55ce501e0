using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using XenMigrate.Domain.InstanceActions;
using XenMigrate.Domain.Migrations;
using XenMigrate.Domain.Servers;
using XenMigrate.Infrastructure.Images;
using XenMigrate.Infrastructure.Inventory;
using XenMigrate.Infrastructure.Notifications;
using XenMigrate.Infrastructure.Persistence;
using XenMigrate.Infrastructure.XenServer;

namespace XenMigrate.Infrastructure.Workflow;

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
    IHypervisorDriver driver,
    TemplateImages images,
    DestinationScheduler scheduler,
    TimeProvider time,
    ILogger<ServerLifecycleWorkflow> logger)
{
    public const string CreateAction = "create";
    public const string DeleteAction = "delete";
    private const string EventBuild = "compute__do_build_and_run_instance";
    private const string EventTerminate = "compute_terminate_instance";

    private DateTime Now => time.GetUtcNow().UtcDateTime;

    public async Task BuildAsync(Guid serverId, CancellationToken ct)
    {
        db.ChangeTracker.Clear();
        var server = await db.Servers.SingleOrDefaultAsync(s => s.Id == serverId, ct);
        if (server is null || !server.IsBuilding) return; // built, failed, or being deleted
        var requestId = await RequestIdAsync(serverId, CreateAction, ct);

        if (server.Host is null)
        {
            await StartEventAsync(serverId, requestId, EventBuild, ct);
            NovaNotifications.Add(db, "instance.create.start", server, requestId, Now);
            var image = await images.FindAsync(Guid.Parse(server.ImageId!), ct);
            var (host, reason) = await scheduler.PickForBuildAsync(server, h => image?.Hosts.Contains(h) == true, ct);
            if (host is null) throw new NoValidHostException(image is null ? $"Image {server.ImageId} could not be found." : reason);
            server.BeginSpawn(host.Name, host.Name, Now);
            await db.SaveChangesAsync(ct); // placed before anything is made on the host
        }

        var flavor = server.Flavor;
        var vm = await driver.BuildAsync(server.Host!, new BuildSpec(serverId, server.Name, server.ProjectId, server.UserId,
            Guid.Parse(server.ImageId!), flavor.MemoryMb, flavor.Vcpus, flavor.RootGb * (1L << 30)), ct);
        if (vm.Power == VmPower.Halted) await driver.StartAsync(server.Host!, vm.Uuid, paused: false, ct);

        server.FinishBuild(PowerState.Running, Now);
        await FinishEventAsync(serverId, requestId, EventBuild, true, null, ct);
        NovaNotifications.Add(db, "instance.create.end", server, requestId, Now);
        await db.SaveChangesAsync(ct);
        LogBuilt(logger, server.Name, serverId, server.Host!);
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

        var requestId = await RequestIdAsync(serverId, CreateAction, ct);
        await FinishEventAsync(serverId, requestId, EventBuild, false, reason, ct);
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
        var requestId = await RequestIdAsync(serverId, DeleteAction, ct);
        await StartEventAsync(serverId, requestId, EventTerminate, ct);

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

        NovaNotifications.Add(db, "instance.delete.start", server, requestId, Now);
        server.MarkDeleted(Now);
        await FinishEventAsync(serverId, requestId, EventTerminate, true, null, ct);
        NovaNotifications.Add(db, "instance.delete.end", server, requestId, Now);
        await db.SaveChangesAsync(ct);
        LogDeleted(logger, server.Name, serverId, string.Join(", ", places));
    }

    /// <summary>The delete kept failing: ERROR with the cause (Nova's outcome too); deleting again retries.</summary>
    public async Task FailDeleteAsync(Guid serverId, string reason, CancellationToken ct)
    {
        db.ChangeTracker.Clear();
        var server = await db.Servers.SingleOrDefaultAsync(s => s.Id == serverId, ct);
        if (server is null || server.TaskState != TaskState.Deleting) return;
        await FinishEventAsync(serverId, await RequestIdAsync(serverId, DeleteAction, ct), EventTerminate, false, reason, ct);
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

    private async Task<string?> RequestIdAsync(Guid serverId, string action, CancellationToken ct) =>
        await db.InstanceActions.Where(a => a.ServerId == serverId && a.Action == action).OrderByDescending(a => a.Id)
            .Select(a => a.RequestId).FirstOrDefaultAsync(ct);

    private async Task<InstanceAction?> ActionAsync(Guid serverId, string? requestId, CancellationToken ct) =>
        requestId is null ? null : await db.InstanceActions.FirstOrDefaultAsync(a => a.ServerId == serverId && a.RequestId == requestId, ct);

    private async Task StartEventAsync(Guid serverId, string? requestId, string eventName, CancellationToken ct)
    {
        if (await ActionAsync(serverId, requestId, ct) is { } action) action.StartEvent(eventName, null, Now);
    }

    private async Task FinishEventAsync(Guid serverId, string? requestId, string eventName, bool ok, string? traceback, CancellationToken ct)
    {
        if (await ActionAsync(serverId, requestId, ct) is { } action)
        {
            action.StartEvent(eventName, null, Now);
            action.FinishEvent(eventName, ok, traceback, ok ? null : traceback, Now);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Server {Name} ({ServerId}) built on {Host}")]
    private static partial void LogBuilt(ILogger logger, string name, Guid serverId, string host);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Build of server {ServerId} failed: {Reason}")]
    private static partial void LogBuildFailed(ILogger logger, Guid serverId, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Server {Name} ({ServerId}) deleted from {Hosts}")]
    private static partial void LogDeleted(ILogger logger, string name, Guid serverId, string hosts);
}
