using System.Text.Json.Nodes;
using XenMigrate.XapiSimulator.Model;
using XenMigrate.XapiSimulator.Rpc;

namespace XenMigrate.XapiSimulator.Operations;

/// <summary>VM lifecycle: create/destroy, power operations, snapshots and clones, vCPUs.</summary>
internal static class VmHandlers
{
    public static void Register(HandlerRegistry registry)
    {
        registry.Add("VM.create", Create);
        registry.Add("VM.destroy", Destroy);
        registry.Add("VM.start", call => Start(call, call.Ref(1), call.Bool(2), "start"));
        registry.Add("VM.start_on", call => StartOn(call));
        registry.Add("VM.resume", call => Resume(call, call.Ref(1), call.Bool(2), "resume"));
        registry.Add("VM.resume_on", call =>
        {
            AssertThisHost(call, call.Ref(2));
            return Resume(call, call.Ref(1), call.Bool(3), "resume_on");
        });
        registry.Add("VM.clean_shutdown", call => PowerOperation(call, "clean_shutdown", needsAgent: true, (h, vm) => VmLifecycle.Halt(h, vm)));
        registry.Add("VM.hard_shutdown", call => PowerOperation(call, "hard_shutdown", needsAgent: false, (h, vm) => VmLifecycle.Halt(h, vm)));
        // shutdown = clean shutdown, falling back to hard: either way the VM ends Halted.
        registry.Add("VM.shutdown", call => PowerOperation(call, "shutdown", needsAgent: false, (h, vm) => VmLifecycle.Halt(h, vm)));
        registry.Add("VM.clean_reboot", call => PowerOperation(call, "clean_reboot", needsAgent: true, (h, vm) => VmLifecycle.Reboot(h, vm)));
        registry.Add("VM.hard_reboot", call => PowerOperation(call, "hard_reboot", needsAgent: false, (h, vm) => VmLifecycle.Reboot(h, vm)));
        registry.Add("VM.pause", call => PowerOperation(call, "pause", needsAgent: false, (h, vm) => VmLifecycle.SetPaused(h, vm, paused: true)));
        registry.Add("VM.unpause", call => PowerOperation(call, "unpause", needsAgent: false, (h, vm) => VmLifecycle.SetPaused(h, vm, paused: false)));
        registry.Add("VM.suspend", call => PowerOperation(call, "suspend", needsAgent: true, (h, vm) => VmLifecycle.Suspend(h, vm)));
        registry.Add("VM.snapshot", call => Copy(call, call.String(2), "snapshot", asSnapshot: true, ignoredVdis: call.Strings(3)));
        registry.Add("VM.clone", call => Copy(call, call.String(2), "clone", asSnapshot: false, ignoredVdis: []));
        registry.Add("VM.copy", call =>
        {
            lock (call.Db.Sync)
            {
                if (call.Ref(3) != XapiType.NullRef && call.Ref(3) != call.Host.SrRef) call.Db.Require("SR", call.Ref(3));
            }

            return Copy(call, call.String(2), "copy", asSnapshot: false, ignoredVdis: []);
        });
        registry.Add("VM.set_VCPUs_max", call => SetVcpus(call, "VCPUs_max"));
        registry.Add("VM.set_VCPUs_at_startup", call => SetVcpus(call, "VCPUs_at_startup"));
        registry.Add("VM.assert_operation_valid", call =>
        {
            lock (call.Db.Sync)
            {
                var vm = call.Db.Require("VM", call.Ref(1));
                VmLifecycle.AssertOperationValid(vm, call.String(2));
                return ValueTask.FromResult<JsonNode?>(null);
            }
        });
    }

    private static ValueTask<JsonNode?> Create(XapiCall call)
    {
        lock (call.Db.Sync)
        {
            var values = GenericHandlers.ConstructorValues(call, call.Db.Model.GetClass("VM"), call.Object(1));
            var vm = VmFactory.Create(call.Host, values);
            return ValueTask.FromResult<JsonNode?>(vm.Ref);
        }
    }

