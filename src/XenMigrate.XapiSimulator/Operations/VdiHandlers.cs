using System.Text.Json.Nodes;
using XenMigrate.XapiSimulator.Model;
using XenMigrate.XapiSimulator.Rpc;
using XenMigrate.XapiSimulator.Storage;
using XenMigrate.XapiSimulator.Vhd;

namespace XenMigrate.XapiSimulator.Operations;

/// <summary>
/// VDIs on the host's local file SR: sizes are rounded up to whole VHD blocks (as SM does), disks
/// only grow, and a disk attached to a running (or suspended) VM cannot be resized or destroyed.
/// </summary>
internal static class VdiHandlers
{
    public static void Register(HandlerRegistry registry)
    {
        registry.Add("VDI.create", Create);
        registry.Add("VDI.destroy", Destroy);
        registry.Add("VDI.resize", Resize);
        registry.Add("VDI.snapshot", call => Copy(call, "snapshot", asSnapshot: true));
        registry.Add("VDI.clone", call => Copy(call, "clone", asSnapshot: false));
        registry.Add("VDI.copy", CopyToSr);
    }

    /// <summary>SM rounds VHD sizes up to a whole number of 2 MiB blocks.</summary>
    public static long RoundSize(long bytes) =>
        (bytes + CowDiskStore.BlockSize - 1) / CowDiskStore.BlockSize * CowDiskStore.BlockSize;

    private static ValueTask<JsonNode?> Create(XapiCall call)
    {
        lock (call.Db.Sync)
        {
            var host = call.Host;
            var values = GenericHandlers.ConstructorValues(call, call.Db.Model.GetClass("VDI"), call.Object(1));
            var srRef = values["SR"]!.GetValue<string>();
            var sr = call.Db.Require("SR", srRef);
            if (!host.Pool.HasStore(srRef)) throw new XapiException(XapiErrors.OperationNotAllowed, $"SR {sr.Uuid} cannot hold new disks.");
            // xapi_vdi.ml:578-586: no VDI may be created as cbt_metadata.
            if (values["type"]?.ToString() == "cbt_metadata")
                throw new XapiException(XapiErrors.VdiIncompatibleType, string.Empty, "cbt_metadata");
            var smConfig = VdiFormats.ForNewVdi(sr, values.GetValueOrDefault("sm_config") as JsonObject);
            values["sm_config"] = smConfig;
            var size = values["virtual_size"]!.GetValue<long>();
            AssertValidSize(host.Pool.StoreFor(srRef), size, growBy: RoundSize(size), smConfig["vdi_type"]!.ToString());
            var vdi = AddVdi(host, values, RoundSize(size));
            return ValueTask.FromResult<JsonNode?>(vdi.Ref);
        }
    }

    /// <summary>Creates a VDI record and its (empty) disk on the SR the values name; call under the database lock.</summary>
    public static XapiObject AddVdi(HostRuntime host, Dictionary<string, JsonNode?> values, long size)
    {
        var srRef = values["SR"]!.GetValue<string>();
        var store = host.Pool.StoreFor(srRef);
        values["virtual_size"] = size;
        values["sm_config"] = VdiFormats.ForNewVdi(host.Database.Require("SR", srRef), values.GetValueOrDefault("sm_config") as JsonObject);
        var vdi = host.Database.Create("VDI", values);
        vdi.Set("location", vdi.Uuid);
        vdi.Set("managed", true);
        vdi.Set("missing", false);
        vdi.Set("parent", XapiType.NullRef);
        vdi.Set("allowed_operations", new JsonArray("clone", "copy", "resize", "snapshot", "destroy", "forget", "update"));
        store.CreateDisk(vdi.Uuid, size);
        host.Database.Require("SR", srRef).AddToSet("VDIs", vdi.Ref);
        host.RefreshStorageUsage();
        return vdi;
    }

    private static ValueTask<JsonNode?> Destroy(XapiCall call) =>
        ObjectOperation.RunAsync(call, "VDI", call.Ref(1), "destroy",
            vdi =>
            {
                AssertNotInUse(call.Host, vdi, "destroy");
                VmLifecycle.AssertNoOtherOperation(vdi);
            },
            vdi =>
            {
                AssertNotInUse(call.Host, vdi, "destroy");
                RemoveVdi(call.Host, vdi);
                return null;
            });

