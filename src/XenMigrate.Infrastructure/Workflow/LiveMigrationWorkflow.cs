using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using XenMigrate.Domain.InstanceActions;
using XenMigrate.Domain.Migrations;
using XenMigrate.Domain.Servers;
using XenMigrate.Infrastructure.Notifications;
using XenMigrate.Infrastructure.Persistence;
using XenMigrate.Infrastructure.Telemetry;
using XenMigrate.Infrastructure.Xapi;
using XenMigrate.Infrastructure.XenServer;

namespace XenMigrate.Infrastructure.Workflow;

/// <summary>
/// A live migration: accepted → queued (a destination picked) → preparing (XenServer's own checks)
/// → running (its task followed for progress and abort) → completed, or error / cancelled with
/// the server running on the source as it was. XenServer moves the VM (same uuid): with
/// VM.pool_migrate when the destination sees its disks (the same pool, shared storage), with
/// Storage XenMotion inside a pool or across pools; a failed or cancelled move leaves the source
/// untouched. The outcome comes only from the task's result, or — the task lost — from where the
/// VM runs; the progress from the task's progress; the downtime from the gateway's own watch of
/// the VM's power on both sides. Every pass is idempotent: it reads the migration and its
/// checkpoint, and a move already under way (a worker died) is followed, not started again.
/// </summary>
public sealed partial class LiveMigrationWorkflow(
    XenMigrateDbContext db,
    IHypervisorDriver driver,
    DestinationScheduler scheduler,
    TimeProvider time,
    ILogger<LiveMigrationWorkflow> logger)
{
    public const string Action = "live-migration";

    private const string EventConductor = "conductor_live_migrate_instance";
    private const string EventCheck = "compute_check_can_live_migrate_destination";
    private const string EventMigrate = "compute_live_migration";
    private const string EventPost = "compute_post_live_migration_at_destination";
    private const string EventRollback = "compute_rollback_live_migration";

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

                migration.SetDestination(host.Name, host.Name, await driver.AddressAsync(host.Name, ct), Now);
            }

            var vm = await driver.FindServerVmAsync(migration.SourceCompute!, server.Id, ct)
                     ?? throw new InvalidOperationException($"Server {server.Id} has no VM on {migration.SourceCompute}.");
            checkpoint.SourceVmUuid = vm.Uuid;
            checkpoint.SourcePowerState = vm.Power.ToString();
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
    /// Checks with XenServer and starts the move (unless a run that died already started it).
    /// False when the checks refused it (the migration then ended in error).
    /// </summary>
    private async Task<bool> StartAsync(Migration migration, Server server, MigrationCheckpoint checkpoint, CancellationToken ct)
    {
        var vm = await driver.FindVmAsync(migration.SourceCompute!, checkpoint.SourceVmUuid!, ct);
        if (vm is null || await driver.RunningLiveMigrationAsync(migration.SourceCompute!, vm.Uuid, ct) is not null)
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

        StartEvent(server, checkpoint, EventCheck, migration.DestCompute);
        LiveMove move;
        try
        {
            // xapi live-migrates only a running VM (xapi_vm_lifecycle.ml: pool_migrate [Running],
            // migrate_send [Halted; Suspended; Running]); Nova moves a paused one. So it runs for
            // the move and is paused again where it lands (or, failing, where it was).
            if (vm.Power == VmPower.Paused) await driver.UnpauseAsync(migration.SourceCompute!, vm.Uuid, ct);
            move = await driver.StartLiveMigrationAsync(migration.SourceCompute!, migration.DestCompute!, vm.Uuid, ct);
        }
        catch (Exception e) when (e is XapiException or UnmovableVmException)
        {
            var reason = e is XapiException x ? Reason([x.Code, .. x.Parameters]) : e.Message;
            await RepauseIfItWasPausedAsync(migration.SourceCompute!, checkpoint, ct);
            FinishEvent(server, checkpoint, EventCheck, false, reason);
            await SaveAsync(checkpoint, ct);
            await EndAsync(migration.Id, MigrationStatus.Error, reason, ct);
            return false;
        }

        FinishEvent(server, checkpoint, EventCheck, true, null);
        StartEvent(server, checkpoint, EventMigrate, migration.SourceCompute);
        checkpoint.XapiTaskRef = move.TaskRef;
        checkpoint.MovePath = move.Path.ToString();
        migration.TransitionTo(MigrationStatus.Running, Now);
        migration.RecordMemoryProgress(0, move.MemoryBytes, Now);
        migration.RecordDiskProgress(0, move.DiskBytes, Now);
        Notify("instance.live_migration_pre.end", server, checkpoint);
        await SaveAsync(checkpoint, ct);
        LogStarted(logger, server.Id, migration.SourceCompute!, migration.DestCompute!, move.TaskRef);
        return true;
    }

    /// <summary>Follows the move until it ends: progress and aborts on the way, the outcome at the end.</summary>
    private async Task FollowAsync(int migrationId, CancellationToken ct)
    {
        var (migration, _, checkpoint) = await LoadAsync(migrationId, ct);
        if (migration.Status != MigrationStatus.Running) return;
        var source = migration.SourceCompute!;
        var destination = migration.DestCompute!;
        var vmUuid = checkpoint.SourceVmUuid!;
        var taskRef = checkpoint.XapiTaskRef ?? await driver.RunningLiveMigrationAsync(source, vmUuid, ct);
        await using var downtime = driver.WatchDowntime(source, destination, vmUuid);
        var cancelSent = false;
        var lastPercent = -1;
        while (true)
        {
            var status = await driver.LiveMigrationStatusAsync(source, destination, vmUuid, taskRef, ct);
            switch (status.State)
            {
                case LiveMoveState.Succeeded:
                    await CompleteAsync(migrationId, status.Power, downtime.Downtime, ct);
                    return;
                case LiveMoveState.Failed:
                    var aborted = cancelSent || await AbortRequestedAsync(migrationId, ct);
                    await EndAsync(migrationId, aborted ? MigrationStatus.Cancelled : MigrationStatus.Error, aborted ? "Aborted." : Reason(status.Error),
                        ct, EventMigrate);
                    return;
                case LiveMoveState.Cancelled:
                    await EndAsync(migrationId, MigrationStatus.Cancelled, "Aborted.", ct, EventMigrate);
                    return;
            }

            if (taskRef is not null && !cancelSent && await AbortRequestedAsync(migrationId, ct))
            {
                await driver.CancelLiveMigrationAsync(source, taskRef, ct);
                cancelSent = true;
            }

            lastPercent = await RecordProgressAsync(migrationId, status.Progress, lastPercent, ct);
            await Task.Delay(PollEvery, time, ct);
        }
    }

    /// <summary>The VM runs on the destination: the server follows, in the power state it has there.</summary>
    private async Task CompleteAsync(int migrationId, VmPower power, TimeSpan? downtime, CancellationToken ct)
    {
        var (migration, server, checkpoint) = await LoadAsync(migrationId, ct);
        if (!migration.IsInProgress) return;
        if (await RepauseIfItWasPausedAsync(migration.DestCompute!, checkpoint, ct)) power = VmPower.Paused;
        // XenServer reports no downtime: only what the gateway saw itself (a gap in the VM's power on both sides) is recorded.
        if (downtime is { } measured) migration.RecordDowntime(measured, Now);
        migration.RecordMemoryProgress(migration.MemoryTotalBytes, migration.MemoryTotalBytes, Now);
        migration.RecordDiskProgress(migration.DiskTotalBytes, migration.DiskTotalBytes, Now);
        FinishEvent(server, checkpoint, EventMigrate, true, null);
        StartEvent(server, checkpoint, EventPost, migration.DestCompute);
        Notify("instance.live_migration_post.start", server, checkpoint);
        server.FinishLiveMigration(migration.DestCompute!, migration.DestNode, power == VmPower.Paused ? PowerState.Paused : PowerState.Running, Now);
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
            await RepauseIfItWasPausedAsync(migration.SourceCompute!, checkpoint, ct);
            if (checkpoint.SourceVmUuid is not null && await driver.FindVmAsync(migration.SourceCompute!, checkpoint.SourceVmUuid, ct) is { } vm)
                power = vm.Power switch { VmPower.Paused => PowerState.Paused, VmPower.Running => PowerState.Running, _ => power };
        }
        catch (Exception e) when (e is XapiException or XapiTransportException or TimeoutException or UnknownComputeHostException)
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

    /// <summary>
    /// A VM that was paused when the move began and runs now (it was unpaused for the move) is
    /// paused on <paramref name="host"/>; true when it is paused there. Idempotent, so a step run
    /// again after a crash pauses it once.
    /// </summary>
    private async Task<bool> RepauseIfItWasPausedAsync(string host, MigrationCheckpoint checkpoint, CancellationToken ct)
    {
        if (checkpoint.SourcePowerState != nameof(VmPower.Paused) || checkpoint.SourceVmUuid is null) return false;
        var vm = await driver.FindVmAsync(host, checkpoint.SourceVmUuid, ct);
        if (vm?.Power == VmPower.Running) await driver.PauseAsync(host, vm.Uuid, ct);
        return vm is { Power: VmPower.Running or VmPower.Paused };
    }

    /// <summary>
    /// XenServer's progress (0–1, all a real host gives) into the migration's counters and the
    /// server's progress: the bytes processed are that share of disks plus memory, disks first
    /// (Storage XenMotion copies them before the memory).
    /// </summary>
    private async Task<int> RecordProgressAsync(int migrationId, double progress, int lastPercent, CancellationToken ct)
    {
        var percent = (int)Math.Round(progress * 100);
        if (percent == lastPercent) return lastPercent;
        var totals = await db.Migrations.AsNoTracking().Where(m => m.Id == migrationId)
            .Select(m => new { m.InstanceUuid, m.DiskTotalBytes, m.MemoryTotalBytes }).SingleAsync(ct);
        var processed = (long)(Math.Clamp(progress, 0, 1) * (totals.DiskTotalBytes + totals.MemoryTotalBytes));
        var diskDone = Math.Min(totals.DiskTotalBytes, processed);
        var memoryDone = Math.Min(totals.MemoryTotalBytes, processed - diskDone);
        // Written past the entities: the inventory may be touching the server row meanwhile.
        await db.Migrations.Where(m => m.Id == migrationId).ExecuteUpdateAsync(u => u
            .SetProperty(m => m.DiskProcessedBytes, diskDone).SetProperty(m => m.DiskRemainingBytes, totals.DiskTotalBytes - diskDone)
            .SetProperty(m => m.MemoryProcessedBytes, memoryDone).SetProperty(m => m.MemoryRemainingBytes, totals.MemoryTotalBytes - memoryDone)
            .SetProperty(m => m.UpdatedAt, Now), ct);
        await db.Servers.Where(s => s.Id == totals.InstanceUuid && s.TaskState == TaskState.Migrating)
            .ExecuteUpdateAsync(u => u.SetProperty(s => s.Progress, percent), ct);
        await db.MigrationCheckpoints.Where(c => c.MigrationId == migrationId).ExecuteUpdateAsync(u => u.SetProperty(c => c.UpdatedAt, Now), ct);
        return percent;
    }

    private async Task<bool> AbortRequestedAsync(int migrationId, CancellationToken ct) =>
        await db.MigrationCheckpoints.AsNoTracking().Where(c => c.MigrationId == migrationId).Select(c => c.AbortRequestedAt).SingleAsync(ct) is not null;

    /// <summary>What a user may read: the XAPI error code and its parameters.</summary>
    private static string Reason(IReadOnlyList<string> errorInfo) =>
        errorInfo is ["INTERRUPTED", var why, ..] ? why :
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