    /// <summary>Removes the VM with its VBDs and VIFs; its VDIs stay (xapi_vm_helpers.destroy).</summary>
    private static ValueTask<JsonNode?> Destroy(XapiCall call) =>
        ObjectOperation.RunAsync(call, "VM", call.Ref(1), "destroy",
            vm => VmLifecycle.AssertOperationValid(vm, "destroy"),
            vm =>
            {
                var host = call.Host;
                var db = call.Db;
                foreach (var vbdRef in vm.GetStrings("VBDs"))
                    if (db.Find("VBD", vbdRef) is { } vbd) DeviceHandlers.RemoveVbd(host, vbd);
                foreach (var vifRef in vm.GetStrings("VIFs"))
                    if (db.Find("VIF", vifRef) is { } vif) DeviceHandlers.RemoveVif(host, vif);
                if (vm.GetString("power_state") == VmLifecycle.Suspended) VmLifecycle.Halt(host, vm);
                if (db.Find("VM_metrics", vm.GetString("metrics")) is { } metrics) db.Destroy(metrics);
                if (db.Find("VM_guest_metrics", vm.GetString("guest_metrics")) is { } guest) db.Destroy(guest);
                if (db.Find("VM", vm.GetString("snapshot_of")) is { } origin) origin.RemoveFromSet("snapshots", vm.Ref);
                host.ForgetGuestAgent(vm.Ref);
                db.Destroy(vm);
                host.RefreshStorageUsage();
                return null;
            });

    private static ValueTask<JsonNode?> StartOn(XapiCall call)
    {
        AssertThisHost(call, call.Ref(2));
        return Start(call, call.Ref(1), call.Bool(3), "start_on");
    }

    private static ValueTask<JsonNode?> Start(XapiCall call, string vmRef, bool paused, string operation) =>
        ObjectOperation.RunAsync(call, "VM", vmRef, operation,
            vm =>
            {
                VmLifecycle.AssertOperationValid(vm, operation);
                AssertCanBoot(call.Host, vm, operation);
            },
            vm =>
            {
                // Checked again: another start may have taken the memory meanwhile.
                AssertCanBoot(call.Host, vm, operation);
                VmLifecycle.Boot(call.Host, vm, paused);
                return null;
            },
            call.Host.Options.PowerOperationDuration);

    private static ValueTask<JsonNode?> Resume(XapiCall call, string vmRef, bool paused, string operation) =>
        ObjectOperation.RunAsync(call, "VM", vmRef, operation,
            vm =>
            {
                VmLifecycle.AssertOperationValid(vm, operation);
                AssertCanBoot(call.Host, vm, operation);
            },
            vm =>
            {
                AssertCanBoot(call.Host, vm, operation);
                VmLifecycle.Resume(call.Host, vm, paused);
                return null;
            },
            call.Host.Options.PowerOperationDuration);

    private static ValueTask<JsonNode?> PowerOperation(XapiCall call, string operation, bool needsAgent, Action<HostRuntime, XapiObject> apply) =>
        ObjectOperation.RunAsync(call, "VM", call.Ref(1), operation,
            vm =>
            {
                VmLifecycle.AssertOperationValid(vm, operation);
                // A clean shutdown/reboot or a suspend needs the guest's cooperation (PV drivers).
                if (needsAgent && !call.Host.HasGuestAgent(vm.Ref)) throw new XapiException(XapiErrors.VmLacksFeature, vm.Ref);
            },
            vm =>
            {
                apply(call.Host, vm);
                return null;
            },
            call.Host.Options.PowerOperationDuration);

    /// <summary>Enough free memory on the host, and no disk in exclusive use by another running VM.</summary>
    private static void AssertCanBoot(HostRuntime host, XapiObject vm, string operation)
    {
        var needed = vm.GetLong("memory_static_max");
        var available = host.FreeMemory();
        if (needed > available)
            throw new XapiException(XapiErrors.HostNotEnoughFreeMemory, XapiErrors.Int(needed), XapiErrors.Int(available));
        var db = host.Database;
        foreach (var vbdRef in vm.GetStrings("VBDs"))
        {
            if (db.Find("VBD", vbdRef) is not { } vbd || db.Find("VDI", vbd.GetString("VDI")) is not { } vdi) continue;
            if (vdi.GetBool("sharable")) continue;
            var inUseElsewhere = vdi.GetStrings("VBDs")
                .Select(r => db.Find("VBD", r))
                .Any(other => other is not null && other.Ref != vbd.Ref && other.GetBool("currently_attached"));
            if (inUseElsewhere) throw new XapiException(XapiErrors.VdiInUse, vdi.Ref, operation);
        }
    }

