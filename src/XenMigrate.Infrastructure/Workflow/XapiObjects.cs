using System.Text.Json.Nodes;
using XenMigrate.Infrastructure.Inventory;
using XenMigrate.Infrastructure.Xapi;

namespace XenMigrate.Infrastructure.Workflow;

/// <summary>The XAPI object handling the workflow steps share: find by tag, destroy if present.</summary>
internal static class XapiObjects
{
    public const string MigrationTag = "xenmigrate_migration";

    /// <summary>The name a migration gives its snapshot: how a snapshot taken but not yet tagged is found.</summary>
    public static string SnapshotName(string tag) => $"xenmigrate-{tag}";

    /// <summary>A snapshot the migration took, tagged or (a run that died before tagging it) only named.</summary>
    public static bool IsSnapshotOf(XapiVm vm, string tag) =>
        vm.IsASnapshot && (vm.OtherConfig.GetValueOrDefault(MigrationTag) == tag || vm.NameLabel == SnapshotName(tag));
    public const string UserdeviceTag = "xenmigrate_userdevice";

    /// <summary>A ref from a uuid, or null when the object no longer exists.</summary>
    public static async Task<string?> RefByUuidAsync(this XapiSession s, string cls, string? uuid, CancellationToken ct)
    {
        if (string.IsNullOrEmpty(uuid)) return null;
        try
        {
            return await s.CallForStringAsync($"{cls}.get_by_uuid", ct, uuid);
        }
        catch (XapiException e) when (e.Code is "UUID_INVALID" or XapiException.HandleInvalid)
        {
            return null;
        }
    }

    public static async Task<string> UuidAsync(this XapiSession s, string cls, string reference, CancellationToken ct) =>
        await s.CallForStringAsync($"{cls}.get_uuid", ct, reference);

    public static async Task<JsonObject> RecordAsync(this XapiSession s, string cls, string reference, CancellationToken ct) =>
        await s.CallAsync($"{cls}.get_record", ct, reference) as JsonObject
        ?? throw new XapiTransportException(s.Host.Name, $"{cls}.get_record returned no record.");

    /// <summary>The guest VM that carries this server's id (never a snapshot or a migration's destination copy).</summary>
    public static async Task<XapiVm?> FindServerVmAsync(this XapiSession s, Guid serverId, CancellationToken ct) =>
        (await s.VmsAsync(ct)).Values.FirstOrDefault(v => v.IsGuest && v.OtherConfig.GetValueOrDefault(InventoryKeys.ServerId) == serverId.ToString()
                                                          && !v.OtherConfig.ContainsKey(MigrationTag));

    /// <summary>
    /// Halts a VM: a running one is asked to shut down cleanly first (the guest's PV drivers), and
    /// powered off when that fails or times out; a paused or suspended one is powered off; halted is done.
    /// </summary>
    public static async Task ShutDownAsync(this XapiSession s, string vm, TimeSpan cleanTimeout, TimeSpan timeout, Action<string>? cleanFailed, CancellationToken ct)
    {
        var state = (await s.VmAsync(vm, ct)).PowerState;
        if (state == "Halted") return;
        if (state == "Running")
        {
            try
            {
                await s.CallAsyncTaskAsync("VM.clean_shutdown", cleanTimeout, ct, vm);
                return;
            }
            catch (Exception e) when (e is XapiException or TimeoutException)
            {
                cleanFailed?.Invoke(e.Message); // no PV drivers, or the guest ignored the request
            }
        }

        if ((await s.VmAsync(vm, ct)).PowerState != "Halted")
            await s.CallAsyncTaskAsync("VM.hard_shutdown", timeout, ct, vm);
    }

    /// <summary>Destroys a VM (halting it first) and, optionally, the VDIs behind its disks; absent is fine.</summary>
    public static async Task DestroyVmAsync(this XapiSession s, string? vmUuid, bool withDisks, TimeSpan timeout, CancellationToken ct)
    {
        if (await s.RefByUuidAsync("VM", vmUuid, ct) is not { } vm) return;
        var record = await s.VmAsync(vm, ct);
        if (record.PowerState is "Running" or "Paused" or "Suspended")
            await s.CallAsyncTaskAsync("VM.hard_shutdown", timeout, ct, vm);
        // Disks first, the VM last: a fault in between leaves the VM to be found (with what is left) by the next try.
        if (withDisks)
        {
            foreach (var vbdRef in record.Vbds)
            {
                var vbd = XapiVbd.From(vbdRef, await s.RecordAsync("VBD", vbdRef, ct));
                if (vbd.IsDisk) await s.DestroyVdiAsync(vbd.Vdi, ct);
            }
        }

        await s.CallAsyncTaskAsync("VM.destroy", timeout, ct, vm);
    }

    public static async Task DestroyVdiAsync(this XapiSession s, string? vdiRef, CancellationToken ct)
    {
        if (string.IsNullOrEmpty(vdiRef)) return;
        try
        {
            await s.CallAsync("VDI.destroy", ct, vdiRef);
        }
        catch (XapiException e) when (e.Code is XapiException.HandleInvalid or "UUID_INVALID")
        {
            // already gone
        }
    }

    public static async Task DestroyVdiByUuidAsync(this XapiSession s, string? vdiUuid, CancellationToken ct) =>
        await s.DestroyVdiAsync(await s.RefByUuidAsync("VDI", vdiUuid, ct), ct);
}
