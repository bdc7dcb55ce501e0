using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using XenMigrate.Domain.Hosts;
using XenMigrate.Domain.InstanceActions;
using XenMigrate.Domain.Migrations;
using XenMigrate.Domain.Servers;
using XenMigrate.Infrastructure.Compute.Common;
using XenMigrate.Infrastructure.Persistence;
using XenMigrate.Infrastructure.Telemetry;
using XenMigrate.Infrastructure.Transfer;
using XenMigrate.Infrastructure.XenServer;

namespace XenMigrate.Infrastructure.Compute.Resize;

/// <summary>
/// The steps of a resize or cold migration: prep (destination, the move's path for this pair of
/// hosts, every check that can fail) → copy base (VM running) → cut over (halt, copy the delta) →
/// finish (VERIFY_RESIZE), then confirm or revert; any step that keeps failing rolls back. On a
/// shared SR the disks are not copied: each is cloned (copy-on-write, no byte moves) at the cut
/// over. Each step is idempotent: it reads the checkpoint, finds what an earlier run made (tagged
/// with the migration uuid), and commits its transition before the next step is enqueued. The
/// source VM's disks are never written, so the source stays a complete copy until confirm; two
/// copies never run at once. XenServer is reached only through <see cref="IHypervisorDriver"/>.
/// </summary>
public sealed partial class ResizeWorkflow(
    XenMigrateDbContext db,
    StepJournal journal,
    MigrationProgressRecorder progress,
    IHypervisorDriver driver,
    DestinationScheduler scheduler,
    TimeProvider time,
    ILogger<ResizeWorkflow> logger)
{
    private DateTime Now => time.GetUtcNow().UtcDateTime;

    /// <summary>
    /// Picks and records the destination and the way the disks travel; checks what can be checked
    /// (the VM's devices, the destination's networks) so a move that cannot happen fails here,
    /// before anything is touched.
    /// </summary>
    public async Task<bool> PrepAsync(int migrationId, CancellationToken ct)
    {
        var ctx = await LoadAsync(migrationId, ct);
        var (migration, server, checkpoint) = (ctx.Migration, ctx.Server, ctx.Checkpoint);
        if (migration.Status != MigrationStatus.PreMigrating || migration.DestCompute is not null) return true;

        ctx.Started.Begin(InstanceEventNames.PrepResize, migration.SourceCompute, "instance.resize_prep");
        await using var placing = await scheduler.HoldGroupAsync(server, ct); // until the destination is saved
        var (host, reason) = await scheduler.PickAsync(server, migration, checkpoint.RequestedHost, ct);
        if (host is null)
        {
            ctx.Started.Fail(InstanceEventNames.PrepResize, reason);
            throw new NoValidHostException(reason);
        }

        var vm = await driver.FindServerVmAsync(migration.SourceCompute!, server.Id, ct)
                 ?? throw new InvalidOperationException($"Server {server.Id} has no VM on {migration.SourceCompute}.");
        MovePlan plan;
        try
        {
            plan = await driver.PlanMoveAsync(migration.SourceCompute!, host.Name, vm.Uuid, live: false, ct);
        }
        catch (UnmovableVmException e)
        {
            ctx.Started.Fail(InstanceEventNames.PrepResize, e.Message);
            throw new NoValidHostException(e.Message); // nothing was touched: give up at once
        }

        checkpoint.SourceVmUuid = vm.Uuid;
        checkpoint.SourcePowerState = vm.Power.ToString();
        checkpoint.MovePath = plan.Path.ToString();
        migration.SetDestination(host.Name, host.Name, await driver.AddressAsync(host.Name, ct), Now);
        ctx.Started.End(InstanceEventNames.PrepResize, "instance.resize_prep");
        await ctx.SaveAsync(ct);
        return true;
    }

    /// <summary>Snapshots the running VM and streams each disk's snapshot to new disks on the destination (nothing on a shared SR).</summary>
    public async Task CopyBaseAsync(int migrationId, CancellationToken ct)
    {
        var ctx = await LoadAsync(migrationId, ct);
        var (migration, server, checkpoint) = (ctx.Migration, ctx.Server, ctx.Checkpoint);
        if (migration.Status == MigrationStatus.PreMigrating)
        {
            migration.TransitionTo(MigrationStatus.Migrating, Now);
            server.AdvanceResize(TaskState.ResizeMigrating, 10, Now);
            ctx.Started.Begin(InstanceEventNames.ResizeInstance, migration.SourceCompute, "instance.resize");
            await ctx.SaveAsync(ct);
        }

        if (migration.Status != MigrationStatus.Migrating || checkpoint.SourceHaltedAt is not null) return;
        var tag = migration.Uuid.ToString();
        if (IsShared(checkpoint))
        {
            await PlanSharedDisksAsync(migration, checkpoint, ct);
            await ctx.SaveAsync(ct);
            return;
        }

        var snapshot = await driver.SnapshotAsync(migration.SourceCompute!, checkpoint.SourceVmUuid!, tag, ct);
        checkpoint.SnapshotVmUuid = snapshot.Uuid;
        await PlanCopiedDisksAsync(migration, checkpoint, snapshot, tag, ct);
        await ctx.SaveAsync(ct);

        foreach (var disk in checkpoint.Disks.Where(d => !d.BaseCopied && !d.WholeAtCutOver))
        {
            await driver.CopyDiskAsync(migration.SourceCompute!, disk.SnapshotVdiUuid!, null, migration.DestCompute!, disk.DestinationVdiUuid!,
                progress.For(migration.Id, server.Id, 10, 60), ct);
            disk.BaseCopied = true;
            await ctx.SaveAsync(ct);
        }
    }

    /// <summary>Stops the source (clean, then hard), blocks its start, and copies what changed since the snapshot (or clones, on a shared SR).</summary>
    public async Task CutOverAsync(int migrationId, CancellationToken ct)
    {
        var ctx = await LoadAsync(migrationId, ct);
        var (migration, server, checkpoint) = (ctx.Migration, ctx.Server, ctx.Checkpoint);
        if (migration.Status != MigrationStatus.Migrating) return;

        if (checkpoint.SourceHaltedAt is null)
        {
            await driver.ShutDownAsync(migration.SourceCompute!, checkpoint.SourceVmUuid!, reason => LogHardShutdown(logger, checkpoint.SourceVmUuid!, reason), ct);
            await driver.BlockStartAsync(migration.SourceCompute!, checkpoint.SourceVmUuid!,
                $"XenMigrate migration {migration.Uuid} moved this VM; confirm or revert it there.", ct);
            checkpoint.SourceHaltedAt = Now;
            await ctx.SaveAsync(ct);
        }

        var tag = migration.Uuid.ToString();
        foreach (var disk in checkpoint.Disks.Where(d => !d.DeltaCopied))
        {
            if (IsShared(checkpoint))
            {
                // The source is down: a copy-on-write clone on the shared SR is its exact content, and no byte moves.
                disk.DestinationVdiUuid = await driver.CloneDiskAsync(migration.SourceCompute!, disk.SourceVdiUuid,
                    DiskRequest(disk, tag, disk.VirtualSize), ct);
            }
            else
            {
                // What changed since the snapshot; a disk that gives no differencing export goes whole.
                await driver.CopyDiskAsync(migration.SourceCompute!, disk.SourceVdiUuid, disk.WholeAtCutOver ? null : disk.SnapshotVdiUuid,
                    migration.DestCompute!, disk.DestinationVdiUuid!, progress.For(migration.Id, server.Id, 60, 80), ct);
            }

            disk.DeltaCopied = true;
            await ctx.SaveAsync(ct);
        }

        migration.TransitionTo(MigrationStatus.PostMigrating, Now);
        server.AdvanceResize(TaskState.ResizeMigrated, 80, Now);
        ctx.Started.End(InstanceEventNames.ResizeInstance, "instance.resize");
        await ctx.SaveAsync(ct);
    }

    /// <summary>Grows the root disk, creates the VM with the new size on the destination and starts it there (unless it was off).</summary>
    public async Task FinishAsync(int migrationId, CancellationToken ct)
    {
        var ctx = await LoadAsync(migrationId, ct);
        var (migration, server, checkpoint) = (ctx.Migration, ctx.Server, ctx.Checkpoint);
        if (migration.Status != MigrationStatus.PostMigrating) return;
        if (server.TaskState == TaskState.ResizeMigrated)
        {
            server.AdvanceResize(TaskState.ResizeFinish, 85, Now);
            ctx.Started.Begin(InstanceEventNames.FinishResize, migration.DestCompute, "instance.resize_finish");
            await ctx.SaveAsync(ct);
        }

        var flavor = server.NewFlavor ?? server.Flavor;
        var tag = migration.Uuid.ToString();
        if (checkpoint.DestinationVmUuid is null || await driver.FindVmAsync(migration.DestCompute!, checkpoint.DestinationVmUuid, ct) is null)
        {
            var root = checkpoint.Disks.OrderBy(d => d.Userdevice, StringComparer.Ordinal).First();
            var wantedRoot = flavor.RootGb * 1024L * 1024 * 1024;
            if (wantedRoot > root.VirtualSize) await driver.GrowDiskAsync(migration.DestCompute!, root.DestinationVdiUuid!, wantedRoot, ct);
            var spec = new VmCopySpec(flavor.MemoryMb, flavor.Vcpus,
                checkpoint.Disks.ToDictionary(d => d.Userdevice, d => d.DestinationVdiUuid!, StringComparer.Ordinal),
                checkpoint.Disks.ToDictionary(d => d.Userdevice, d => d.Bootable, StringComparer.Ordinal), tag);
            checkpoint.DestinationVmUuid = await driver.CreateVmLikeAsync(migration.DestCompute!, migration.SourceCompute!, checkpoint.SourceVmUuid!, spec, ct);
            await ctx.SaveAsync(ct);
        }

        var wasRunning = checkpoint.SourcePowerState == nameof(VmPower.Running);
        var destVm = await driver.FindVmAsync(migration.DestCompute!, checkpoint.DestinationVmUuid!, ct)
                     ?? throw new XenServerObjectGoneException("VM", checkpoint.DestinationVmUuid!);
        if (wasRunning && destVm.Power == VmPower.Halted) await driver.StartAsync(migration.DestCompute!, destVm.Uuid, paused: false, ct);
        if (wasRunning && checkpoint.SourceHaltedAt is { } haltedAt) migration.RecordDowntime(Now - haltedAt, Now);

        server.FinishResize(migration.DestCompute!, migration.DestNode, wasRunning ? PowerState.Running : PowerState.Shutdown, Now);
        migration.TransitionTo(MigrationStatus.Finished, Now);
        ctx.Started.End(InstanceEventNames.FinishResize, "instance.resize_finish");
        await ctx.SaveAsync(ct);
        XenMigrateTelemetry.RecordMoveEnded(migration, Now);
        LogFinished(logger, server.Id, migration.SourceCompute!, migration.DestCompute!, migration.DowntimeMilliseconds ?? 0);
    }

    /// <summary>Confirm: the source VM, the move's snapshot and the source's disks are destroyed; the server stays where it is.</summary>
    public async Task ConfirmAsync(int migrationId, CancellationToken ct)
    {
        var ctx = await LoadAsync(migrationId, ct);
        var (migration, server, checkpoint) = (ctx.Migration, ctx.Server, ctx.Checkpoint);
        if (migration.Status != MigrationStatus.Confirming) return;
        ctx.ConfirmOrRevert.Begin(InstanceEventNames.ConfirmResize, migration.SourceCompute, "instance.resize_confirm");

        var tag = migration.Uuid.ToString();
        await driver.DestroyMoveArtifactsAsync(migration.SourceCompute!, tag, snapshotsOnly: true, ct);
        await driver.DestroyVmAsync(migration.SourceCompute!, checkpoint.SourceVmUuid, withDisks: true, ct);
        // A delete accepted meanwhile takes the destination VM (and the row) itself: the confirm
        // must neither touch that VM nor clear the delete's task_state (Nova confirms on delete).
        var deleting = server.VmState == VmState.Deleted || server.TaskState == TaskState.Deleting;
        if (checkpoint.DestinationVmUuid is not null && !deleting) await driver.ClearMoveTagAsync(migration.DestCompute!, checkpoint.DestinationVmUuid, ct);

        migration.TransitionTo(MigrationStatus.Confirmed, Now);
        if (!deleting) server.FinishConfirmResize(Now);
        ctx.ConfirmOrRevert.End(InstanceEventNames.ConfirmResize, "instance.resize_confirm");
        await ctx.SaveAsync(ct);
    }

    /// <summary>Revert: the destination copy is stopped and destroyed first, then the untouched source runs again.</summary>
    public async Task RevertAsync(int migrationId, CancellationToken ct)
    {
        var ctx = await LoadAsync(migrationId, ct);
        var (migration, server, checkpoint) = (ctx.Migration, ctx.Server, ctx.Checkpoint);
        if (migration.Status != MigrationStatus.Reverting) return;
        ctx.ConfirmOrRevert.Begin(InstanceEventNames.RevertResize, migration.DestCompute, "instance.resize_revert");
        await RestoreSourceAsync(migration, checkpoint, ct);
        ctx.ConfirmOrRevert.End(InstanceEventNames.RevertResize);
        ctx.ConfirmOrRevert.Begin(InstanceEventNames.FinishRevertResize, migration.SourceCompute);

        migration.TransitionTo(MigrationStatus.Reverted, Now);
        server.FinishRevertResize(checkpoint.SourcePowerState == nameof(VmPower.Running) ? PowerState.Running : PowerState.Shutdown, Now);
        ctx.ConfirmOrRevert.End(InstanceEventNames.FinishRevertResize, "instance.resize_revert");
        await ctx.SaveAsync(ct);
    }

    /// <summary>
    /// A step kept failing: remove what the migration made on the destination, bring the source VM
    /// back as it was, and record the failure (migration error, server fault, action event Error).
    /// </summary>
    public async Task RollBackAsync(int migrationId, string? reason, CancellationToken ct)
    {
        var ctx = await LoadAsync(migrationId, ct);
        var (migration, server, checkpoint) = (ctx.Migration, ctx.Server, ctx.Checkpoint);
        if (!migration.IsInProgress || migration.Status == MigrationStatus.Finished) return;

        // A confirm is never undone: the server already runs on the destination and the source may
        // be half destroyed. It stays confirming and the reconciler retries it until the source answers.
        if (migration.Status == MigrationStatus.Confirming) return;

        // Recorded first: if this rollback is cut short, the migration resumes it (the first cause stands).
        if (checkpoint.RollbackReason is null)
        {
            checkpoint.RollbackReason = reason ?? "The migration was rolled back.";
            await ctx.SaveAsync(ct);
        }

        reason = checkpoint.RollbackReason;

        if (migration.DestCompute is not null && checkpoint.SourceVmUuid is not null) await RestoreSourceAsync(migration, checkpoint, ct);

        var steps = migration.Status is MigrationStatus.Confirming or MigrationStatus.Reverting ? ctx.ConfirmOrRevert : ctx.Started;
        steps.Fail(steps.OpenStep ?? InstanceEventNames.PrepResize, reason, migration.SourceCompute);

        migration.TransitionTo(MigrationStatus.Error, Now);
        var power = checkpoint.SourcePowerState == nameof(VmPower.Halted) ? PowerState.Shutdown : PowerState.Running;
        var fault = new ServerFault(500, reason, null, Now);
        server.FailResize(fault, power, Now);
        steps.Notify("instance.resize.error", fault);
        await ctx.SaveAsync(ct);
        XenMigrateTelemetry.RecordMoveEnded(migration, Now);
        LogRolledBack(logger, server.Id, reason);
    }

    // ---- helpers ------------------------------------------------------------------------------

    /// <summary>
    /// Stop and destroy the destination copy (if any) and every disk tagged for the move there
    /// first; only then unblock and restart the source on its own host.
    /// </summary>
    private async Task RestoreSourceAsync(Migration migration, MigrationCheckpoint checkpoint, CancellationToken ct)
    {
        var tag = migration.Uuid.ToString();
        if (migration.DestCompute is not null)
        {
            await driver.DestroyVmAsync(migration.DestCompute, checkpoint.DestinationVmUuid, withDisks: true, ct);
            await driver.DestroyMoveArtifactsAsync(migration.DestCompute, tag, snapshotsOnly: false, ct);
        }

        if (await driver.FindVmAsync(migration.SourceCompute!, checkpoint.SourceVmUuid!, ct) is { } vm)
        {
            await driver.UnblockStartAsync(migration.SourceCompute!, vm.Uuid, ct);
            if (checkpoint.SourcePowerState == nameof(VmPower.Running) && vm.Power == VmPower.Halted)
                await driver.StartAsync(migration.SourceCompute!, vm.Uuid, paused: false, ct);
        }

        await driver.DestroyMoveArtifactsAsync(migration.SourceCompute!, tag, snapshotsOnly: true, ct);
    }

    private static bool IsShared(MigrationCheckpoint checkpoint) => checkpoint.MovePath == nameof(MovePath.SharedStorage);

    private static DiskRequest DiskRequest(DiskCheckpoint disk, string tag, long size) =>
        new(disk.NameLabel, $"Copied by XenMigrate migration {tag}", size, new Dictionary<string, string>
        {
            [XapiDriver.MoveTagKey] = tag, [XapiDriver.UserdeviceTagKey] = disk.Userdevice,
        });

    /// <summary>On a shared SR the disks are the source's own until the cut-over clones them.</summary>
    private async Task PlanSharedDisksAsync(Migration migration, MigrationCheckpoint checkpoint, CancellationToken ct)
    {
        if (checkpoint.Disks.Count > 0) return;
        checkpoint.Disks = (await driver.DisksAsync(migration.SourceCompute!, checkpoint.SourceVmUuid!, ct)).Select(d => new DiskCheckpoint
        {
            Userdevice = d.Userdevice, Bootable = d.Bootable, SourceVdiUuid = d.VdiUuid, VirtualSize = d.VirtualSize, NameLabel = d.NameLabel,
            BaseCopied = true,
        }).ToList();
    }

    /// <summary>The destination disks, made (or found again by their tags) on the destination's target SR.</summary>
    private async Task PlanCopiedDisksAsync(Migration migration, MigrationCheckpoint checkpoint, VmSnapshot snapshot, string tag, CancellationToken ct)
    {
        if (checkpoint.Disks.Count > 0 && checkpoint.Disks.All(d => d.DestinationVdiUuid is not null)) return;
        var disks = new List<DiskCheckpoint>();
        foreach (var disk in await driver.DisksAsync(migration.SourceCompute!, checkpoint.SourceVmUuid!, ct))
        {
            var planned = new DiskCheckpoint
            {
                Userdevice = disk.Userdevice, Bootable = disk.Bootable, SourceVdiUuid = disk.VdiUuid, VirtualSize = disk.VirtualSize,
                NameLabel = disk.NameLabel, SnapshotVdiUuid = snapshot.DisksByUserdevice[disk.Userdevice],
            };
            planned.DestinationVdiUuid = await driver.CreateDiskAsync(migration.DestCompute!, DiskRequest(planned, tag, disk.VirtualSize), ct);
            // A disk that must be written whole (thick LVM) takes no delta: it is copied once, after the shutdown.
            planned.WholeAtCutOver = !await driver.TakesDeltasAsync(migration.DestCompute!, planned.DestinationVdiUuid, ct);
            disks.Add(planned);
        }

        checkpoint.Disks = disks;
    }

    private Task<MoveContext> LoadAsync(int migrationId, CancellationToken ct) => MoveContext.LoadAsync(db, journal, time, migrationId, ct);

    [LoggerMessage(Level = LogLevel.Information, Message = "Server {ServerId} moved from {Source} to {Destination}; downtime {DowntimeMs} ms")]
    private static partial void LogFinished(ILogger logger, Guid serverId, string source, string destination, long downtimeMs);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Migration of server {ServerId} rolled back: {Reason}")]
    private static partial void LogRolledBack(ILogger logger, Guid serverId, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "VM {Vm} did not shut down cleanly ({Reason}); powering it off")]
    private static partial void LogHardShutdown(ILogger logger, string vm, string reason);
}

