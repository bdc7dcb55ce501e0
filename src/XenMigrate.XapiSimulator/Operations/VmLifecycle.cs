using System.Text.Json.Nodes;
using XenMigrate.XapiSimulator.Model;

namespace XenMigrate.XapiSimulator.Operations;

/// <summary>
/// VM power states and the operations each allows (xapi's <c>xapi_vm_lifecycle.ml</c>
/// <c>allowed_power_states</c>), plus the bookkeeping of a power-state change: residence,
/// domid, attached devices, metrics and the host's free memory.
/// </summary>
internal static class VmLifecycle
{
    public const string Halted = "Halted";
    public const string Paused = "Paused";
    public const string Running = "Running";
    public const string Suspended = "Suspended";

    private static readonly string[] AnyState = [Halted, Paused, Running, Suspended];

    private static readonly Dictionary<string, string[]> AllowedPowerStates = new(StringComparer.Ordinal)
    {
        ["start"] = [Halted],
        ["start_on"] = [Halted],
        ["provision"] = [Halted],
        ["changing_VCPUs"] = [Halted],
        ["changing_static_range"] = [Halted],
        ["changing_memory_limits"] = [Halted],
        ["clone"] = [Halted],
        ["copy"] = [Halted],
        ["make_into_template"] = [Halted],
        ["clean_shutdown"] = [Running],
        ["clean_reboot"] = [Running],
        ["suspend"] = [Running],
        ["pool_migrate"] = [Running],
        ["call_plugin"] = [Running],
        ["pause"] = [Running],
        ["changing_VCPUs_live"] = [Running],
        ["unpause"] = [Paused],
        ["hard_shutdown"] = [Paused, Suspended, Running],
        ["shutdown"] = [Paused, Suspended, Running],
        ["checkpoint"] = [Paused, Suspended, Running],
        ["hard_reboot"] = [Paused, Running],
        ["resume"] = [Suspended],
        ["resume_on"] = [Suspended],
        ["destroy"] = [Halted, Suspended],
        ["export"] = [Halted, Suspended],
        ["migrate_send"] = [Halted, Suspended, Running],
        ["changing_dynamic_range"] = [Halted, Running],
        ["snapshot"] = AnyState,
        ["revert"] = AnyState,
    };

    /// <summary>
    /// The checks xapi makes before an operation, in its order: blocked, template/control domain,
    /// power state, another operation in progress.
    /// </summary>
    public static void AssertOperationValid(XapiObject vm, string operation)
    {
        var blocked = vm.GetStringMap("blocked_operations");
        if (blocked.TryGetValue(operation, out var reason))
            throw new XapiException(XapiErrors.OperationBlocked, vm.Ref, reason);
        if (vm.GetBool("is_control_domain") && operation is not ("snapshot" or "changing_dynamic_range"))
            throw new XapiException(XapiErrors.OperationNotAllowed, $"Operation '{operation}' is not allowed on the control domain.");
        if (vm.GetBool("is_a_template") && operation is "start" or "start_on" or "resume" or "resume_on" or "pause" or "suspend")
            throw new XapiException(XapiErrors.VmIsTemplate, vm.Ref);
        AssertPowerState(vm, operation);
        AssertAllowedConcurrently(vm, operation);
    }

    /// <summary>
    /// xapi_vm_lifecycle.ml ~115-147 is_allowed_concurrently: which operation may start while others
    /// run on the VM. Clones, copies and exports go together, snapshots and checkpoints go together,
    /// hard_shutdown goes with anything but another hard_shutdown, hard_reboot with anything but a
    /// hard shutdown or reboot, and a few pairs (snapshot during snapshot_with_quiesce;
    /// metadata_export, clean_shutdown or clean_reboot during migrate_send). Not the power state.
    /// </summary>
    public static bool IsAllowedConcurrently(string operation, IReadOnlyList<string> current)
    {
        ArgumentNullException.ThrowIfNull(current);
        if (current.Count == 0) return true;
        bool Together(string[] ops) => ops.Contains(operation, StringComparer.Ordinal) && current.All(o => ops.Contains(o, StringComparer.Ordinal));
        if (Together(LongCopies) || Together(Snapshots) || Together(BootRecord)) return true;
        return operation switch
        {
            "hard_shutdown" => !current.Contains("hard_shutdown", StringComparer.Ordinal),
            "hard_reboot" => !current.Any(o => o is "hard_shutdown" or "hard_reboot"),
            _ => StateTransitions.Any(t => t.Transition == operation && t.State.SequenceEqual(current, StringComparer.Ordinal)),
        };
    }

