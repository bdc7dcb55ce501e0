using System.Text.Json.Nodes;
using XenMigrate.XapiSimulator.Model;
using XenMigrate.XapiSimulator.Rpc;
using XenMigrate.XapiSimulator.Storage;

namespace XenMigrate.XapiSimulator.Operations;

/// <summary>
/// Changed block tracking (xapi_vdi.ml:1388-1459 over SM's cbtlog files, libs/sm/VDI.py):
/// VDI.enable_cbt / disable_cbt on a VHD VDI, VDI.list_changed_blocks between two VDIs of one
/// chain (a base64 bitmap, one bit per 64 KiB), VDI.data_destroy turning a CBT snapshot into a
/// metadata-only cbt_metadata VDI. Each first passes xapi's check_operation_error for the VDI.
/// </summary>
internal static class CbtHandlers
{
    /// <summary>How long data_destroy waits for the VDI's VBDs to go (xapi_vdi.ml:1047, timeout 4 s).</summary>
    public static readonly TimeSpan DataDestroyWait = TimeSpan.FromSeconds(4);

    public static void Register(HandlerRegistry registry)
    {
        registry.Add("VDI.enable_cbt", call => ChangeCbt(call, enable: true));
        registry.Add("VDI.disable_cbt", call => ChangeCbt(call, enable: false));
        registry.Add("VDI.list_changed_blocks", ListChangedBlocks);
        registry.Add("VDI.data_destroy", DataDestroyAsync);
    }

    private static ValueTask<JsonNode?> ChangeCbt(XapiCall call, bool enable)
    {
        var operation = enable ? "enable_cbt" : "disable_cbt";
        return ObjectOperation.RunAsync(call, "VDI", call.Ref(1), operation,
            vdi =>
            {
                AssertCommon(call.Host, vdi, operation);
                // xapi_vdi.ml:445-457.
                if (vdi.GetBool("is_a_snapshot")) throw new XapiException(XapiErrors.OperationNotAllowed, $"VDI is a snapshot: {vdi.Ref}");
                var type = vdi.GetString("type");
                if (type is not ("user" or "system")) throw new XapiException(XapiErrors.VdiIncompatibleType, vdi.Ref, type);
                if (vdi.GetString("on_boot") == "reset") throw new XapiException(XapiErrors.VdiOnBootModeIncompatible);
                // xapi_vdi.ml:1419-1422: Pool_features.assert_enabled ~f:CBT.
                if (enable && call.Host.Options.LicenceRestrictions.Contains("CBT", StringComparer.Ordinal))
                    throw new XapiException(XapiErrors.LicenceRestriction, "CBT");
            },
            vdi =>
            {
                if (vdi.GetBool("cbt_enabled") == enable) return null; // change_cbt_status: nothing to do
                // SM's configure_blocktracking (VDI.py:584-588): no CBT on raw images (nor, here, qcow2 ones).
                if (!VdiFormats.IsVhd(vdi))
                    throw new XapiException("SR_BACKEND_FAILURE_66", string.Empty, "Invalid VDI type [opterr=Raw VDI or snapshot not permitted]", string.Empty);
                var store = call.Host.Pool.StoreOf(vdi);
                if (enable) store.EnableCbt(vdi.Uuid);
                else store.DisableCbt(vdi.Uuid);
                vdi.Set("cbt_enabled", enable);
                return null;
            });
    }

    private static ValueTask<JsonNode?> ListChangedBlocks(XapiCall call)
    {
        var from = call.Ref(1);
        var to = call.Ref(2);
        // message_forwarding.ml:5825-5835: the operation is checked and recorded on vdi_to.
        return ObjectOperation.RunAsync(call, "VDI", to, "list_changed_blocks",
            vdiTo =>
            {
                call.Db.Require("VDI", from);
                VmLifecycle.AssertNoOtherOperation(vdiTo);
                AssertSmFeature(call.Db, vdiTo);
                // xapi_vdi.ml:262-276: blocked by an attached VBD unless every such VBD belongs to a VM snapshot.
                foreach (var vbd in vdiTo.GetStrings("VBDs").Select(r => call.Db.Find("VBD", r)).OfType<XapiObject>())
                {
                    if (!vbd.GetBool("currently_attached")) continue;
                    if (call.Db.Find("VM", vbd.GetString("VM"))?.GetBool("is_a_snapshot") == true) continue;
                    throw new XapiException(XapiErrors.VdiInUse, vdiTo.Ref, "list_changed_blocks");
                }
            },
            vdiTo =>
            {
                var vdiFrom = call.Db.Require("VDI", from);
                if (vdiFrom.Uuid == vdiTo.Uuid)
                    throw ChangedBlocksError("Source and target VDI are same");
                var store = call.Host.Pool.StoreOf(vdiTo);
                var bitmap = vdiFrom.GetString("SR") == vdiTo.GetString("SR") ? store.ListChangedBlocks(vdiFrom.Uuid, vdiTo.Uuid) : null;
                if (bitmap is null) throw ChangedBlocksError("Source and target VDI are unrelated");
                return Convert.ToBase64String(bitmap);
            });
    }