    /// <summary>Deletes a VDI, its disk and the (unattached) VBDs pointing at it; call under the database lock.</summary>
    public static void RemoveVdi(HostRuntime host, XapiObject vdi)
    {
        var db = host.Database;
        // xapi destroys the VBDs now rather than leaving them to its GC thread.
        foreach (var vbdRef in vdi.GetStrings("VBDs"))
            if (db.Find("VBD", vbdRef) is { } vbd) DeviceHandlers.RemoveVbd(host, vbd);
        if (db.Find("VDI", vdi.GetString("snapshot_of")) is { } origin) origin.RemoveFromSet("snapshots", vdi.Ref);
        db.Require("SR", vdi.GetString("SR")).RemoveFromSet("VDIs", vdi.Ref);
        host.Pool.StoreOf(vdi).DeleteDisk(vdi.Uuid);
        db.Destroy(vdi);
        host.RefreshStorageUsage();
    }

    private static ValueTask<JsonNode?> Resize(XapiCall call)
    {
        var requested = call.Long(2);
        return ObjectOperation.RunAsync(call, "VDI", call.Ref(1), "resize",
            vdi =>
            {
                VmLifecycle.AssertNoOtherOperation(vdi);
                AssertNotInUse(call.Host, vdi, "resize");
                AssertNotCbtMetadata(vdi);
                AssertResizable(call.Host, vdi, requested);
            },
            vdi =>
            {
                AssertResizable(call.Host, vdi, requested);
                var size = RoundSize(requested);
                if (size > vdi.GetLong("virtual_size"))
                {
                    call.Host.Pool.StoreOf(vdi).ResizeDisk(vdi.Uuid, size);
                    vdi.Set("virtual_size", size);
                    call.Host.RefreshStorageUsage();
                }

                return null;
            });
    }

    private static void AssertResizable(HostRuntime host, XapiObject vdi, long requested)
    {
        var current = vdi.GetLong("virtual_size");
        if (requested < current)
            throw new XapiException(XapiErrors.SrBackendFailure79, string.Empty, "VDI Invalid size", "Shrinking VDIs is not supported");
        AssertValidSize(host.Pool.StoreOf(vdi), requested, growBy: RoundSize(requested) - current, VdiFormats.Of(vdi));
    }

    /// <summary>Largest raw or qcow2 image the simulator lets an SR hold (a VHD stops at 2040 GiB).</summary>
    public const long MaxImageSize = 64L * 1024 * 1024 * 1024 * 1024;

    private static void AssertValidSize(CowDiskStore store, long size, long growBy, string format = VdiFormats.Vhd)
    {
        if (size < 0 || size > VhdLayout.MaxVirtualSize && format == VdiFormats.Vhd)
            throw new XapiException(XapiErrors.SrBackendFailure79, string.Empty, "VDI Invalid size", $"VHD size must be between 0 and {VhdLayout.MaxVirtualSize} bytes");
        if (size > MaxImageSize)
            throw new XapiException(XapiErrors.SrBackendFailure79, string.Empty, "VDI Invalid size", $"The size must be between 0 and {MaxImageSize} bytes");
        // The SR is thin: a size is refused only when it could not be backed by what is left.
        var free = store.FreeBytes;
        if (growBy > free) throw new XapiException(XapiErrors.SrFull, XapiErrors.Int(growBy), XapiErrors.Int(free));
    }

    /// <summary>
    /// VDI_IN_USE [vdi, operation] while a VBD of it is attached (xapi also counts its internal "reserved" flag; a running or paused
    /// VM, or dom0 during a transfer), or its VM is suspended (the disks stay in use), as
    /// xapi_vdi.ml check_operation_error's blocked_by_attach (244-283). An operation allowed with a
    /// read-only attach (VDI.copy) is blocked only by RW ones.
    /// </summary>
    public static void AssertNotInUse(HostRuntime host, XapiObject vdi, string operation, bool readOnlyAttachAllowed = false)
    {
        var db = host.Database;
        foreach (var vbdRef in vdi.GetStrings("VBDs"))
        {
            if (db.Find("VBD", vbdRef) is not { } vbd) continue;
            var vmSuspended = db.Find("VM", vbd.GetString("VM"))?.GetString("power_state") == VmLifecycle.Suspended;
            var active = vbd.GetBool("currently_attached") || vmSuspended;
            if (!active || (readOnlyAttachAllowed && vbd.GetString("mode") == "RO")) continue;
            throw new XapiException(XapiErrors.VdiInUse, vdi.Ref, operation);
        }
    }

    /// <summary>A cbt_metadata VDI (its data destroyed) cannot be cloned, copied, resized or snapshotted (xapi_vdi.ml:304-337).</summary>
    public static void AssertNotCbtMetadata(XapiObject vdi)
    {
        if (vdi.GetString("type") == "cbt_metadata") throw new XapiException(XapiErrors.VdiIncompatibleType, vdi.Ref, "cbt_metadata");
    }