    private static readonly string[] LongCopies = ["clone", "copy", "export"];
    private static readonly string[] Snapshots = ["snapshot", "checkpoint"];
    private static readonly string[] BootRecord = ["get_boot_record"];

    private static readonly (string[] State, string Transition)[] StateTransitions =
    [
        (["snapshot_with_quiesce"], "snapshot"),
        (["migrate_send"], "metadata_export"),
        (["migrate_send"], "clean_shutdown"),
        (["migrate_send"], "clean_reboot"),
    ];

    /// <summary>
    /// What a hard shutdown / hard reboot cancels (and waits for) before it acts
    /// (message_forwarding.ml VM.hard_shutdown ~2296, VM.hard_reboot ~2354).
    /// </summary>
    public static IReadOnlyList<string> CancelledBy(string operation) => operation switch
    {
        "hard_shutdown" => ["clean_shutdown", "clean_reboot", "hard_reboot", "pool_migrate", "call_plugin", "shutdown", "suspend"],
        "hard_reboot" => ["clean_shutdown", "clean_reboot", "pool_migrate", "call_plugin", "suspend"],
        _ => [],
    };

    /// <summary>
    /// OTHER_OPERATION_IN_PROGRESS ["VM", ref, op, task] when the VM's current operations do not admit
    /// this one; with several running, "{op1,op2}" and "{task1,task2}" (report_concurrent_operations_error).
    /// </summary>
    public static void AssertAllowedConcurrently(XapiObject vm, string operation)
    {
        var current = vm.Get("current_operations")!.AsObject().Select(p => (Task: p.Key, Op: p.Value?.ToString() ?? string.Empty)).ToList();
        if (IsAllowedConcurrently(operation, current.Select(c => c.Op).ToList())) return;
        var (ops, tasks) = current.Count == 1
            ? (current[0].Op, current[0].Task)
            : ("{" + string.Join(',', current.Select(c => c.Op)) + "}", "{" + string.Join(',', current.Select(c => c.Task)) + "}");
        throw new XapiException(XapiErrors.OtherOperationInProgress, "VM", vm.Ref, ops, tasks);
    }

    public static void AssertPowerState(XapiObject vm, string operation)
    {
        var allowed = AllowedPowerStates.GetValueOrDefault(operation, AnyState);
        var actual = vm.GetString("power_state");
        if (!allowed.Contains(actual, StringComparer.Ordinal))
        {
            throw new XapiException(XapiErrors.VmBadPowerState, vm.Ref,
                string.Join(", ", allowed.Select(s => s.ToLowerInvariant())), actual.ToLowerInvariant());
        }
    }

    /// <summary>
    /// OTHER_OPERATION_IN_PROGRESS [class, ref, operation, task] when the object is busy. For a VDI, a
    /// running copy does not count (xapi_vdi.ml ~150-200 check_operation_error: "if a copy is ongoing,
    /// don't fail with other_operation_in_progress"); any other operation makes it exclusive.
    /// </summary>
    public static void AssertNoOtherOperation(XapiObject obj)
    {
        var current = obj.Get("current_operations")!.AsObject()
            .FirstOrDefault(p => obj.ClassName != "VDI" || p.Value?.ToString() != "copy");
        if (current.Key is not null)
            throw new XapiException(XapiErrors.OtherOperationInProgress, obj.ClassName, obj.Ref, current.Value?.ToString() ?? string.Empty, current.Key);
    }

