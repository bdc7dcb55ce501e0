using System.Globalization;
using XenMigrate.XapiSimulator.Control;
using XenMigrate.XapiSimulator.Model;
using XenMigrate.XapiSimulator.Operations;

namespace XenMigrate.XapiSimulator.Storage;

/// <summary>
/// A VDI block-attached to the serving host's control domain for a transfer, as xapi's
/// Sm_fs_ops.with_block_attached_device does (sm_fs_ops.ml:23-28, attach_helpers.ml:48-65): a VBD
/// of dom0 is created (userdevice autodetect, not bootable, unpluggable, the transfer's mode) and
/// plugged, and at the end unplugged and destroyed. The unplug lags behind the end of the
/// transfer by <see cref="SimulatedHostOptions.Dom0DetachDelay"/>: on real hosts the detach in
/// xenopsd/tapdisk finishes after the HTTP handler returned, which is why Xen Orchestra retries
/// VDI.destroy on VDI_IN_USE and removes lingering dom0 VBDs (@xen-orchestra/xapi/vdi.mjs:185-220,
/// index.mjs:172-195). Meanwhile the VBD makes VDI.destroy/resize answer VDI_IN_USE (xapi_vdi.ml:244-283).
/// </summary>
internal sealed class Dom0Attachment
{
    private readonly HostRuntime _host;
    private readonly string _vbdRef;
    private readonly TimeSpan _detachDelay;
    private int _released;

    private Dom0Attachment(HostRuntime host, string vbdRef, TimeSpan detachDelay)
    {
        _host = host;
        _vbdRef = vbdRef;
        _detachDelay = detachDelay;
    }

    public string VbdRef => _vbdRef;

    /// <summary>
    /// Creates and plugs the dom0 VBD. Fails as xapi's VBD.create does (xapi_vbd.ml:157-191:
    /// VDI_INCOMPATIBLE_TYPE for a cbt_metadata VDI, VDI_READONLY for RW on a read-only VDI), or
    /// with an error injected for <paramref name="faultMethod"/> (the plug failing; the VBD is then
    /// destroyed, as with_vbds' finally does).
    /// </summary>
    public static Dom0Attachment Attach(HostRuntime host, string vdiRef, string mode, string faultMethod, string? session)
    {
        XapiObject vbd;
        lock (host.Database.Sync)
        {
            var db = host.Database;
            var vdi = db.Require("VDI", vdiRef);
            var type = vdi.GetString("type");
            if (type is not ("system" or "user" or "ephemeral" or "suspend" or "crashdump" or "metadata" or "rrd" or "pvs_cache"))
                throw new XapiException(XapiErrors.VdiIncompatibleType, vdi.Ref, type);
            if (mode == "RW" && vdi.GetBool("read_only")) throw new XapiException(XapiErrors.VdiReadonly, vdi.Ref);
            var dom0 = db.Require("VM", host.ControlDomainRef);
            var taken = dom0.GetStrings("VBDs").Select(r => db.Find("VBD", r)?.GetString("userdevice")).ToHashSet(StringComparer.Ordinal);
            var userdevice = Enumerable.Range(0, 255).Select(i => i.ToString(CultureInfo.InvariantCulture)).First(d => !taken.Contains(d));
            vbd = DeviceHandlers.CreateVbd(host, dom0, vdi.Ref, userdevice, bootable: false, type: "Disk", mode: mode);
            vbd.Set("unpluggable", true);
        }

        if (host.Faults.TakeFailure(faultMethod) is { } injected)
        {
            lock (host.Database.Sync)
            {
                if (host.Database.Find("VBD", vbd.Ref) is { } created) DeviceHandlers.RemoveVbd(host, created);
            }

            throw injected;
        }

        lock (host.Database.Sync) host.Database.Require("VBD", vbd.Ref).Set("currently_attached", true);
        return new Dom0Attachment(host, vbd.Ref, DetachDelayFor(host, session));
    }

    /// <summary>
    /// Unplugs and destroys the VBD once the detach delay has passed (at once when it is zero).
    /// Storage XenMotion's own datapath (sessions made by host.migrate_receive) detaches before
    /// it reports, as storage_migrate's receive_finalize/receive_cancel do, so it does not linger.
    /// </summary>
    public void Release()
    {
        if (Interlocked.Exchange(ref _released, 1) == 1) return;
        if (_detachDelay <= TimeSpan.Zero || _host.Stopping.IsCancellationRequested)
        {
            Detach();
            return;
        }

        _ = DetachLaterAsync();
    }

    private async Task DetachLaterAsync()
    {
        try
        {
            await Task.Delay(_detachDelay, _host.Clock, _host.Stopping);
        }
        catch (OperationCanceledException)
        {
            // The pool is stopping: detach now.
        }

        Detach();
    }

    private void Detach()
    {
        try
        {
            lock (_host.Database.Sync)
            {
                if (_host.Database.Find("VBD", _vbdRef) is not { } vbd) return; // XO-style cleanup got there first
                vbd.Set("currently_attached", false);
                DeviceHandlers.RemoveVbd(_host, vbd);
            }
        }
        catch (ObjectDisposedException)
        {
            // The pool is gone.
        }
    }

    private static TimeSpan DetachDelayFor(HostRuntime host, string? session)
    {
        if (session is null) return host.Options.Dom0DetachDelay;
        lock (host.Database.Sync)
            return host.Database.Find("session", session)?.GetString("originator") == "migrate_receive" ? TimeSpan.Zero : host.Options.Dom0DetachDelay;
    }
}
