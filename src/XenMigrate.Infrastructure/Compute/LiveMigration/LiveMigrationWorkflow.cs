using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using XenMigrate.Domain.InstanceActions;
using XenMigrate.Domain.Migrations;
using XenMigrate.Domain.Servers;
using XenMigrate.Infrastructure.Compute.Common;
using XenMigrate.Infrastructure.Persistence;
using XenMigrate.Infrastructure.Telemetry;
using XenMigrate.Infrastructure.Xapi;
using XenMigrate.Infrastructure.XenServer;

namespace XenMigrate.Infrastructure.Compute.LiveMigration;

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
    StepJournal journal,
    IHypervisorDriver driver,
    DestinationScheduler scheduler,
    TimeProvider time,
    ILogger<LiveMigrationWorkflow> logger)
{
    private static readonly TimeSpan PollEvery = TimeSpan.FromMilliseconds(250);

    private DateTime Now => time.GetUtcNow().UtcDateTime;

    /// <summary>Carries the migration as far as it goes: to completed, error or cancelled.</summary>
    public async Task RunAsync(int migrationId, CancellationToken ct)
    {
        var ctx = await LoadAsync(migrationId, ct);
        var (migration, server, checkpoint) = (ctx.Migration, ctx.Server, ctx.Checkpoint);
        if (!migration.IsInProgress) return;
        if (checkpoint.AbortRequestedAt is not null && migration.Status is MigrationStatus.Accepted or MigrationStatus.Queued)
        {
            await EndAsync(migrationId, MigrationStatus.Cancelled, "Aborted before it started.", ct);
            return;
        }

        if (migration.Status == MigrationStatus.Accepted)
        {
            ctx.Started.Begin(InstanceEventNames.ConductorLiveMigrate, migration.SourceCompute);
            await using var placing = await scheduler.HoldGroupAsync(server, ct); // until the destination is saved
            if (migration.DestCompute is null)
            {
                var (host, reason) = await scheduler.PickAsync(server, migration, checkpoint.RequestedHost, ct);
                if (host is null)
                {
                    await ctx.SaveAsync(ct);
                    await EndAsync(migrationId, MigrationStatus.Error, reason, ct, InstanceEventNames.ConductorLiveMigrate);
                    return;
                }

                migration.SetDestination(host.Name, host.Name, await driver.AddressAsync(host.Name, ct), Now);
            }

            var vm = await driver.FindServerVmAsync(migration.SourceCompute!, server.Id, ct)
                     ?? throw new InvalidOperationException($"Server {server.Id} has no VM on {migration.SourceCompute}.");
            checkpoint.SourceVmUuid = vm.Uuid;
            checkpoint.SourcePowerState = vm.Power.ToString();
            migration.TransitionTo(MigrationStatus.Queued, Now);
            ctx.Started.End(InstanceEventNames.ConductorLiveMigrate);
            await ctx.SaveAsync(ct);
        }

        if (migration.Status == MigrationStatus.Queued)
        {
            migration.TransitionTo(MigrationStatus.Preparing, Now);
            ctx.Started.Notify("instance.live_migration_pre.start");
            await ctx.SaveAsync(ct);
        }

        if (migration.Status == MigrationStatus.Preparing && !await StartAsync(ctx, ct)) return;
        await FollowAsync(migrationId, ct);
    }

    /// <summary>
    /// Checks with XenServer and starts the move (unless a run that died already started it).
    /// False when the checks refused it (the migration then ended in error).
    /// </summary>
    private async Task<bool> StartAsync(MoveContext ctx, CancellationToken ct)
    {
        var (migration, server, checkpoint) = (ctx.Migration, ctx.Server, ctx.Checkpoint);
        var vm = await driver.FindVmAsync(migration.SourceCompute!, checkpoint.SourceVmUuid!, ct);
        if (vm is null || await driver.RunningLiveMigrationAsync(migration.SourceCompute!, vm.Uuid, ct) is not null)
        {
            // Gone from the source, or already moving: the follow-up finds out which.
            migration.TransitionTo(MigrationStatus.Running, Now);
            await ctx.SaveAsync(ct);
            return true;
        }

        if (checkpoint.AbortRequestedAt is not null)
        {
            await EndAsync(migration.Id, MigrationStatus.Cancelled, "Aborted before it started.", ct);
            return false;
        }

        ctx.Started.Begin(InstanceEventNames.CheckCanLiveMigrateDestination, migration.DestCompute);
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
            ctx.Started.Fail(InstanceEventNames.CheckCanLiveMigrateDestination, reason);
            await ctx.SaveAsync(ct);
            await EndAsync(migration.Id, MigrationStatus.Error, reason, ct);
            return false;
        }

        ctx.Started.End(InstanceEventNames.CheckCanLiveMigrateDestination);
        ctx.Started.Begin(InstanceEventNames.LiveMigration, migration.SourceCompute);
        checkpoint.XapiTaskRef = move.TaskRef;
        checkpoint.MovePath = move.Path.ToString();
        migration.TransitionTo(MigrationStatus.Running, Now);
        migration.RecordMemoryProgress(0, move.MemoryBytes, Now);
        migration.RecordDiskProgress(0, move.DiskBytes, Now);
        ctx.Started.Notify("instance.live_migration_pre.end");
        await ctx.SaveAsync(ct);
        LogStarted(logger, server.Id, migration.SourceCompute!, migration.DestCompute!, move.TaskRef);
        return true;
    }

    /// <summary>Follows the move until it ends: progress and aborts on the way, the outcome at the end.</summary>
    private async Task FollowAsync(int migrationId, CancellationToken ct)
    {
        var ctx = await LoadAsync(migrationId, ct);
        var (migration, checkpoint) = (ctx.Migration, ctx.Checkpoint);
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
                        ct, InstanceEventNames.LiveMigration);
                    return;
                case LiveMoveState.Cancelled:
                    await EndAsync(migrationId, MigrationStatus.Cancelled, "Aborted.", ct, InstanceEventNames.LiveMigration);
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
        var ctx = await LoadAsync(migrationId, ct);
        var (migration, server, checkpoint) = (ctx.Migration, ctx.Server, ctx.Checkpoint);
        if (!migration.IsInProgress) return;
        if (await RepauseIfItWasPausedAsync(migration.DestCompute!, checkpoint, ct)) power = VmPower.Paused;
        // XenServer reports no downtime: only what the gateway saw itself (a gap in the VM's power on both sides) is recorded.
        if (downtime is { } measured) migration.RecordDowntime(measured, Now);
        migration.RecordMemoryProgress(migration.MemoryTotalBytes, migration.MemoryTotalBytes, Now);
        migration.RecordDiskProgress(migration.DiskTotalBytes, migration.DiskTotalBytes, Now);
        ctx.Started.End(InstanceEventNames.LiveMigration);
        ctx.Started.Begin(InstanceEventNames.PostLiveMigrationAtDestination, migration.DestCompute);
        ctx.Started.Notify("instance.live_migration_post.start");
        server.FinishLiveMigration(migration.DestCompute!, migration.DestNode, power == VmPower.Paused ? PowerState.Paused : PowerState.Running, Now);
        migration.TransitionTo(MigrationStatus.Completed, Now);
        ctx.Started.End(InstanceEventNames.PostLiveMigrationAtDestination);
        ctx.Started.Notify("instance.live_migration_post.end");
        await ctx.SaveAsync(ct);
        XenMigrateTelemetry.RecordMoveEnded(migration, Now);
        LogCompleted(logger, server.Id, migration.SourceCompute!, migration.DestCompute!, migration.DowntimeMilliseconds ?? -1);
    }

    /// <summary>
    /// The migration did not happen (refused, failed, aborted or given up): the server is ACTIVE or
    /// PAUSED on its source again, as XenServer left it there.
    /// </summary>
    public async Task EndAsync(int migrationId, MigrationStatus status, string reason, CancellationToken ct, string? failedEvent = null)
    {
        var ctx = await LoadAsync(migrationId, ct);
        var (migration, server, checkpoint) = (ctx.Migration, ctx.Server, ctx.Checkpoint);
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

        if (failedEvent is not null) ctx.Started.Fail(failedEvent, reason);
        var rollback = status == MigrationStatus.Cancelled ? "instance.live_migration_abort" : "instance.live_migration_rollback";
        ctx.Started.Begin(InstanceEventNames.RollbackLiveMigration, migration.SourceCompute);
        ctx.Started.Notify(rollback + ".start");
        server.EndLiveMigrationOnSource(power, Now);
        migration.TransitionTo(status, Now);
        ctx.Started.End(InstanceEventNames.RollbackLiveMigration);
        ctx.Started.Notify(rollback + ".end");
        await ctx.SaveAsync(ct);
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

    private Task<MoveContext> LoadAsync(int migrationId, CancellationToken ct) => MoveContext.LoadAsync(db, journal, time, migrationId, ct);

    [LoggerMessage(Level = LogLevel.Information, Message = "Server {ServerId}: live migration {Source} → {Destination} started (task {Task})")]
    private static partial void LogStarted(ILogger logger, Guid serverId, string source, string destination, string task);

    [LoggerMessage(Level = LogLevel.Information, Message = "Server {ServerId} live-migrated from {Source} to {Destination}; downtime {DowntimeMs} ms")]
    private static partial void LogCompleted(ILogger logger, Guid serverId, string source, string destination, long downtimeMs);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Server {ServerId}: live migration ended {Status}: {Reason}")]
    private static partial void LogEnded(ILogger logger, Guid serverId, string status, string reason);
}