    /// <summary>
    /// Recomputes allowed_operations as xapi keeps it current (update_allowed_operations: every
    /// operation check_operation_error lets through): the power state, and the operations already
    /// running on the VM (<see cref="IsAllowedConcurrently"/>).
    /// </summary>
    public static void UpdateAllowedOperations(HostRuntime host, XapiObject vm)
    {
        var current = vm.Get("current_operations")!.AsObject().Select(p => p.Value?.ToString() ?? string.Empty).ToList();
        var allowed = new JsonArray();
        if (!vm.GetBool("is_control_domain"))
        {
            var state = vm.GetString("power_state");
            var template = vm.GetBool("is_a_template");
            var agent = host.HasGuestAgent(vm.Ref);
            foreach (var (operation, states) in AllowedPowerStates)
            {
                if (!states.Contains(state, StringComparer.Ordinal)) continue;
                if (!IsAllowedConcurrently(operation, current)) continue;
                if (template && operation is "start" or "start_on" or "pause" or "suspend") continue;
                if (!agent && operation is "clean_shutdown" or "clean_reboot" or "suspend" or "checkpoint") continue;
                allowed.Add(operation);
            }
        }
        else
        {
            foreach (var operation in new[] { "snapshot", "changing_dynamic_range" })
                if (IsAllowedConcurrently(operation, current)) allowed.Add(operation);
        }

        if (!JsonNode.DeepEquals(vm.Get("allowed_operations"), allowed)) vm.Set("allowed_operations", allowed);
    }

    /// <summary>Halted/Suspended → Running or Paused on <paramref name="host"/> (the member it is placed on).</summary>
    public static void Boot(HostRuntime host, XapiObject vm, bool paused)
    {
        var db = host.Database;
        vm.Set("power_state", paused ? Paused : Running);
        vm.Set("resident_on", host.HostRef);
        vm.Set("scheduled_to_be_resident_on", XapiType.NullRef);
        vm.Set("domid", NextDomainId(host));
        vm.Set("memory_target", vm.GetLong("memory_dynamic_max"));
        var cpu = db.Require("host", host.HostRef).GetStringMap("cpu_info");
        vm.Set("last_boot_CPU_flags", new JsonObject { ["vendor"] = cpu.GetValueOrDefault("vendor") ?? string.Empty, ["features"] = cpu.GetValueOrDefault("features") ?? string.Empty });
        db.Require("host", host.HostRef).AddToSet("resident_VMs", vm.Ref);
        SetDevicesAttached(host, vm, attached: true);
        if (db.Find("VM_metrics", vm.GetString("metrics")) is { } metrics)
        {
            metrics.Set("memory_actual", vm.GetLong("memory_dynamic_max"));
            metrics.Set("VCPUs_number", vm.GetLong("VCPUs_at_startup"));
            metrics.Set("start_time", host.Now());
            metrics.Set("last_updated", host.Now());
            metrics.Set("state", new JsonArray(paused ? "paused" : "running"));
            metrics.Set("current_domain_type", DomainType(vm));
        }

        if (host.HasGuestAgent(vm.Ref)) AttachGuestMetrics(host, vm);
        host.RefreshMemory();
        UpdateAllowedOperations(host, vm);
    }

    /// <summary>Any state → Halted: the domain is gone, devices detach, a suspend image is dropped.</summary>
    public static void Halt(HostRuntime host, XapiObject vm)
    {
        var db = host.Database;
        var resident = ResidentHost(host, vm);
        vm.Set("power_state", Halted);
        ClearResidence(host, vm);
        if (db.Find("VDI", vm.GetString("suspend_VDI")) is { } suspendVdi) DestroySuspendImage(host, vm, suspendVdi);
        resident?.RefreshMemory();
        UpdateAllowedOperations(host, vm);
    }

