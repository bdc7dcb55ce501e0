using System.Text.Json.Nodes;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using XenMigrate.Domain.InstanceActions;
using XenMigrate.Domain.Migrations;
using XenMigrate.Domain.Servers;
using XenMigrate.Infrastructure.Notifications;
using XenMigrate.Infrastructure.Persistence;
using XenMigrate.Infrastructure.Telemetry;
using XenMigrate.Infrastructure.Transfer;
using XenMigrate.Infrastructure.Xapi;

namespace XenMigrate.Infrastructure.Workflow;

/// <summary>
/// The steps of a resize or cold migration on standalone XenServer hosts (xapi.md's closing list):
/// prep → copy base (VM running) → cut over (halt, copy the delta) → finish (VERIFY_RESIZE), then
/// confirm or revert; any step that keeps failing rolls back. Each step is idempotent: it reads
/// the checkpoint, finds what an earlier run made (tagged with the migration uuid), and commits its
/// transition before the next step is enqueued. The source VM's disks are never written, so the
/// source stays a complete copy until confirm; two copies never run at once.
/// </summary>
public sealed partial class ResizeWorkflow(
    XenMigrateDbContext db,
    IServiceScopeFactory scopes,
    XenServerHosts hosts,
    DestinationScheduler scheduler,
    VdiTransfer transfer,
    IOptions<WorkflowOptions> options,
    TimeProvider time,
    ILogger<ResizeWorkflow> logger) : IDisposable
{
    private const string EventPrep = "compute_prep_resize";
    private const string EventResize = "compute_resize_instance";
    private const string EventFinish = "compute_finish_resize";
    private const string EventConfirm = "compute_confirm_resize";
    private const string EventRevert = "compute_revert_resize";
    private const string EventFinishRevert = "compute_finish_revert_resize";

    private DateTime Now => time.GetUtcNow().UtcDateTime;

    public void Dispose() => _flushing.Dispose();
    private TimeSpan OpTimeout => options.Value.OperationTimeout;

    /// <summary>Picks and records the destination. False when no host fits (the migration then fails).</summary>
    public async Task<bool> PrepAsync(int migrationId, CancellationToken ct)
    {
        var (migration, server, checkpoint) = await LoadAsync(migrationId, ct);
        if (migration.Status != MigrationStatus.PreMigrating || migration.DestCompute is not null) return true;

        await StartEventAsync(server, checkpoint.ResizeRequestId, EventPrep, migration.SourceCompute, ct);
        Notify("instance.resize_prep.start", server, checkpoint.ResizeRequestId);
        var (host, reason) = await scheduler.PickAsync(server, migration, checkpoint.RequestedHost, ct);
        if (host is null)
        {
            await FinishEventAsync(server, checkpoint.ResizeRequestId, EventPrep, false, reason, ct);
            throw new NoValidHostException(reason);
        }

        await using (var source = await hosts.OpenAsync(migration.SourceCompute!, ct))
        {
            var vm = await source.FindServerVmAsync(server.Id, ct)
                     ?? throw new InvalidOperationException($"Server {server.Id} has no VM on {migration.SourceCompute}.");
            checkpoint.SourceVmUuid = vm.Uuid;
            checkpoint.SourcePowerState = vm.PowerState;
        }

        var destUrl = (await hosts.FindAsync(host.Name, ct)).Url;
        migration.SetDestination(host.Name, host.Name, new Uri(destUrl).Host, Now);
        await FinishEventAsync(server, checkpoint.ResizeRequestId, EventPrep, true, null, ct);
        Notify("instance.resize_prep.end", server, checkpoint.ResizeRequestId);
        await SaveAsync(checkpoint, ct);
        return true;
    }

    /// <summary>Snapshots the running VM and streams each disk's snapshot to new VDIs on the destination.</summary>
    public async Task CopyBaseAsync(int migrationId, CancellationToken ct)
    {
        var (migration, server, checkpoint) = await LoadAsync(migrationId, ct);
        if (migration.Status == MigrationStatus.PreMigrating)
        {
            migration.TransitionTo(MigrationStatus.Migrating, Now);
            server.AdvanceResize(TaskState.ResizeMigrating, 10, Now);
            await StartEventAsync(server, checkpoint.ResizeRequestId, EventResize, migration.SourceCompute, ct);
            Notify("instance.resize.start", server, checkpoint.ResizeRequestId);
            await SaveAsync(checkpoint, ct);
        }

        if (migration.Status != MigrationStatus.Migrating || checkpoint.SourceHaltedAt is not null) return;

        await using var source = await hosts.OpenAsync(migration.SourceCompute!, ct);
        await using var dest = await hosts.OpenAsync(migration.DestCompute!, ct);
        var tag = migration.Uuid.ToString();

        // The snapshot: found when an earlier run already took it — by its tag, or by its name when
        // that run died between VM.snapshot and tagging it (a snapshot cannot be tagged as it is made).
        var vms = await source.VmsAsync(ct);
        var snapshot = vms.Values.FirstOrDefault(v => XapiObjects.IsSnapshotOf(v, tag));
        if (snapshot is null)
        {
            var sourceVm = vms.Values.Single(v => v.Uuid == checkpoint.SourceVmUuid);
            snapshot = await source.VmAsync(await source.CallAsyncTaskAsync("VM.snapshot", OpTimeout, ct, sourceVm.Ref, XapiObjects.SnapshotName(tag)), ct);
        }

        if (!snapshot.OtherConfig.ContainsKey(XapiObjects.MigrationTag))
            await source.AddToOtherConfigAsync("VM", snapshot.Ref, XapiObjects.MigrationTag, tag, ct);

        checkpoint.SnapshotVmUuid = snapshot.Uuid;
        await PlanDisksAsync(source, dest, checkpoint, snapshot, tag, ct);
        await SaveAsync(checkpoint, ct);

        foreach (var disk in checkpoint.Disks.Where(d => !d.BaseCopied))
        {
            var snapshotVdi = await source.RefByUuidAsync("VDI", disk.SnapshotVdiUuid, ct) ?? throw new InvalidOperationException("The snapshot disk is gone.");
            var destVdi = await dest.RefByUuidAsync("VDI", disk.DestinationVdiUuid, ct) ?? throw new InvalidOperationException("The destination disk is gone.");
            await transfer.CopyAsync(source, snapshotVdi, null, dest, destVdi, new DiskProgress(this, migration.Id, 10, 60), ct);
            disk.BaseCopied = true;
            await SaveAsync(checkpoint, ct);
        }
    }

    /// <summary>Stops the source (clean, then hard), blocks its start, and copies what changed since the snapshot.</summary>
    public async Task CutOverAsync(int migrationId, CancellationToken ct)
    {
        var (migration, server, checkpoint) = await LoadAsync(migrationId, ct);
        if (migration.Status != MigrationStatus.Migrating) return;

        await using var source = await hosts.OpenAsync(migration.SourceCompute!, ct);
        await using var dest = await hosts.OpenAsync(migration.DestCompute!, ct);
        var vm = await source.RefByUuidAsync("VM", checkpoint.SourceVmUuid, ct) ?? throw new InvalidOperationException("The source VM is gone.");

        if (checkpoint.SourceHaltedAt is null)
        {
            await ShutDownAsync(source, vm, ct);
            await BlockStartAsync(source, vm, migration.Uuid, ct);
            checkpoint.SourceHaltedAt = Now;
            await SaveAsync(checkpoint, ct);
        }

        foreach (var disk in checkpoint.Disks.Where(d => !d.DeltaCopied))
        {
            var sourceVdi = await source.RefByUuidAsync("VDI", disk.SourceVdiUuid, ct) ?? throw new InvalidOperationException("A source disk is gone.");
            var snapshotVdi = await source.RefByUuidAsync("VDI", disk.SnapshotVdiUuid, ct) ?? throw new InvalidOperationException("The snapshot disk is gone.");
            var destVdi = await dest.RefByUuidAsync("VDI", disk.DestinationVdiUuid, ct) ?? throw new InvalidOperationException("The destination disk is gone.");
            await transfer.CopyAsync(source, sourceVdi, snapshotVdi, dest, destVdi, new DiskProgress(this, migration.Id, 60, 80), ct);
            disk.DeltaCopied = true;
            await SaveAsync(checkpoint, ct);
        }

        migration.TransitionTo(MigrationStatus.PostMigrating, Now);
        server.AdvanceResize(TaskState.ResizeMigrated, 80, Now);
        await FinishEventAsync(server, checkpoint.ResizeRequestId, EventResize, true, null, ct);
        Notify("instance.resize.end", server, checkpoint.ResizeRequestId);
        await SaveAsync(checkpoint, ct);
    }

    /// <summary>Grows the disks, creates the VM with the new size on the destination and starts it (unless it was off).</summary>
    public async Task FinishAsync(int migrationId, CancellationToken ct)
    {
        var (migration, server, checkpoint) = await LoadAsync(migrationId, ct);
        if (migration.Status != MigrationStatus.PostMigrating) return;
        if (server.TaskState == TaskState.ResizeMigrated)
        {
            server.AdvanceResize(TaskState.ResizeFinish, 85, Now);
            await StartEventAsync(server, checkpoint.ResizeRequestId, EventFinish, migration.DestCompute, ct);
            Notify("instance.resize_finish.start", server, checkpoint.ResizeRequestId);
            await SaveAsync(checkpoint, ct);
        }

        await using var source = await hosts.OpenAsync(migration.SourceCompute!, ct);
        await using var dest = await hosts.OpenAsync(migration.DestCompute!, ct);
        var flavor = server.NewFlavor ?? server.Flavor;
        var tag = migration.Uuid.ToString();

        var destVm = await dest.RefByUuidAsync("VM", checkpoint.DestinationVmUuid, ct);
        if (destVm is null)
        {
            // A VM with our tag but not in the checkpoint was left half-built by a run that died
            // (its disks or VIFs may be missing): take it down, keeping the copied disks, and build anew.
            foreach (var halfBuilt in (await dest.VmsAsync(ct)).Values.Where(v => v.IsGuest && v.OtherConfig.GetValueOrDefault(XapiObjects.MigrationTag) == tag))
                await dest.DestroyVmAsync(halfBuilt.Uuid, withDisks: false, OpTimeout, ct);

            var root = checkpoint.Disks.OrderBy(d => d.Userdevice, StringComparer.Ordinal).First();
            var wantedRoot = flavor.RootGb * 1024L * 1024 * 1024;
            foreach (var disk in checkpoint.Disks)
            {
                var vdi = await dest.RefByUuidAsync("VDI", disk.DestinationVdiUuid, ct) ?? throw new InvalidOperationException("The destination disk is gone.");
                if (disk == root && wantedRoot > disk.VirtualSize) await dest.CallAsync("VDI.resize", ct, vdi, wantedRoot);
            }

            var sourceVmRef = await source.RefByUuidAsync("VM", checkpoint.SourceVmUuid, ct) ?? throw new InvalidOperationException("The source VM is gone.");
            var sourceRecord = await source.RecordAsync("VM", sourceVmRef, ct);
            destVm = await dest.CallForStringAsync("VM.create", ct, NewVmRecord(sourceRecord, flavor.MemoryMb, flavor.Vcpus, tag));
            foreach (var disk in checkpoint.Disks)
            {
                var vdi = await dest.RefByUuidAsync("VDI", disk.DestinationVdiUuid, ct);
                await dest.CallAsync("VBD.create", ct, new JsonObject
                {
                    ["VM"] = destVm, ["VDI"] = vdi, ["userdevice"] = disk.Userdevice, ["bootable"] = disk.Bootable, ["mode"] = "RW",
                    ["type"] = "Disk", ["empty"] = false, ["other_config"] = new JsonObject(), ["qos_algorithm_type"] = "",
                    ["qos_algorithm_params"] = new JsonObject(),
                });
            }

            await CopyVifsAsync(source, sourceRecord, dest, destVm, ct);
            checkpoint.DestinationVmUuid = await dest.UuidAsync("VM", destVm, ct);
            await SaveAsync(checkpoint, ct);
        }

        var wasRunning = checkpoint.SourcePowerState == "Running";
        var destRecord = await dest.VmAsync(destVm, ct);
        if (wasRunning && destRecord.PowerState == "Halted")
            await dest.CallAsyncTaskAsync("VM.start", OpTimeout, ct, destVm, false, false);
        if (wasRunning && checkpoint.SourceHaltedAt is { } haltedAt) migration.RecordDowntime(Now - haltedAt, Now);

        server.FinishResize(migration.DestCompute!, migration.DestNode, wasRunning ? PowerState.Running : PowerState.Shutdown, Now);
        migration.TransitionTo(MigrationStatus.Finished, Now);
        await FinishEventAsync(server, checkpoint.ResizeRequestId, EventFinish, true, null, ct);
        Notify("instance.resize_finish.end", server, checkpoint.ResizeRequestId);
        await SaveAsync(checkpoint, ct);
        XenMigrateTelemetry.RecordMoveEnded(migration, Now);
        LogFinished(logger, server.Id, migration.SourceCompute!, migration.DestCompute!, migration.DowntimeMilliseconds ?? 0);
    }

    /// <summary>Confirm: the source VM, its snapshot and its disks are destroyed; the server stays where it is.</summary>
    public async Task ConfirmAsync(int migrationId, CancellationToken ct)
    {
        var (migration, server, checkpoint) = await LoadAsync(migrationId, ct);
        if (migration.Status != MigrationStatus.Confirming) return;
        await StartEventAsync(server, checkpoint.ConfirmOrRevertRequestId, EventConfirm, migration.SourceCompute, ct);
        Notify("instance.resize_confirm.start", server, checkpoint.ConfirmOrRevertRequestId);

        await using (var source = await hosts.OpenAsync(migration.SourceCompute!, ct))
        {
            await DestroySnapshotsAsync(source, migration.Uuid.ToString(), ct);
            await source.DestroyVmAsync(checkpoint.SourceVmUuid, withDisks: true, OpTimeout, ct);
        }

        await using (var dest = await hosts.OpenAsync(migration.DestCompute!, ct))
        {
            if (await dest.RefByUuidAsync("VM", checkpoint.DestinationVmUuid, ct) is { } destVm)
                await RemoveTagAsync(dest, destVm, ct);
        }

        migration.TransitionTo(MigrationStatus.Confirmed, Now);
        server.FinishConfirmResize(Now);
        await FinishEventAsync(server, checkpoint.ConfirmOrRevertRequestId, EventConfirm, true, null, ct);
        Notify("instance.resize_confirm.end", server, checkpoint.ConfirmOrRevertRequestId);
        await SaveAsync(checkpoint, ct);
    }

    /// <summary>Revert: the destination copy is stopped and destroyed first, then the untouched source runs again.</summary>
    public async Task RevertAsync(int migrationId, CancellationToken ct)
    {
        var (migration, server, checkpoint) = await LoadAsync(migrationId, ct);
        if (migration.Status != MigrationStatus.Reverting) return;
        await StartEventAsync(server, checkpoint.ConfirmOrRevertRequestId, EventRevert, migration.DestCompute, ct);
        Notify("instance.resize_revert.start", server, checkpoint.ConfirmOrRevertRequestId);
        await RestoreSourceAsync(migration, checkpoint, ct);
        await FinishEventAsync(server, checkpoint.ConfirmOrRevertRequestId, EventRevert, true, null, ct);
        await StartEventAsync(server, checkpoint.ConfirmOrRevertRequestId, EventFinishRevert, migration.SourceCompute, ct);

        migration.TransitionTo(MigrationStatus.Reverted, Now);
        server.FinishRevertResize(checkpoint.SourcePowerState == "Running" ? PowerState.Running : PowerState.Shutdown, Now);
        await FinishEventAsync(server, checkpoint.ConfirmOrRevertRequestId, EventFinishRevert, true, null, ct);
        Notify("instance.resize_revert.end", server, checkpoint.ConfirmOrRevertRequestId);
        await SaveAsync(checkpoint, ct);
    }

    /// <summary>
    /// A step kept failing: remove what the migration made on the destination, bring the source VM
    /// back as it was, and record the failure (migration error, server fault, action event Error).
    /// </summary>
    public async Task RollBackAsync(int migrationId, string? reason, CancellationToken ct)
    {
        var (migration, server, checkpoint) = await LoadAsync(migrationId, ct);
        if (!migration.IsInProgress || migration.Status == MigrationStatus.Finished) return;

        // A confirm is never undone: the server already runs on the destination and the source may
        // be half destroyed. It stays confirming and the reconciler retries it until the source answers.
        if (migration.Status == MigrationStatus.Confirming) return;

        // Recorded first: if this rollback is cut short, the migration resumes it (the first cause stands).
        if (checkpoint.RollbackReason is null)
        {
            checkpoint.RollbackReason = reason ?? "The migration was rolled back.";
            await SaveAsync(checkpoint, ct);
        }

        reason = checkpoint.RollbackReason;

        if (migration.DestCompute is not null && checkpoint.SourceVmUuid is not null) await RestoreSourceAsync(migration, checkpoint, ct);

        var requestId = migration.Status is MigrationStatus.Confirming or MigrationStatus.Reverting
            ? checkpoint.ConfirmOrRevertRequestId : checkpoint.ResizeRequestId;
        var action = await ActionAsync(server.Id, requestId, ct);
        if (action is not null)
        {
            var open = action.Events.LastOrDefault(e => e.Result is null)?.EventName ?? EventPrep;
            action.StartEvent(open, migration.SourceCompute, Now);
            action.FinishEvent(open, succeeded: false, traceback: reason, details: reason, Now); // Nova's details: the failure's message
        }

        migration.TransitionTo(MigrationStatus.Error, Now);
        var power = checkpoint.SourcePowerState == "Halted" ? PowerState.Shutdown : PowerState.Running;
        var fault = new ServerFault(500, reason, null, Now);
        server.FailResize(fault, power, Now);
        Notify("instance.resize.error", server, requestId, fault);
        await SaveAsync(checkpoint, ct);
        XenMigrateTelemetry.RecordMoveEnded(migration, Now);
        LogRolledBack(logger, server.Id, reason);
    }

    // ---- helpers ------------------------------------------------------------------------------

    /// <summary>Queues a versioned notification in the outbox; it commits with the step's transition.</summary>
    private void Notify(string eventType, Server server, string? requestId, ServerFault? fault = null) =>
        NovaNotifications.Add(db, eventType, server, requestId, Now, server.NewFlavor, fault);

    /// <summary>Stop and destroy the destination copy (if any) first; only then unblock and restart the source.</summary>
    private async Task RestoreSourceAsync(Migration migration, MigrationCheckpoint checkpoint, CancellationToken ct)
    {
        var tag = migration.Uuid.ToString();
        if (migration.DestCompute is not null)
        {
            await using var dest = await hosts.OpenAsync(migration.DestCompute, ct);
            var destVm = checkpoint.DestinationVmUuid
                         ?? (await dest.VmsAsync(ct)).Values.FirstOrDefault(v => v.OtherConfig.GetValueOrDefault(XapiObjects.MigrationTag) == tag)?.Uuid;
            await dest.DestroyVmAsync(destVm, withDisks: true, OpTimeout, ct);
            foreach (var vdi in (await dest.VdisAsync(ct)).Values.Where(v => v.OtherConfig.GetValueOrDefault(XapiObjects.MigrationTag) == tag))
                await dest.DestroyVdiAsync(vdi.Ref, ct);
        }

        await using var source = await hosts.OpenAsync(migration.SourceCompute!, ct);
        if (await source.RefByUuidAsync("VM", checkpoint.SourceVmUuid, ct) is { } vm)
        {
            foreach (var op in new[] { "start", "start_on" })
                await source.CallAsync("VM.remove_from_blocked_operations", ct, vm, op);
            var record = await source.VmAsync(vm, ct);
            if (checkpoint.SourcePowerState == "Running" && record.PowerState == "Halted")
                await source.CallAsyncTaskAsync("VM.start", OpTimeout, ct, vm, false, false);
        }

        await DestroySnapshotsAsync(source, migration.Uuid.ToString(), ct);
    }

    /// <summary>
    /// The migration's snapshot on the source, found as CopyBase finds it (the recorded one is tagged
    /// before it is recorded), so one a dead run took but never recorded goes too.
    /// </summary>
    private async Task DestroySnapshotsAsync(XapiSession source, string tag, CancellationToken ct)
    {
        foreach (var snapshot in (await source.VmsAsync(ct)).Values.Where(v => XapiObjects.IsSnapshotOf(v, tag)))
            await source.DestroyVmAsync(snapshot.Uuid, withDisks: true, OpTimeout, ct);
    }

    private static async Task PlanDisksAsync(XapiSession source, XapiSession dest, MigrationCheckpoint checkpoint, XapiVm snapshot, string tag, CancellationToken ct)
    {
        if (checkpoint.Disks.Count > 0 && checkpoint.Disks.All(d => d.DestinationVdiUuid is not null)) return;

        var sourceVm = await source.VmAsync(await source.RefByUuidAsync("VM", checkpoint.SourceVmUuid, ct) ?? throw new InvalidOperationException("The source VM is gone."), ct);
        var vbds = await source.VbdsAsync(ct);
        var vdis = await source.VdisAsync(ct);
        var snapshotDisks = snapshot.Vbds.Select(r => vbds[r]).Where(b => b.IsDisk).ToDictionary(b => b.Userdevice, b => vdis[b.Vdi]);
        var destSr = (await dest.PoolAsync(ct)).DefaultSr;
        var existing = (await dest.VdisAsync(ct)).Values.Where(v => v.OtherConfig.GetValueOrDefault(XapiObjects.MigrationTag) == tag).ToList();

        var disks = new List<DiskCheckpoint>();
        foreach (var vbd in sourceVm.Vbds.Select(r => vbds[r]).Where(b => b.IsDisk).OrderBy(b => b.Userdevice, StringComparer.Ordinal))
        {
            var sourceVdi = vdis[vbd.Vdi];
            var snapVdi = snapshotDisks[vbd.Userdevice];
            var destVdi = existing.FirstOrDefault(v => v.OtherConfig.GetValueOrDefault(XapiObjects.UserdeviceTag) == vbd.Userdevice)?.Ref
                          ?? await dest.CallForStringAsync("VDI.create", ct, new JsonObject
                          {
                              ["name_label"] = sourceVdi.NameLabel, ["name_description"] = $"Copied by XenMigrate migration {tag}",
                              ["SR"] = destSr, ["virtual_size"] = sourceVdi.VirtualSize, ["type"] = "user", ["sharable"] = false,
                              ["read_only"] = false, ["xenstore_data"] = new JsonObject(), ["sm_config"] = new JsonObject(), ["tags"] = new JsonArray(),
                              ["other_config"] = new JsonObject { [XapiObjects.MigrationTag] = tag, [XapiObjects.UserdeviceTag] = vbd.Userdevice },
                          });
            var bootable = XapiValues.Bool((await source.RecordAsync("VBD", vbd.Ref, ct))["bootable"]);
            disks.Add(new DiskCheckpoint
            {
                Userdevice = vbd.Userdevice, Bootable = bootable, SourceVdiUuid = sourceVdi.Uuid, SnapshotVdiUuid = snapVdi.Uuid,
                DestinationVdiUuid = await dest.UuidAsync("VDI", destVdi, ct), VirtualSize = sourceVdi.VirtualSize,
            });
        }

        checkpoint.Disks = disks;
    }

    private Task ShutDownAsync(XapiSession source, string vm, CancellationToken ct) =>
        source.ShutDownAsync(vm, options.Value.CleanShutdownTimeout, OpTimeout, reason => LogHardShutdown(logger, vm, reason), ct);

    private static async Task BlockStartAsync(XapiSession source, string vm, Guid migration, CancellationToken ct)
    {
        var blocked = XapiValues.Map((await source.RecordAsync("VM", vm, ct))["blocked_operations"]);
        foreach (var op in new[] { "start", "start_on" })
        {
            if (!blocked.ContainsKey(op))
                await source.CallAsync("VM.add_to_blocked_operations", ct, vm, op, $"XenMigrate migration {migration} moved this VM; confirm or revert it there.");
        }
    }

    private static async Task CopyVifsAsync(XapiSession source, JsonObject sourceRecord, XapiSession dest, string destVm, CancellationToken ct)
    {
        var networks = await dest.CallAsync("network.get_all_records", ct) as JsonObject ?? [];
        var network = networks.Select(p => p.Key).FirstOrDefault();
        if (network is null) return;
        foreach (var vifRef in XapiValues.Strings(sourceRecord["VIFs"]))
        {
            var vif = await source.RecordAsync("VIF", vifRef, ct);
            await dest.CallAsync("VIF.create", ct, new JsonObject
            {
                ["device"] = XapiValues.String(vif["device"]), ["network"] = network, ["VM"] = destVm, ["MAC"] = XapiValues.String(vif["MAC"]),
                ["MTU"] = XapiValues.Int(vif["MTU"]), ["other_config"] = new JsonObject(), ["qos_algorithm_type"] = "",
                ["qos_algorithm_params"] = new JsonObject(),
            });
        }
    }

    /// <summary>The VM.create record: the source's own, with the new memory and vCPUs and a fresh identity.</summary>
    private static JsonObject NewVmRecord(JsonObject source, int memoryMb, int vcpus, string tag)
    {
        string[] copied =
        [
            "name_label", "name_description", "user_version", "actions_after_shutdown", "actions_after_reboot", "actions_after_crash",
            "PV_bootloader", "PV_kernel", "PV_ramdisk", "PV_args", "PV_bootloader_args", "PV_legacy_args", "HVM_boot_policy",
            "HVM_boot_params", "HVM_shadow_multiplier", "platform", "PCI_bus", "recommendations", "domain_type", "VCPUs_params",
            "xenstore_data", "tags", "NVRAM", "hardware_platform_version", "has_vendor_device",
        ];
        var record = new JsonObject();
        foreach (var key in copied)
            if (source.TryGetPropertyValue(key, out var value) && value is not null) record[key] = value.DeepClone();

        var memory = memoryMb * 1024L * 1024;
        var staticMin = Math.Min(XapiValues.Int(source["memory_static_min"]), memory);
        record["is_a_template"] = false;
        record["affinity"] = XapiValues.NullRef;
        record["memory_static_min"] = staticMin;
        record["memory_static_max"] = memory;
        record["memory_dynamic_min"] = memory;
        record["memory_dynamic_max"] = memory;
        record["VCPUs_max"] = vcpus;
        record["VCPUs_at_startup"] = vcpus;
        record["blocked_operations"] = new JsonObject();
        var otherConfig = XapiValues.Map(source["other_config"]);
        otherConfig.Remove("mac_seed"); // the new VM gets its own
        otherConfig[XapiObjects.MigrationTag] = tag;
        record["other_config"] = new JsonObject(otherConfig.Select(p => KeyValuePair.Create(p.Key, (JsonNode?)p.Value)));
        return record;
    }

    private static async Task RemoveTagAsync(XapiSession s, string vm, CancellationToken ct) =>
        await s.RemoveFromOtherConfigAsync("VM", vm, XapiObjects.MigrationTag, ct);

    private async Task<(Migration, Server, MigrationCheckpoint)> LoadAsync(int migrationId, CancellationToken ct)
    {
        db.ChangeTracker.Clear();
        var migration = await db.Migrations.SingleAsync(m => m.Id == migrationId, ct);
        var server = await db.Servers.SingleAsync(s => s.Id == migration.InstanceUuid, ct);
        var checkpoint = await db.MigrationCheckpoints.SingleAsync(c => c.MigrationId == migrationId, ct);
        return (migration, server, checkpoint);
    }

    private async Task SaveAsync(MigrationCheckpoint checkpoint, CancellationToken ct)
    {
        checkpoint.UpdatedAt = Now;
        db.Entry(checkpoint).Property(c => c.Disks).IsModified = true; // a list changed in place
        await db.SaveChangesAsync(ct);
    }

    private async Task<InstanceAction?> ActionAsync(Guid serverId, string? requestId, CancellationToken ct) =>
        requestId is null ? null : await db.InstanceActions.FirstOrDefaultAsync(a => a.ServerId == serverId && a.RequestId == requestId, ct);

    private async Task StartEventAsync(Server server, string? requestId, string eventName, string? host, CancellationToken ct)
    {
        if (await ActionAsync(server.Id, requestId, ct) is { } action) action.StartEvent(eventName, host, Now);
    }

    private async Task FinishEventAsync(Server server, string? requestId, string eventName, bool ok, string? traceback, CancellationToken ct)
    {
        if (await ActionAsync(server.Id, requestId, ct) is { } action)
        {
            action.StartEvent(eventName, null, Now);
            action.FinishEvent(eventName, ok, traceback, null, Now);
        }
    }

    /// <summary>
    /// Feeds a disk copy's bytes (of the VHD stream: allocated blocks only) into the migration's
    /// counters and the server's progress within the step's percent range, at most every second.
    /// </summary>
    private sealed class DiskProgress(ResizeWorkflow workflow, int migrationId, int fromPercent, int toPercent) : IProgress<TransferProgress>
    {
        private DateTime _last = DateTime.MinValue;

        public void Report(TransferProgress value) =>
            workflow.RecordProgress(migrationId, value.BytesCopied, value.TotalBytes, fromPercent, toPercent, ref _last);
    }

    private readonly Lock _progressLock = new();
    private readonly SemaphoreSlim _flushing = new(1, 1);
    private (long Done, long Total, int Percent)? _pendingProgress;

    private void RecordProgress(int migrationId, long done, long total, int from, int to, ref DateTime last)
    {
        var now = DateTime.UtcNow;
        if (now - last < TimeSpan.FromSeconds(1) && done < total) return;
        last = now;
        var percent = from + (int)((to - from) * (total == 0 ? 1.0 : Math.Min(1.0, (double)done / total)));
        lock (_progressLock) _pendingProgress = (Math.Min(done, total), total, percent);
        _ = FlushProgressAsync(migrationId);
    }

    /// <summary>
    /// Writes the latest counters with a context of its own (the step's context is busy with the
    /// transfer); a flush still running makes the next one wait rather than overlap.
    /// </summary>
    private async Task FlushProgressAsync(int migrationId)
    {
        if (!await _flushing.WaitAsync(0)) return; // the running flush picks up the newest values after it
        try
        {
            while (true)
            {
                (long Done, long Total, int Percent)? pending;
                lock (_progressLock)
                {
                    pending = _pendingProgress;
                    _pendingProgress = null;
                }

                if (pending is not { } p) return;
                await using var scope = scopes.CreateAsyncScope();
                var progressDb = scope.ServiceProvider.GetRequiredService<XenMigrateDbContext>();
                await progressDb.Migrations.Where(m => m.Id == migrationId)
                    .ExecuteUpdateAsync(u => u.SetProperty(m => m.DiskProcessedBytes, p.Done).SetProperty(m => m.DiskTotalBytes, p.Total)
                        .SetProperty(m => m.DiskRemainingBytes, p.Total - p.Done));
                var serverId = await progressDb.Migrations.Where(m => m.Id == migrationId).Select(m => m.InstanceUuid).SingleAsync();
                await progressDb.Servers.Where(x => x.Id == serverId).ExecuteUpdateAsync(u => u.SetProperty(x => x.Progress, p.Percent));
            }
        }
        catch (Exception e) when (e is DbUpdateException or InvalidOperationException)
        {
            LogProgressLost(logger, migrationId, e.Message); // progress is advisory; the step carries on
        }
        finally
        {
            _flushing.Release();
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Progress of migration {MigrationId} not recorded: {Reason}")]
    private static partial void LogProgressLost(ILogger logger, int migrationId, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Server {ServerId} moved from {Source} to {Destination}; downtime {DowntimeMs} ms")]
    private static partial void LogFinished(ILogger logger, Guid serverId, string source, string destination, long downtimeMs);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Migration of server {ServerId} rolled back: {Reason}")]
    private static partial void LogRolledBack(ILogger logger, Guid serverId, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "VM {Vm} did not shut down cleanly ({Reason}); powering it off")]
    private static partial void LogHardShutdown(ILogger logger, string vm, string reason);
}

/// <summary>No host can take the server (Nova's NoValidHost).</summary>
public sealed class NoValidHostException(string message) : Exception(message);