    private static void AssertThisHost(XapiCall call, string hostRef)
    {
        lock (call.Db.Sync) call.Db.Require("host", hostRef);
    }

    /// <summary>
    /// VM.snapshot / clone / copy: a new VM record with copies of the disks (instant copy-on-write
    /// copies of the VDIs) and of the VIFs. A snapshot is a template with is_a_snapshot set.
    /// </summary>
    private static ValueTask<JsonNode?> Copy(XapiCall call, string newName, string operation, bool asSnapshot, IReadOnlyList<string> ignoredVdis) =>
        ObjectOperation.RunAsync(call, "VM", call.Ref(1), operation,
            vm => VmLifecycle.AssertOperationValid(vm, operation),
            vm => CopyVm(call.Host, vm, newName, asSnapshot, ignoredVdis).Ref);

    internal static XapiObject CopyVm(HostRuntime host, XapiObject source, string newName, bool asSnapshot, IReadOnlyList<string> ignoredVdis)
    {
        var db = host.Database;
        var values = new Dictionary<string, JsonNode?>(StringComparer.Ordinal);
        foreach (var field in source.Class.Fields.Where(f => f.IsConstructorArgument))
            values[field.Name] = source.Get(field.Name)?.DeepClone();
        values["name_label"] = newName;
        values["is_a_template"] = asSnapshot || source.GetBool("is_a_template");
        values["blocked_operations"] = new JsonObject();
        var otherConfig = (JsonObject)source.Get("other_config")!.DeepClone();
        if (!asSnapshot) otherConfig.Remove("mac_seed");
        values["other_config"] = otherConfig;
        var copy = VmFactory.Create(host, values);
        if (asSnapshot)
        {
            copy.Set("is_a_snapshot", true);
            copy.Set("snapshot_of", source.Ref);
            copy.Set("snapshot_time", host.Now());
            copy.Set("transportable_snapshot_id", Guid.NewGuid().ToString("D"));
            source.AddToSet("snapshots", copy.Ref);
        }

        foreach (var vbdRef in source.GetStrings("VBDs"))
        {
            if (db.Find("VBD", vbdRef) is not { } vbd) continue;
            var vdiRef = vbd.GetString("VDI");
            if (ignoredVdis.Contains(vdiRef, StringComparer.Ordinal)) continue;
            var targetVdi = vdiRef;
            if (vbd.GetString("type") == "Disk" && db.Find("VDI", vdiRef) is { } vdi)
                targetVdi = VdiHandlers.CopyVdi(host, vdi, asSnapshot).Ref;
            DeviceHandlers.AddVbd(host, copy, targetVdi, vbd);
        }

        foreach (var vifRef in source.GetStrings("VIFs"))
            if (db.Find("VIF", vifRef) is { } vif) DeviceHandlers.AddVif(host, copy, vif);

        host.RefreshStorageUsage();
        return copy;
    }

    /// <summary>set_VCPUs_max / set_VCPUs_at_startup: Halted only, keeping 0 &lt; at_startup ≤ max.</summary>
    private static ValueTask<JsonNode?> SetVcpus(XapiCall call, string field)
    {
        var value = call.Long(2);
        return ObjectOperation.RunAsync(call, "VM", call.Ref(1), "changing_VCPUs",
            vm =>
            {
                VmLifecycle.AssertOperationValid(vm, "changing_VCPUs");
                var max = field == "VCPUs_max" ? value : vm.GetLong("VCPUs_max");
                var atStartup = field == "VCPUs_at_startup" ? value : vm.GetLong("VCPUs_at_startup");
                VmFactory.AssertVcpus(atStartup, max, field);
            },
            vm =>
            {
                vm.Set(field, value);
                return null;
            });
    }
}