    /// <summary>
    /// Running → Suspended: the memory image goes to a suspend VDI (on the VM's suspend_SR, else
    /// the resident host's suspend_image_sr, else the pool's suspend_image_SR), the domain goes away.
    /// </summary>
    public static void Suspend(HostRuntime host, XapiObject vm)
    {
        var resident = ResidentHost(host, vm) ?? host;
        var candidates = new[]
        {
            vm.GetString("suspend_SR"),
            host.Database.Find("host", resident.HostRef)?.GetString("suspend_image_sr") ?? XapiType.NullRef,
            host.Database.Require("pool", host.PoolRef).GetString("suspend_image_SR"),
        };
        var sr = candidates.FirstOrDefault(host.Pool.HasStore)
                 ?? throw new XapiException(XapiErrors.SrNotFound, "suspend_image_SR");
        var image = VdiHandlers.AddVdi(host, new Dictionary<string, JsonNode?>
        {
            ["name_label"] = $"Suspend image for {vm.GetString("name_label")}",
            ["SR"] = sr,
            ["type"] = "suspend",
            ["sharable"] = false,
            ["read_only"] = false,
            ["other_config"] = new JsonObject(),
        }, VdiHandlers.RoundSize(vm.GetLong("memory_static_max")));
        vm.Set("suspend_VDI", image.Ref);
        vm.Set("power_state", Suspended);
        ClearResidence(host, vm);
        resident.RefreshMemory();
        UpdateAllowedOperations(host, vm);
    }

    /// <summary>
    /// A running or paused domain moves to another member (a pool migration's hand-over): the
    /// residence, a new domid there and both hosts' free memory change at once.
    /// </summary>
    public static void MoveDomain(HostRuntime host, XapiObject vm, HostRuntime destination)
    {
        var db = host.Database;
        var source = ResidentHost(host, vm);
        db.Find("host", vm.GetString("resident_on"))?.RemoveFromSet("resident_VMs", vm.Ref);
        vm.Set("resident_on", destination.HostRef);
        vm.Set("domid", NextDomainId(host));
        db.Require("host", destination.HostRef).AddToSet("resident_VMs", vm.Ref);
        if (db.Find("VM_metrics", vm.GetString("metrics")) is { } metrics) metrics.Set("last_updated", host.Now());
        source?.RefreshMemory();
        destination.RefreshMemory();
        UpdateAllowedOperations(host, vm);
    }

    /// <summary>The member a VM runs on (resident_on), or null when it runs nowhere.</summary>
    public static HostRuntime? ResidentHost(HostRuntime host, XapiObject vm) => host.Pool.Member(vm.GetString("resident_on"));

    public static void Resume(HostRuntime host, XapiObject vm, bool paused)
    {
        if (host.Database.Find("VDI", vm.GetString("suspend_VDI")) is { } image) DestroySuspendImage(host, vm, image);
        Boot(host, vm, paused);
    }

    public static void SetPaused(HostRuntime host, XapiObject vm, bool paused)
    {
        vm.Set("power_state", paused ? Paused : Running);
        if (host.Database.Find("VM_metrics", vm.GetString("metrics")) is { } metrics)
            metrics.Set("state", new JsonArray(paused ? "paused" : "running"));
        UpdateAllowedOperations(host, vm);
    }

    /// <summary>
    /// A reboot gives the VM a new domain, which runs: xenopsd's VM_reboot destroys the domain and
    /// builds a fresh one ending in VM_unpause (ocaml/xenopsd/lib/xenops_server.ml), so a paused VM
    /// hard-rebooted comes back running. The guest agent reports again.
    /// </summary>
    public static void Reboot(HostRuntime host, XapiObject vm)
    {
        vm.Set("domid", NextDomainId(host));
        if (host.Database.Find("VM_metrics", vm.GetString("metrics")) is { } metrics) metrics.Set("start_time", host.Now());
        if (vm.GetString("power_state") == Paused) SetPaused(host, vm, paused: false);
    }

    /// <summary>The guest's PV drivers appear (VM_guest_metrics) or go away.</summary>
    public static void SetGuestAgent(HostRuntime host, XapiObject vm, bool present)
    {
        host.SetGuestAgent(vm.Ref, present);
        var running = vm.GetString("power_state") is Running or Paused;
        if (present && running) AttachGuestMetrics(host, vm);
        if (!present) DetachGuestMetrics(host, vm);
        UpdateAllowedOperations(host, vm);
    }