    /// <summary>
    /// xapi_vdi.ml:1032-1047 and 958-1011: the VDI is marked cbt_metadata at once, then up to 4 s are
    /// given for its VBDs to be unplugged and destroyed (VDI_IN_USE [vdi, data_destroy] and the old
    /// type back if they stay), then SM deletes the data and keeps the log. Idempotent on a cbt_metadata VDI.
    /// </summary>
    private static async ValueTask<JsonNode?> DataDestroyAsync(XapiCall call)
    {
        var vdiRef = call.Ref(1);
        var task = call.OperationTask;
        string previousType;
        lock (call.Db.Sync)
        {
            var vdi = call.Db.Require("VDI", vdiRef);
            AssertCommon(call.Host, vdi, "data_destroy", metadataAllowed: true);
            if (!vdi.GetBool("is_a_snapshot")) throw new XapiException(XapiErrors.OperationNotAllowed, $"VDI is not a snapshot: {vdi.Ref}");
            if (!vdi.GetBool("cbt_enabled")) throw new XapiException(XapiErrors.VdiNoCbtMetadata, vdi.Ref);
            previousType = vdi.GetString("type");
            if (previousType == "cbt_metadata") return null;
            vdi.SetMapEntry("current_operations", task, "data_destroy");
            vdi.Set("type", "cbt_metadata");
        }

        try
        {
            var deadline = call.Host.Clock.GetUtcNow() + DataDestroyWait;
            while (true)
            {
                lock (call.Db.Sync)
                {
                    if (call.Db.Require("VDI", vdiRef).GetStrings("VBDs").All(r => call.Db.Find("VBD", r) is null)) break;
                }

                if (call.Host.Clock.GetUtcNow() >= deadline)
                {
                    lock (call.Db.Sync) call.Db.Require("VDI", vdiRef).Set("type", previousType);
                    throw new XapiException(XapiErrors.VdiInUse, vdiRef, "data_destroy");
                }

                await Task.Delay(TimeSpan.FromMilliseconds(50), call.Host.Clock, call.Cancellation);
            }

            lock (call.Db.Sync)
            {
                var vdi = call.Db.Require("VDI", vdiRef);
                call.Host.Pool.StoreOf(vdi).DeleteData(vdi.Uuid);
                vdi.Set("physical_utilisation", 0L);
                call.Host.RefreshStorageUsage();
            }

            return null;
        }
        finally
        {
            lock (call.Db.Sync) call.Db.Find("VDI", vdiRef)?.RemoveMapEntry("current_operations", task);
        }
    }

    /// <summary>The checks every CBT operation meets first (xapi_vdi.ml:184-339).</summary>
    private static void AssertCommon(HostRuntime host, XapiObject vdi, string operation, bool metadataAllowed = false)
    {
        VmLifecycle.AssertNoOtherOperation(vdi);
        AssertSmFeature(host.Database, vdi);
        if (!metadataAllowed) VdiHandlers.AssertNotCbtMetadata(vdi);
        _ = operation; // enable/disable/data_destroy may run with the VDI attached (operation_can_be_performed_live)
    }

    /// <summary>Vdi_configure_cbt is a capability of the file and LVM drivers (EXTSR.py:38, FileSR.py:43, LVHDSR.py:59), not of ISO SRs.</summary>
    private static void AssertSmFeature(XapiDatabase db, XapiObject vdi)
    {
        var sr = db.Require("SR", vdi.GetString("SR"));
        if (sr.GetString("type") is not ("ext" or "nfs" or "file" or "lvm" or "lvmoiscsi" or "lvmohba"))
            throw new XapiException(XapiErrors.SrOperationNotSupported, sr.Ref);
    }

    /// <summary>SM's CBTChangedBlocksError (XE_SR_ERRORCODES.xml: 460) as xapi forwards it.</summary>
    private static XapiException ChangedBlocksError(string detail) =>
        new("SR_BACKEND_FAILURE_460", string.Empty, $"Failed to calculate changed blocks for given VDIs. [opterr={detail}]", string.Empty);
}
