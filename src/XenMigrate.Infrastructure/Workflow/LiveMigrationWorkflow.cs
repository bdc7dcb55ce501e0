using System.Globalization;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using XenMigrate.Domain.InstanceActions;
using XenMigrate.Domain.Migrations;
using XenMigrate.Domain.Servers;
using XenMigrate.Infrastructure.Inventory;
using XenMigrate.Infrastructure.Notifications;
using XenMigrate.Infrastructure.Persistence;
using XenMigrate.Infrastructure.Telemetry;
using XenMigrate.Infrastructure.Xapi;

namespace XenMigrate.Infrastructure.Workflow;

/// <summary>
/// A live migration between standalone hosts with Storage XenMotion: accepted → queued (a
/// destination picked) → preparing (<c>host.migrate_receive</c> on the destination,
/// <c>VM.assert_can_migrate</c> on the source) → running (<c>Async.VM.migrate_send</c>, its task
/// followed for progress and abort) → completed, or error / cancelled with the server running on
/// the source as it was. XenServer itself moves the VM (same uuid, disks mirrored then copied, a
/// short stop-and-copy); a failed or cancelled migrate_send leaves the source untouched. Every
/// pass is idempotent: it reads the migration and its checkpoint, and when it finds a migrate_send
/// already under way (a worker died) it follows that task — or, when the task is gone, asks the
/// hosts where the VM is.
/// </summary>
public sealed partial class LiveMigrationWorkflow(
    XenMigrateDbContext db,
    XenServerHosts hosts,
    DestinationScheduler scheduler,
    TimeProvider time,
    ILogger<LiveMigrationWorkflow> logger)
{
    public const string Action = "live-migration";

    /// <summary>Where the simulator (and the gateway's reading of it) keeps the measured downtime on the destination VM.</summary>
    public const string DowntimeKey = "last_migration_downtime_ms";

    private const string EventConductor = "conductor_live_migrate_instance";
    private const string EventCheck = "compute_check_can_live_migrate_destination";
    private const string EventMigrate = "compute_live_migration";
    private const string EventPost = "compute_post_live_migration_at_destination";
    private const string EventRollback = "compute_rollback_live_migration";
    private const string MigrateOperation = "migrate_send";

    private static readonly TimeSpan PollEvery = TimeSpan.FromMilliseconds(250);

    private DateTime Now => time.GetUtcNow().UtcDateTime;

    /// <summary>Carries the migration as far as it goes: to completed, error or cancelled.</summary>
    public async Task RunAsync(int migrationId, CancellationToken ct)
    {
        var (migration, server, checkpoint) = await LoadAsync(migrationId, ct);
        if (!migration.IsInProgress) return;
        if (checkpoint.AbortRequestedAt is not null && migration.Status is MigrationStatus.Accepted or MigrationStatus.Queued)
        {
            await EndAsync(migrationId, MigrationStatus.Cancelled, "Aborted before it started.", ct);
            return;
        }

        if (migration.Status == MigrationStatus.Accepted)
        {
            StartEvent(server, checkpoint, EventConductor, migration.SourceCompute);
            if (migration.DestCompute is null)
            {
                var (host, reason) = await scheduler.PickAsync(server, migration, checkpoint.RequestedHost, ct);
                if (host is null)
                {
                    await SaveAsync(checkpoint, ct);
                    await EndAsync(migrationId, MigrationStatus.Error, reason, ct, EventConductor);
                    return;
                }

                migration.SetDestination(host.Name, host.Name, new Uri((await hosts.FindAsync(host.Name, ct)).Url).Host, Now);
            }

            await using (var source = await hosts.OpenAsync(migration.SourceCompute!, ct))
            {
                var vm = await source.FindServerVmAsync(server.Id, ct)
                         ?? throw new InvalidOperationException($"Server {server.Id} has no VM on {migration.SourceCompute}.");
                checkpoint.SourceVmUuid = vm.Uuid;
                checkpoint.SourcePowerState = vm.PowerState;
            }

            migration.TransitionTo(MigrationStatus.Queued, Now);
            FinishEvent(server, checkpoint, EventConductor, true, null);
            await SaveAsync(checkpoint, ct);
        }

        if (migration.Status == MigrationStatus.Queued)
        {
            migration.TransitionTo(MigrationStatus.Preparing, Now);
            Notify("instance.live_migration_pre.start", server, checkpoint);
            await SaveAsync(checkpoint, ct);
        }

        if (migration.Status == MigrationStatus.Preparing && !await StartAsync(migration, server, checkpoint, ct)) return;
        await FollowAsync(migrationId, ct);
    }

    /// <summary>
    /// Checks with XenServer and starts migrate_send (unless a run that died already started it).
    /// False when the checks refused the move (the migration then ended in error).
    /// </summary>
    private async Task<bool> StartAsync(Migration migration, Server server, MigrationCheckpoint checkpoint, CancellationToken ct)
    {
        await using var source = await hosts.OpenAsync(migration.SourceCompute!, ct);
        var vmRef = await source.RefByUuidAsync("VM", checkpoint.SourceVmUuid, ct);
        if (vmRef is null || await RunningMigrateTaskAsync(source, vmRef, ct) is not null)
        {
            // Gone from the source, or already moving: the follow-up finds out which.
            migration.TransitionTo(MigrationStatus.Running, Now);
            await SaveAsync(checkpoint, ct);
            return true;
        }

        if (checkpoint.AbortRequestedAt is not null)
        {
            await EndAsync(migration.Id, MigrationStatus.Cancelled, "Aborted before it started.", ct);
            return false;
        }

        await using var dest = await hosts.OpenAsync(migration.DestCompute!, ct);
        var destHost = (await dest.HostsAsync(ct)).Values.First();
        var destSr = (await dest.PoolAsync(ct)).DefaultSr;
        var network = await dest.ManagementNetworkAsync(ct);
        var token = await dest.MigrateReceiveAsync(destHost.Ref, network, ct);

        var vm = await source.VmAsync(vmRef, ct);
        var vbds = await source.VbdsAsync(ct);
        var vdiMap = vm.Vbds.Where(vbds.ContainsKey).Select(r => vbds[r]).Where(b => b.IsDisk)
            .ToDictionary(b => b.Vdi, _ => destSr, StringComparer.Ordinal);
        var vifMap = XapiValues.Strings((await source.RecordAsync("VM", vmRef, ct))["VIFs"]).ToDictionary(v => v, _ => network, StringComparer.Ordinal);

        StartEvent(server, checkpoint, EventCheck, migration.DestCompute);
        try
        {
            await source.AssertCanMigrateAsync(vmRef, token, live: true, vdiMap, vifMap, ct);
        }
        catch (XapiException e)
        {
            FinishEvent(server, checkpoint, EventCheck, false, Reason(e));
            await SaveAsync(checkpoint, ct);
            await EndAsync(migration.Id, MigrationStatus.Error, Reason(e), ct);
            return false;
        }

        FinishEvent(server, checkpoint, EventCheck, true, null);
        StartEvent(server, checkpoint, EventMigrate, migration.SourceCompute);
        checkpoint.XapiTaskRef = await source.StartMigrateSendAsync(vmRef, token, live: true, vdiMap, vifMap, ct);
        migration.TransitionTo(MigrationStatus.Running, Now);
        migration.RecordMemoryProgress(0, vm.MemoryStaticMax, Now);
        Notify("instance.live_migration_pre.end", server, checkpoint);
        await SaveAsync(checkpoint, ct);
        LogStarted(logger, server.Id, migration.SourceCompute!, migration.DestCompute!, checkpoint.XapiTaskRef);
        return true;
    }

    /// <summary>Follows the migrate_send task until it ends: progress and aborts on the way, the outcome at the end.</summary>
    private async Task FollowAsync(int migrationId, CancellationToken ct)
    {
        var (migration, _, checkpoint) = await LoadAsync(migrationId, ct);
        if (migration.Status != MigrationStatus.Running) return;
        await using var source = await hosts.OpenAsync(migration.SourceCompute!, ct);
        var taskRef = checkpoint.XapiTaskRef;
        if (taskRef is null && await source.RefByUuidAsync("VM", checkpoint.SourceVmUuid, ct) is { } vmRef)
            taskRef = await RunningMigrateTaskAsync(source, vmRef, ct);

        var cancelSent = false;
        var lastPercent = -1;
        while (taskRef is not null)
        {
            XapiTask task;
            try
            {
                task = await source.TaskRecordAsync(taskRef, ct);
            }
            catch (XapiException e) when (e.Code == XapiException.HandleInvalid)
            {
                break; // the task is gone (destroyed, or the host restarted): where the VM is tells the outcome
            }

            switch (task.Status)
            {
                case "success":
                    await CompleteAsync(migrationId, task.Result, ct);
                    await DestroyTaskAsync(source, taskRef);
                    return;
                case "failure":
                    await EndAsync(migrationId, MigrationStatus.Error, Reason(task.ErrorInfo), ct, EventMigrate);
                    await DestroyTaskAsync(source, taskRef);
                    return;
                case "cancelled":
                    await EndAsync(migrationId, MigrationStatus.Cancelled, "Aborted.", ct, EventMigrate);
                    await DestroyTaskAsync(source, taskRef);
                    return;
            }

            if (!cancelSent && await AbortRequestedAsync(migrationId, ct))
            {
                await source.CallAsync("task.cancel", ct, taskRef);
                cancelSent = true;
            }

            lastPercent = await RecordProgressAsync(migrationId, task, lastPercent, ct);
            await Task.Delay(PollEvery, time, ct);
        }

        await ResolveByLocationAsync(migrationId, ct);
    }

    /// <summary>No task to follow: the VM on the destination means it moved; on the source, that it did not.</summary>
    private async Task ResolveByLocationAsync(int migrationId, CancellationToken ct)
    {
        var (migration, _, checkpoint) = await LoadAsync(migrationId, ct);
        await using var dest = await hosts.OpenAsync(migration.DestCompute!, ct);
        if (await dest.RefByUuidAsync("VM", checkpoint.SourceVmUuid, ct) is { } destVm)
        {
            await CompleteAsync(migrationId, destVm, ct);
            return;
        }

        var reason = checkpoint.AbortRequestedAt is null ? "The migration was interrupted; the server stayed on its host." : "Aborted.";
        await EndAsync(migrationId, checkpoint.AbortRequestedAt is null ? MigrationStatus.Error : MigrationStatus.Cancelled, reason, ct, EventMigrate);
    }

    /// <summary>The VM runs on the destination: the server follows, in the power state it had.</summary>
    private async Task CompleteAsync(int migrationId, string destVmRef, CancellationToken ct)
    {
        var (migration, server, checkpoint) = await LoadAsync(migrationId, ct);
        if (!migration.IsInProgress) return;
        await using var dest = await hosts.OpenAsync(migration.DestCompute!, ct);
        var vm = await dest.VmAsync(destVmRef, ct);
        if (vm.OtherConfig.TryGetValue(DowntimeKey, out var ms) && long.TryParse(ms, NumberStyles.Integer, CultureInfo.InvariantCulture, out var downtime))
            migration.RecordDowntime(TimeSpan.FromMilliseconds(downtime), Now);
        migration.RecordMemoryProgress(vm.MemoryStaticMax, vm.MemoryStaticMax, Now);
        migration.RecordDiskProgress(migration.DiskTotalBytes, migration.DiskTotalBytes, Now);
        FinishEvent(server, checkpoint, EventMigrate, true, null);
        StartEvent(server, checkpoint, EventPost, migration.DestCompute);
        Notify("instance.live_migration_post.start", server, checkpoint);
        server.FinishLiveMigration(migration.DestCompute!, migration.DestNode, vm.PowerState == "Paused" ? PowerState.Paused : PowerState.Running, Now);
        migration.TransitionTo(MigrationStatus.Completed, Now);
        FinishEvent(server, checkpoint, EventPost, true, null);
        Notify("instance.live_migration_post.end", server, checkpoint);
        await SaveAsync(checkpoint, ct);
        XenMigrateTelemetry.RecordMoveEnded(migration, Now);
        LogCompleted(logger, server.Id, migration.SourceCompute!, migration.DestCompute!, migration.DowntimeMilliseconds ?? -1);
    }

    /// <summary>
    /// The migration did not happen (refused, failed, aborted or given up): the server is ACTIVE or
    /// PAUSED on its source again, as XenServer left it there.
    /// </summary>
    public async Task EndAsync(int migrationId, MigrationStatus status, string reason, CancellationToken ct, string? failedEvent = null)
    {
        var (migration, server, checkpoint) = await LoadAsync(migrationId, ct);
        if (!migration.IsInProgress) return;
        var power = server.PowerState;
        try
        {
            await using var source = await hosts.OpenAsync(migration.SourceCompute!, ct);
            if (await source.RefByUuidAsync("VM", checkpoint.SourceVmUuid, ct) is { } vm)
                power = (await source.VmAsync(vm, ct)).PowerState switch { "Paused" => PowerState.Paused, "Running" => PowerState.Running, _ => power };
        }
        catch (Exception e) when (e is XapiException or XapiTransportException or TimeoutException)
        {
            // The source does not answer: the server keeps the power state last seen; the inventory corrects it later.
        }

        if (failedEvent is not null) FinishEvent(server, checkpoint, failedEvent, false, reason);
        var rollback = status == MigrationStatus.Cancelled ? "instance.live_migration_abort" : "instance.live_migration_rollback";
        StartEvent(server, checkpoint, EventRollback, migration.SourceCompute);
        Notify(rollback + ".start", server, checkpoint);
        server.EndLiveMigrationOnSource(power, Now);
        migration.TransitionTo(status, Now);
        FinishEvent(server, checkpoint, EventRollback, true, null);
        Notify(rollback + ".end", server, checkpoint);
        await SaveAsync(checkpoint, ct);
        XenMigrateTelemetry.RecordMoveEnded(migration, Now);
        LogEnded(logger, server.Id, status.ToNovaName(), reason);
    }

    /// <summary>The task's counters (the simulator's; a real host gives progress only) into the migration and the server.</summary>
    private async Task<int> RecordProgressAsync(int migrationId, XapiTask task, int lastPercent, CancellationToken ct)
    {
        var percent = (int)Math.Round(task.Progress * 100);
        if (percent == lastPercent) return lastPercent;
        var (migration, _, _) = await LoadAsync(migrationId, ct);
        long Counter(string key, long fallback) =>
            task.OtherConfig.TryGetValue(key, out var v) && long.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? n : fallback;
        var diskTotal = Counter("disk_total_bytes", migration.DiskTotalBytes);
        var diskDone = Math.Min(diskTotal, Counter("disk_processed_bytes", (long)(diskTotal * Math.Min(1, task.Progress / 0.9))));
        var memoryTotal = Counter("memory_total_bytes", migration.MemoryTotalBytes);
        var memoryDone = Math.Min(memoryTotal, Counter("memory_processed_bytes", task.Progress >= 0.99 ? memoryTotal : 0));
        // Written past the entities: the inventory may be touching the server row meanwhile.
        await db.Migrations.Where(m => m.Id == migrationId).ExecuteUpdateAsync(u => u
            .SetProperty(m => m.DiskTotalBytes, diskTotal).SetProperty(m => m.DiskProcessedBytes, diskDone)
            .SetProperty(m => m.DiskRemainingBytes, diskTotal - diskDone)
            .SetProperty(m => m.MemoryTotalBytes, memoryTotal).SetProperty(m => m.MemoryProcessedBytes, memoryDone)
            .SetProperty(m => m.MemoryRemainingBytes, memoryTotal - memoryDone)
            .SetProperty(m => m.UpdatedAt, Now), ct);
        await db.Servers.Where(s => s.Id == migration.InstanceUuid && s.TaskState == TaskState.Migrating)
            .ExecuteUpdateAsync(u => u.SetProperty(s => s.Progress, percent), ct);
        await db.MigrationCheckpoints.Where(c => c.MigrationId == migrationId).ExecuteUpdateAsync(u => u.SetProperty(c => c.UpdatedAt, Now), ct);
        return percent;
    }

    /// <summary>Finished tasks are xapi's to collect eventually; destroying ours is tidiness, not correctness.</summary>
    private static async Task DestroyTaskAsync(XapiSession source, string taskRef)
    {
        try
        {
            await source.CallAsync("task.destroy", CancellationToken.None, taskRef);
        }
        catch (Exception e) when (e is XapiException or XapiTransportException or TimeoutException)
        {
            // Left for xapi's garbage collection.
        }
    }

    private async Task<bool> AbortRequestedAsync(int migrationId, CancellationToken ct) =>
        await db.MigrationCheckpoints.AsNoTracking().Where(c => c.MigrationId == migrationId).Select(c => c.AbortRequestedAt).SingleAsync(ct) is not null;

    /// <summary>The migrate_send task working on the VM, as its current_operations show it (key: the task).</summary>
    private static async Task<string?> RunningMigrateTaskAsync(XapiSession source, string vmRef, CancellationToken ct) =>
        XapiValues.Map((await source.RecordAsync("VM", vmRef, ct))["current_operations"])
            .Where(p => p.Value == MigrateOperation).Select(p => p.Key).FirstOrDefault();

    private static string Reason(XapiException e) => Reason([e.Code, .. e.Parameters]);

    /// <summary>What a user may read: the XAPI error code and its parameters.</summary>
    private static string Reason(IReadOnlyList<string> errorInfo) =>
        errorInfo.Count == 0 ? "XenServer failed the migration." : $"XenServer refused the migration: {errorInfo[0]} [{string.Join(", ", errorInfo.Skip(1))}]";

    private InstanceAction? _action;

    private InstanceAction? ActionOf(Server server, MigrationCheckpoint checkpoint) =>
        _action ??= checkpoint.ResizeRequestId is null ? null
            : db.InstanceActions.Local.FirstOrDefault(a => a.ServerId == server.Id && a.RequestId == checkpoint.ResizeRequestId);

    private void StartEvent(Server server, MigrationCheckpoint checkpoint, string name, string? host) =>
        ActionOf(server, checkpoint)?.StartEvent(name, host, Now);

    private void FinishEvent(Server server, MigrationCheckpoint checkpoint, string name, bool ok, string? traceback)
    {
        if (ActionOf(server, checkpoint) is not { } a) return;
        a.StartEvent(name, null, Now);
        a.FinishEvent(name, ok, traceback, null, Now);
    }

    private void Notify(string eventType, Server server, MigrationCheckpoint checkpoint) =>
        NovaNotifications.Add(db, eventType, server, checkpoint.ResizeRequestId, Now);

    private async Task<(Migration, Server, MigrationCheckpoint)> LoadAsync(int migrationId, CancellationToken ct)
    {
        db.ChangeTracker.Clear();
        _action = null;
        var migration = await db.Migrations.SingleAsync(m => m.Id == migrationId, ct);
        var server = await db.Servers.SingleAsync(s => s.Id == migration.InstanceUuid, ct);
        var checkpoint = await db.MigrationCheckpoints.SingleAsync(c => c.MigrationId == migrationId, ct);
        if (checkpoint.ResizeRequestId is not null)
            await db.InstanceActions.Where(a => a.ServerId == server.Id && a.RequestId == checkpoint.ResizeRequestId).LoadAsync(ct);
        return (migration, server, checkpoint);
    }

    private async Task SaveAsync(MigrationCheckpoint checkpoint, CancellationToken ct)
    {
        checkpoint.UpdatedAt = Now;
        await db.SaveChangesAsync(ct);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Server {ServerId}: live migration {Source} → {Destination} started (task {Task})")]
    private static partial void LogStarted(ILogger logger, Guid serverId, string source, string destination, string task);

    [LoggerMessage(Level = LogLevel.Information, Message = "Server {ServerId} live-migrated from {Source} to {Destination}; downtime {DowntimeMs} ms")]
    private static partial void LogCompleted(ILogger logger, Guid serverId, string source, string destination, long downtimeMs);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Server {ServerId}: live migration ended {Status}: {Reason}")]
    private static partial void LogEnded(ILogger logger, Guid serverId, string status, string reason);
}