    private static ValueTask<JsonNode?> Copy(XapiCall call, string operation, bool asSnapshot) =>
        ObjectOperation.RunAsync(call, "VDI", call.Ref(1), operation,
            vdi =>
            {
                VmLifecycle.AssertNoOtherOperation(vdi);
                AssertNotCbtMetadata(vdi);
            },
            vdi => CopyVdi(call.Host, vdi, asSnapshot).Ref);

    /// <summary>
    /// VDI.copy(vdi, sr[, base_vdi, into_vdi]): a full copy onto another SR (bytes move from one
    /// SR's store to the other's), or a copy-on-write clone when the SR is the VDI's own; with
    /// into_vdi, the blocks are written into that existing VDI instead.
    /// </summary>
    private static ValueTask<JsonNode?> CopyToSr(XapiCall call)
    {
        var target = call.Ref(2);
        var into = call.Ref(4);
        return ObjectOperation.RunAsync(call, "VDI", call.Ref(1), "copy",
            vdi =>
            {
                VmLifecycle.AssertNoOtherOperation(vdi);
                AssertNotInUse(call.Host, vdi, "copy", readOnlyAttachAllowed: true);
                AssertNotCbtMetadata(vdi);
                if (into != XapiType.NullRef) call.Db.Require("VDI", into);
                else if (target == XapiType.NullRef) throw new XapiException(XapiErrors.HandleInvalid, "SR", target);
                else call.Db.Require("SR", target);
            },
            vdi =>
            {
                if (into == XapiType.NullRef && target == vdi.GetString("SR")) return CopyVdi(call.Host, vdi, asSnapshot: false).Ref;
                var destination = into != XapiType.NullRef ? call.Db.Require("VDI", into) : NewCopyTarget(call.Host, vdi, target);
                CowDiskStore.CopyBlocks(call.Host.Pool.StoreOf(vdi), vdi.Uuid, call.Host.Pool.StoreOf(destination), destination.Uuid);
                call.Host.RefreshStorageUsage();
                return destination.Ref;
            });
    }

    /// <summary>A new VDI on another SR with the source's bytes; call under the database lock.</summary>
    public static XapiObject FullCopy(HostRuntime host, XapiObject source, string srRef)
    {
        var copy = NewCopyTarget(host, source, srRef);
        CowDiskStore.CopyBlocks(host.Pool.StoreOf(source), source.Uuid, host.Pool.StoreOf(copy), copy.Uuid);
        host.RefreshStorageUsage();
        return copy;
    }

    private static XapiObject NewCopyTarget(HostRuntime host, XapiObject source, string srRef)
    {
        var values = new Dictionary<string, JsonNode?>(StringComparer.Ordinal);
        foreach (var field in source.Class.Fields.Where(f => f.IsConstructorArgument))
            values[field.Name] = source.Get(field.Name)?.DeepClone();
        values["SR"] = srRef;
        var size = source.GetLong("virtual_size");
        AssertValidSize(host.Pool.StoreFor(srRef), size, growBy: size, VdiFormats.Of(source));
        return AddVdi(host, values, size);
    }

    /// <summary>
    /// An instant copy-on-write copy of a VDI: a snapshot (is_a_snapshot, snapshot_of) or a clone.
    /// Call under the database lock.
    /// </summary>
    public static XapiObject CopyVdi(HostRuntime host, XapiObject source, bool asSnapshot)
    {
        var values = new Dictionary<string, JsonNode?>(StringComparer.Ordinal);
        foreach (var field in source.Class.Fields.Where(f => f.IsConstructorArgument))
            values[field.Name] = source.Get(field.Name)?.DeepClone();
        var copy = host.Database.Create("VDI", values);
        copy.Set("location", copy.Uuid);
        copy.Set("managed", true);
        copy.Set("missing", false);
        copy.Set("parent", XapiType.NullRef);
        copy.Set("allowed_operations", source.Get("allowed_operations")!.DeepClone());
        host.Pool.StoreOf(source).CloneDisk(source.Uuid, copy.Uuid);
        host.Database.Require("SR", copy.GetString("SR")).AddToSet("VDIs", copy.Ref);
        copy.Set("cbt_enabled", false);
        if (asSnapshot)
        {
            // SM's _cbt_snapshot (libs/sm/VDI.py:764-810): the tracked disk's log moves to the snapshot.
            var store = host.Pool.StoreOf(source);
            if (store.HasCbt(source.Uuid))
            {
                store.SnapshotCbt(source.Uuid, copy.Uuid);
                copy.Set("cbt_enabled", true);
            }

            copy.Set("is_a_snapshot", true);
            copy.Set("snapshot_of", source.Ref);
            copy.Set("snapshot_time", host.Now());
            source.AddToSet("snapshots", copy.Ref);
        }

        host.RefreshStorageUsage();
        return copy;
    }
}