    public static string DomainType(XapiObject vm)
    {
        var declared = vm.GetString("domain_type");
        if (declared != "unspecified") return declared;
        return vm.GetString("HVM_boot_policy").Length > 0 ? "hvm" : "pv";
    }

    private static void ClearResidence(HostRuntime host, XapiObject vm)
    {
        var db = host.Database;
        db.Find("host", vm.GetString("resident_on"))?.RemoveFromSet("resident_VMs", vm.Ref);
        vm.Set("resident_on", XapiType.NullRef);
        vm.Set("domid", -1L);
        vm.Set("memory_target", 0L);
        SetDevicesAttached(host, vm, attached: false);
        DetachGuestMetrics(host, vm);
        if (db.Find("VM_metrics", vm.GetString("metrics")) is { } metrics)
        {
            metrics.Set("memory_actual", 0L);
            metrics.Set("state", new JsonArray());
            metrics.Set("last_updated", host.Now());
        }
    }

    private static void SetDevicesAttached(HostRuntime host, XapiObject vm, bool attached)
    {
        foreach (var vbdRef in vm.GetStrings("VBDs"))
        {
            if (host.Database.Find("VBD", vbdRef) is { } vbd && vbd.GetBool("currently_attached") != attached)
                vbd.Set("currently_attached", attached);
        }

        foreach (var vifRef in vm.GetStrings("VIFs"))
        {
            if (host.Database.Find("VIF", vifRef) is { } vif && vif.GetBool("currently_attached") != attached)
                vif.Set("currently_attached", attached);
        }
    }

    private static void AttachGuestMetrics(HostRuntime host, XapiObject vm)
    {
        var db = host.Database;
        if (db.Find("VM_guest_metrics", vm.GetString("guest_metrics")) is not null) return;
        var metrics = db.Create("VM_guest_metrics", new Dictionary<string, JsonNode?>
        {
            ["os_version"] = new JsonObject { ["name"] = "Simulated Linux", ["distro"] = "simulated", ["uname"] = "6.1.0" },
            ["PV_drivers_version"] = new JsonObject { ["major"] = "9", ["minor"] = "4", ["micro"] = "0", ["build"] = "1" },
            ["PV_drivers_up_to_date"] = true,
            ["PV_drivers_detected"] = true,
            ["networks"] = GuestNetworks.Of(db, vm),
            ["other"] = new JsonObject { ["feature-shutdown"] = "1", ["feature-suspend"] = "1", ["feature-poweroff"] = "1", ["feature-reboot"] = "1", ["has-vendor-device"] = "0" },
            ["last_updated"] = host.Now(),
            ["live"] = true,
            ["can_use_hotplug_vbd"] = "yes",
            ["can_use_hotplug_vif"] = "yes",
        });
        vm.Set("guest_metrics", metrics.Ref);
    }

    private static void DetachGuestMetrics(HostRuntime host, XapiObject vm)
    {
        var db = host.Database;
        if (db.Find("VM_guest_metrics", vm.GetString("guest_metrics")) is { } metrics) db.Destroy(metrics);
        if (vm.GetString("guest_metrics") != XapiType.NullRef) vm.Set("guest_metrics", XapiType.NullRef);
    }

    private static void DestroySuspendImage(HostRuntime host, XapiObject vm, XapiObject image)
    {
        host.Pool.StoreOf(image).DeleteDisk(image.Uuid);
        host.Database.Find("SR", image.GetString("SR"))?.RemoveFromSet("VDIs", image.Ref);
        host.Database.Destroy(image);
        vm.Set("suspend_VDI", XapiType.NullRef);
        host.RefreshStorageUsage();
    }

    private static long NextDomainId(HostRuntime host) =>
        host.Database.All("VM").Select(v => v.GetLong("domid")).DefaultIfEmpty(0).Max() + 1;
}
