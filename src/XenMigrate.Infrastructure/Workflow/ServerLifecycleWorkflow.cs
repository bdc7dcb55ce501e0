using System.Text.Json.Nodes;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using XenMigrate.Domain.InstanceActions;
using XenMigrate.Domain.Migrations;
using XenMigrate.Domain.Servers;
using XenMigrate.Infrastructure.Images;
using XenMigrate.Infrastructure.Inventory;
using XenMigrate.Infrastructure.Notifications;
using XenMigrate.Infrastructure.Persistence;
using XenMigrate.Infrastructure.Xapi;

namespace XenMigrate.Infrastructure.Workflow;

/// <summary>
/// Boot and delete of a server on XenServer. Boot: pick a host with the image and room (committed
/// first), clone the template there under a build name, tag it with the server id while it is
/// still a template (so the inventory never mistakes a half-built VM for a new server), give it
/// the flavor's memory, vCPUs and a root disk on the default SR, make it a VM and start it. Every
/// step looks first for what an earlier run made (by tag, or by the build name), so a re-run after
/// a crash carries on. Delete: hard-stop and destroy every VM, snapshot and disk of the server on
/// the hosts it lives on (both sides of an unconfirmed resize), then soft-delete the row.
/// </summary>
public sealed partial class ServerLifecycleWorkflow(
    XenMigrateDbContext db,
    XenServerHosts hosts,
    TemplateImages images,
    DestinationScheduler scheduler,
    IOptions<WorkflowOptions> options,
    TimeProvider time,
    ILogger<ServerLifecycleWorkflow> logger)
{
    public const string CreateAction = "create";
    public const string DeleteAction = "delete";
    private const string EventBuild = "compute__do_build_and_run_instance";
    private const string EventTerminate = "compute_terminate_instance";

    /// <summary>The root disk a flavor without one (disk 0) gets: templates carry no image size to use instead.</summary>
    private const long DefaultRootBytes = 1L << 30;

    private DateTime Now => time.GetUtcNow().UtcDateTime;
    private TimeSpan OpTimeout => options.Value.OperationTimeout;

    /// <summary>The name a build gives its clone until the VM is finished: how a clone made but not yet tagged is found.</summary>
    public static string BuildName(Guid serverId) => $"xenmigrate-build-{serverId}";

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

        await using var session = await hosts.OpenAsync(server.Host!, ct);
        var vm = await FindBuildAsync(session, serverId, ct);
        if (vm is null)
        {
            var template = await TemplateImages.TemplateOnHostAsync(session, Guid.Parse(server.ImageId!), ct)
                           ?? throw new InvalidOperationException($"Image {server.ImageId} is not on {server.Host}.");
            vm = await session.VmAsync(await session.CallAsyncTaskAsync("VM.clone", OpTimeout, ct, template.Ref, BuildName(serverId)), ct);
        }

        if (vm.IsATemplate)
        {
            await ShapeAsync(session, vm, server, ct);
            await session.CallAsync("VM.set_is_a_template", ct, vm.Ref, false); // from here the inventory sees a (building) server
        }

        if (vm.NameLabel != server.Name) await session.CallAsync("VM.set_name_label", ct, vm.Ref, server.Name);
        if ((await session.VmAsync(vm.Ref, ct)).PowerState == "Halted")
            await session.CallAsyncTaskAsync("VM.start", OpTimeout, ct, vm.Ref, false, false);

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
            await using var session = await hosts.OpenAsync(server.Host, ct);
            await DestroyServerObjectsAsync(session, serverId, migrationTag: null, ct);
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

        var migration = await db.Migrations.Where(m => m.InstanceUuid == serverId && m.Status == MigrationStatus.Finished)
            .OrderByDescending(m => m.Id).FirstOrDefaultAsync(ct);
        var tag = migration?.Uuid.ToString();
        var places = new[] { server.Host, migration?.SourceCompute, migration?.DestCompute }.OfType<string>().Distinct().ToList();
        foreach (var place in places)
        {
            await using var session = await hosts.OpenAsync(place, ct);
            await DestroyServerObjectsAsync(session, serverId, tag, ct);
        }

        if (migration is not null)
        {
            migration.TransitionTo(MigrationStatus.Confirming, Now);
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

    /// <summary>The half-built or built VM of a server: tagged with its id, or (tag not yet written) named as the build names it.</summary>
    private static async Task<XapiVm?> FindBuildAsync(XapiSession s, Guid serverId, CancellationToken ct) =>
        (await s.VmsAsync(ct)).Values.FirstOrDefault(v => !v.IsASnapshot && !v.IsControlDomain
            && (v.OtherConfig.GetValueOrDefault(InventoryKeys.ServerId) == serverId.ToString()
                || (v.IsATemplate && v.NameLabel == BuildName(serverId))));

    /// <summary>Tags the clone and gives it the flavor: memory, vCPUs, the root disk (each skipped when already done).</summary>
    private static async Task ShapeAsync(XapiSession s, XapiVm vm, Server server, CancellationToken ct)
    {
        var id = server.Id.ToString();
        var tags = new Dictionary<string, string>
        {
            [InventoryKeys.ServerId] = id, [InventoryKeys.Project] = server.ProjectId, [InventoryKeys.User] = server.UserId,
        };
        foreach (var (key, value) in tags.Where(t => !vm.OtherConfig.ContainsKey(t.Key)))
            await s.AddToOtherConfigAsync("VM", vm.Ref, key, value, ct);
        // A clone of a default template says it is one; the new VM is not.
        if (vm.OtherConfig.ContainsKey("default_template")) await s.RemoveFromOtherConfigAsync("VM", vm.Ref, "default_template", ct);

        var flavor = server.Flavor;
        var memory = flavor.MemoryMb * 1024L * 1024;
        var staticMin = Math.Min(XapiValues.Int(vm.Record["memory_static_min"]), memory);
        await s.CallAsync("VM.set_memory_limits", ct, vm.Ref, staticMin, memory, memory, memory);
        // VCPUs_at_startup ≤ VCPUs_max at every moment: raise the maximum first, lower it last.
        if (flavor.Vcpus > vm.VcpusMax)
        {
            await s.CallAsync("VM.set_VCPUs_max", ct, vm.Ref, (long)flavor.Vcpus);
            await s.CallAsync("VM.set_VCPUs_at_startup", ct, vm.Ref, (long)flavor.Vcpus);
        }
        else
        {
            await s.CallAsync("VM.set_VCPUs_at_startup", ct, vm.Ref, (long)flavor.Vcpus);
            await s.CallAsync("VM.set_VCPUs_max", ct, vm.Ref, (long)flavor.Vcpus);
        }

        var vbds = await s.VbdsAsync(ct);
        var current = await s.VmAsync(vm.Ref, ct);
        if (current.Vbds.Any(r => vbds.TryGetValue(r, out var b) && b.IsDisk && b.Userdevice == "0")) return;

        // The disk is tagged as it is made, so a run that died before attaching it finds it again.
        var disk = (await s.VdisAsync(ct)).Values.FirstOrDefault(v => v.OtherConfig.GetValueOrDefault(InventoryKeys.ServerId) == id)?.Ref;
        if (disk is null)
        {
            var sr = (await s.PoolAsync(ct)).DefaultSr;
            disk = await s.CallForStringAsync("VDI.create", ct, new JsonObject
            {
                ["name_label"] = $"{server.Name} root", ["name_description"] = $"Root disk of server {id}", ["SR"] = sr,
                ["virtual_size"] = flavor.RootGb > 0 ? flavor.RootGb * (1L << 30) : DefaultRootBytes, ["type"] = "user",
                ["sharable"] = false, ["read_only"] = false, ["xenstore_data"] = new JsonObject(), ["sm_config"] = new JsonObject(),
                ["tags"] = new JsonArray(), ["other_config"] = new JsonObject { [InventoryKeys.ServerId] = id },
            });
        }

        await s.CallAsync("VBD.create", ct, new JsonObject
        {
            ["VM"] = vm.Ref, ["VDI"] = disk, ["userdevice"] = "0", ["bootable"] = true, ["mode"] = "RW", ["type"] = "Disk",
            ["empty"] = false, ["other_config"] = new JsonObject(), ["qos_algorithm_type"] = "", ["qos_algorithm_params"] = new JsonObject(),
        });
    }

    /// <summary>
    /// Every VM of the server on this host (built, half-built, or either side of a resize), with its
    /// disks; the migration's snapshot; and disks tagged for the server or the migration that no VM holds.
    /// </summary>
    private async Task DestroyServerObjectsAsync(XapiSession s, Guid serverId, string? migrationTag, CancellationToken ct)
    {
        var id = serverId.ToString();
        var vms = (await s.VmsAsync(ct)).Values.Where(v => !v.IsControlDomain && (
            (!v.IsASnapshot && (v.OtherConfig.GetValueOrDefault(InventoryKeys.ServerId) == id || (v.IsATemplate && v.NameLabel == BuildName(serverId))))
            || (migrationTag is not null && XapiObjects.IsSnapshotOf(v, migrationTag)))).ToList();
        foreach (var vm in vms)
            await s.DestroyVmAsync(vm.Uuid, withDisks: true, OpTimeout, ct);
        foreach (var vdi in (await s.VdisAsync(ct)).Values.Where(v => v.OtherConfig.GetValueOrDefault(InventoryKeys.ServerId) == id
                     || (migrationTag is not null && v.OtherConfig.GetValueOrDefault(XapiObjects.MigrationTag) == migrationTag)))
            await s.DestroyVdiAsync(vdi.Ref, ct);
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
