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
        registry.Add("VM.start", call => Start(call, call.Ref(1), target: null, call.Bool(2), "start"));
        registry.Add("VM.start_on", call => Start(call, call.Ref(1), Member(call, call.Ref(2)), call.Bool(3), "start_on"));
        registry.Add("VM.resume", call => Resume(call, call.Ref(1), target: null, call.Bool(2), "resume"));
        registry.Add("VM.resume_on", call => Resume(call, call.Ref(1), Member(call, call.Ref(2)), call.Bool(3), "resume_on"));
        registry.Add("VM.pool_migrate", PoolMigrate);
        registry.Add("VM.provision", Provision);
        registry.Add("VM.assert_can_boot_here", call =>
        {
            lock (call.Db.Sync) AssertCanBoot(Member(call, call.Ref(2)), call.Db.Require("VM", call.Ref(1)), "start_on");
            return ValueTask.FromResult<JsonNode?>(null);
        });
        registry.Add("VM.get_possible_hosts", call =>
        {
            lock (call.Db.Sync)
            {
                var vm = call.Db.Require("VM", call.Ref(1));
                return ValueTask.FromResult<JsonNode?>(new JsonArray(PossibleHosts(call.Host, vm).Select(h => (JsonNode?)h.HostRef).ToArray()));
            }
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
                if (call.Ref(3) != XapiType.NullRef) call.Db.Require("SR", call.Ref(3));
            }

            return Copy(call, call.String(2), "copy", asSnapshot: false, ignoredVdis: [], targetSr: call.Ref(3));
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
                foreach (var vtpmRef in vm.GetStrings("VTPMs"))
                    if (db.Find("VTPM", vtpmRef) is { } vtpm) VtpmHandlers.Remove(host, vtpm);
                if (vm.GetString("power_state") == VmLifecycle.Suspended) VmLifecycle.Halt(host, vm);
                if (db.Find("VM_metrics", vm.GetString("metrics")) is { } metrics) db.Destroy(metrics);
                if (db.Find("VM_guest_metrics", vm.GetString("guest_metrics")) is { } guest) db.Destroy(guest);
                if (db.Find("VM", vm.GetString("snapshot_of")) is { } origin) origin.RemoveFromSet("snapshots", vm.Ref);
                host.ForgetGuestAgent(vm.Ref);
                db.Destroy(vm);
                host.RefreshStorageUsage();
                return null;
            });

    /// <summary>
    /// VM.start / start_on: boots the VM on the named member or, for start, on one xapi picks
    /// (the VM's affinity host when it can boot there, else any member that can, at random).
    /// </summary>
    private static ValueTask<JsonNode?> Start(XapiCall call, string vmRef, HostRuntime? target, bool paused, string operation)
    {
        HostRuntime? chosen = null;
        return ObjectOperation.RunAsync(call, "VM", vmRef, operation,
            vm =>
            {
                VmLifecycle.AssertOperationValid(vm, operation);
                chosen = target ?? ChooseHost(call.Host, vm, operation);
                AssertCanBoot(chosen, vm, operation);
            },
            vm =>
            {
                // Checked again: another start may have taken the memory meanwhile.
                AssertCanBoot(chosen!, vm, operation);
                VmLifecycle.Boot(chosen!, vm, paused);
                return null;
            },
            call.Host.Options.PowerOperationDuration);
    }

    private static ValueTask<JsonNode?> Resume(XapiCall call, string vmRef, HostRuntime? target, bool paused, string operation)
    {
        HostRuntime? chosen = null;
        return ObjectOperation.RunAsync(call, "VM", vmRef, operation,
            vm =>
            {
                VmLifecycle.AssertOperationValid(vm, operation);
                chosen = target ?? ChooseHost(call.Host, vm, operation);
                AssertCanBoot(chosen, vm, operation);
            },
            vm =>
            {
                AssertCanBoot(chosen!, vm, operation);
                VmLifecycle.Resume(chosen!, vm, paused);
                return null;
            },
            call.Host.Options.PowerOperationDuration);
    }

    /// <summary>
    /// VM.pool_migrate(vm, host, options): a live move to another member of the pool. The
    /// destination must see every SR the VM's disks are on (shared storage; a VM on local disks
    /// needs a storage migration, VM.migrate_send) and have its memory free. The domain moves in
    /// one step: it never runs on two hosts.
    /// </summary>
    private static ValueTask<JsonNode?> PoolMigrate(XapiCall call)
    {
        var destination = Member(call, call.Ref(2));
        return ObjectOperation.RunAsync(call, "VM", call.Ref(1), "pool_migrate",
            vm =>
            {
                VmLifecycle.AssertOperationValid(vm, "pool_migrate");
                AssertCanBoot(destination, vm, "pool_migrate");
            },
            vm =>
            {
                AssertCanBoot(destination, vm, "pool_migrate");
                VmLifecycle.MoveDomain(call.Host, vm, destination);
                return null;
            },
            call.Host.Options.PowerOperationDuration);
    }

    /// <summary>
    /// VM.provision (xapi_vm.ml, xapi_templates.ml): the VM stops being a template, then each disk
    /// other_config:disks describes is made — a VDI of that size on the SR named by uuid (an
    /// unknown or empty one is UUID_INVALID [sr, value], so an installer must name it) and a VBD
    /// with that userdevice — and the disks and postinstall keys are removed.
    /// </summary>
    private static ValueTask<JsonNode?> Provision(XapiCall call) =>
        ObjectOperation.RunAsync(call, "VM", call.Ref(1), "provision",
            vm => VmLifecycle.AssertOperationValid(vm, "provision"),
            vm =>
            {
                var host = call.Host;
                var db = call.Db;
                vm.Set("is_a_template", false);
                if (vm.GetStringMap("other_config").TryGetValue("disks", out var xml) && xml.Length > 0)
                {
                    var created = new List<XapiObject>();
                    try
                    {
                        foreach (var disk in ProvisionDisk.Parse(xml))
                        {
                            var sr = db.FindByUuid("SR", disk.Sr) ?? throw new XapiException(XapiErrors.UuidInvalid, "sr", disk.Sr);
                            if (!host.Pool.HasStore(sr.Ref)) throw new XapiException(XapiErrors.OperationNotAllowed, $"SR {sr.Uuid} cannot hold new disks.");
                            var vdi = VdiHandlers.AddVdi(host, new Dictionary<string, JsonNode?>
                            {
                                ["name_label"] = disk.Device, ["name_description"] = "Created by template provisioner", ["SR"] = sr.Ref,
                                ["type"] = disk.Type, ["sharable"] = false, ["read_only"] = false, ["other_config"] = new JsonObject(),
                                ["sm_config"] = new JsonObject { ["vmhint"] = vm.Uuid },
                            }, VdiHandlers.RoundSize(disk.Size));
                            created.Add(vdi);
                            var vbd = DeviceHandlers.CreateVbd(host, vm, vdi.Ref, disk.Device, disk.Bootable);
                            vbd.Set("unpluggable", disk.Type != "system");
                            vbd.SetMapEntry("other_config", "owner", string.Empty);
                        }
                    }
                    catch
                    {
                        foreach (var vdi in created) VdiHandlers.RemoveVdi(host, vdi);
                        throw;
                    }
                }

                vm.RemoveMapEntry("other_config", "disks");
                vm.RemoveMapEntry("other_config", "postinstall");
                return null;
            });

    /// <summary>One disk of a template's other_config:disks (<c>&lt;provision&gt;&lt;disk device size sr bootable type/&gt;…</c>).</summary>
    private sealed record ProvisionDisk(string Device, long Size, string Sr, bool Bootable, string Type)
    {
        public static List<ProvisionDisk> Parse(string xml)
        {
            try
            {
                var root = System.Xml.Linq.XElement.Parse(xml);
                if (root.Name != "provision") throw new FormatException("not a provision element");
                return root.Elements("disk").Select(d => new ProvisionDisk(
                    (string?)d.Attribute("device") ?? throw new FormatException("device"),
                    long.Parse((string?)d.Attribute("size") ?? throw new FormatException("size"), System.Globalization.CultureInfo.InvariantCulture),
                    (string?)d.Attribute("sr") ?? throw new FormatException("sr"),
                    (string?)d.Attribute("bootable") == "true",
                    (string?)d.Attribute("type") ?? "system")).ToList();
            }
            catch (Exception e) when (e is System.Xml.XmlException or FormatException or OverflowException)
            {
                throw new XapiException(XapiErrors.InternalError, $"Xapi_templates.Parse_failure: {e.Message}");
            }
        }
    }

    /// <summary>The member behind a host ref (HANDLE_INVALID for a ref of no host of this pool).</summary>
    private static HostRuntime Member(XapiCall call, string hostRef)
    {
        lock (call.Db.Sync)
        {
            call.Db.Require("host", hostRef);
            return call.Host.Pool.Member(hostRef) ?? throw new XapiException(XapiErrors.HandleInvalid, "host", hostRef);
        }
    }

    /// <summary>Where xapi would start the VM: its affinity host if it can boot there, else a random member that can.</summary>
    private static HostRuntime ChooseHost(HostRuntime host, XapiObject vm, string operation)
    {
        var possible = PossibleHosts(host, vm);
        if (possible.Count == 0)
        {
            // The reason the likeliest host gives is the one worth reporting (xapi reports NO_HOSTS_AVAILABLE).
            if (host.Pool.Members.Count == 1) AssertCanBoot(host.Pool.Members[0], vm, operation);
            throw new XapiException(XapiErrors.NoHostsAvailable);
        }

        var affinity = possible.FirstOrDefault(h => h.HostRef == vm.GetString("affinity"));
        return affinity ?? possible[Random.Shared.Next(possible.Count)];
    }

    private static List<HostRuntime> PossibleHosts(HostRuntime host, XapiObject vm) =>
        host.Pool.Members.Where(m =>
        {
            try
            {
                AssertCanBoot(m, vm, "start");
                return true;
            }
            catch (XapiException)
            {
                return false;
            }
        }).ToList();

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

    /// <summary>
    /// What xapi checks before a VM may run on a host: the host is enabled, sees every SR of the
    /// VM's disks (VM_REQUIRES_SR), has the memory free, and no disk is in exclusive use elsewhere.
    /// Call under the database lock.
    /// </summary>
    private static void AssertCanBoot(HostRuntime target, XapiObject vm, string operation)
    {
        var db = target.Database;
        var hostObj = db.Require("host", target.HostRef);
        if (!hostObj.GetBool("enabled")) throw new XapiException(XapiErrors.HostDisabled, target.HostRef);
        foreach (var vbdRef in vm.GetStrings("VBDs"))
        {
            if (db.Find("VBD", vbdRef) is not { } vbd || vbd.GetBool("empty") || db.Find("VDI", vbd.GetString("VDI")) is not { } vdi) continue;
            if (!target.Pool.HostSeesSr(target.HostRef, vdi.GetString("SR")))
                throw new XapiException(XapiErrors.VmRequiresSr, vm.Ref, vdi.GetString("SR"));
        }

        var needed = vm.GetLong("memory_static_max");
        var available = target.FreeMemory() + (vm.GetString("resident_on") == target.HostRef ? needed : 0);
        if (needed > available)
            throw new XapiException(XapiErrors.HostNotEnoughFreeMemory, XapiErrors.Int(needed), XapiErrors.Int(available));
        foreach (var vbdRef in vm.GetStrings("VBDs"))
        {
            if (db.Find("VBD", vbdRef) is not { } vbd || db.Find("VDI", vbd.GetString("VDI")) is not { } vdi) continue;
            if (vdi.GetBool("sharable") || vbd.GetString("type") == "CD") continue;
            var inUseElsewhere = vdi.GetStrings("VBDs")
                .Select(r => db.Find("VBD", r))
                .Any(other => other is not null && other.Ref != vbd.Ref && other.GetBool("currently_attached") && other.GetString("VM") != vm.Ref);
            if (inUseElsewhere && operation != "pool_migrate") throw new XapiException(XapiErrors.VdiInUse, vdi.Ref, operation);
        }
    }

    /// <summary>
    /// VM.snapshot / clone / copy: a new VM record with copies of the disks (instant copy-on-write
    /// copies of the VDIs) and of the VIFs. A snapshot is a template with is_a_snapshot set.
    /// </summary>
    private static ValueTask<JsonNode?> Copy(XapiCall call, string newName, string operation, bool asSnapshot, IReadOnlyList<string> ignoredVdis,
        string targetSr = XapiType.NullRef) =>
        ObjectOperation.RunAsync(call, "VM", call.Ref(1), operation,
            vm => VmLifecycle.AssertOperationValid(vm, operation),
            vm => CopyVm(call.Host, vm, newName, asSnapshot, ignoredVdis, targetSr).Ref);

    /// <summary>
    /// A copy of a VM record with its devices: disks as copy-on-write copies on their own SR, or
    /// (VM.copy to an SR) full copies there; VIFs, CDs and vTPMs alike.
    /// </summary>
    internal static XapiObject CopyVm(HostRuntime host, XapiObject source, string newName, bool asSnapshot, IReadOnlyList<string> ignoredVdis,
        string targetSr = XapiType.NullRef)
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
                targetVdi = targetSr == XapiType.NullRef || targetSr == vdi.GetString("SR")
                    ? VdiHandlers.CopyVdi(host, vdi, asSnapshot).Ref
                    : VdiHandlers.FullCopy(host, vdi, targetSr).Ref;
            DeviceHandlers.AddVbd(host, copy, targetVdi, vbd);
        }

        foreach (var vifRef in source.GetStrings("VIFs"))
            if (db.Find("VIF", vifRef) is { } vif) DeviceHandlers.AddVif(host, copy, vif);
        // A vTPM's state is copied unless it is unique (xapi_vtpm.copy_or_create_contents).
        foreach (var vtpm in source.GetStrings("VTPMs").Select(r => db.Find("VTPM", r)).OfType<XapiObject>())
            VtpmHandlers.Add(host, copy, vtpm.GetBool("is_unique"), vtpm.GetBool("is_unique") ? string.Empty : VtpmHandlers.Contents(host, vtpm));

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
