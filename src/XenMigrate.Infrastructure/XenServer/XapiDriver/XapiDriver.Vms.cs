using System.Text.Json.Nodes;
using XenMigrate.Infrastructure.Xapi;

namespace XenMigrate.Infrastructure.XenServer;

// Planning a move and building the destination VM: the path per pair of hosts, what cannot
// move, the networks on the other side, and a VM that stays itself (vTPM, BIOS strings, NVRAM,
// CD drives, MACs).
public sealed partial class XapiDriver
{
    public async Task<MovePlan> PlanMoveAsync(string source, string destination, string vmUuid, bool live, CancellationToken ct)
    {
        var from = await OnAsync(source, ct);
        var to = await OnAsync(destination, ct);
        var vm = await from.Session.VmAsync(await RequireVmAsync(from.Session, vmUuid, ct), ct);
        AssertMovable(vm);
        var disks = await DisksOfAsync(from.Session, vm, ct);
        var samePool = ReferenceEquals(from.Pool.Connection, to.Pool.Connection);
        MovePath path;
        if (!samePool) path = MovePath.AcrossPools;
        else
        {
            var srs = await from.Session.SrsAsync(ct);
            var allVisible = true;
            foreach (var disk in disks)
            {
                var sr = srs.Values.FirstOrDefault(s => s.Uuid == disk.SrUuid);
                allVisible &= sr is not null && (await HostsSeeingAsync(from.Session, sr.Ref, ct)).Contains(to.Member.HostRef);
            }

            path = allVisible ? MovePath.SharedStorage : MovePath.WithinPool;
        }

        // The networks are checked now, in the first step, so an unmappable one moves nothing.
        if (!samePool) await MapNetworksAsync(from, to, vm, ct);
        return new MovePlan(path, disks, path == MovePath.SharedStorage ? 0 : disks.Sum(d => d.VirtualSize), vm.MemoryStaticMax);
    }

    public async Task AssertMovableAsync(string host, Guid serverId, CancellationToken ct)
    {
        var on = await OnAsync(host, ct);
        var vm = (await on.Session.VmsAsync(ct)).Values.FirstOrDefault(v => v.IsGuest
            && v.OtherConfig.GetValueOrDefault(Inventory.InventoryKeys.ServerId) == serverId.ToString() && !v.OtherConfig.ContainsKey(MoveTagKey));
        if (vm is not null) AssertMovable(vm);
    }

    /// <summary>What no XenServer copy can carry: refused before anything is touched.</summary>
    private static void AssertMovable(XapiVm vm)
    {
        if (XapiValues.Strings(vm.Record["VGPUs"]).Count > 0)
            throw new UnmovableVmException("VM_HAS_VGPU", $"VM {vm.NameLabel} has a vGPU, which XenMigrate cannot move.");
        if (XapiValues.Strings(vm.Record["attached_PCIs"]).Count > 0 || vm.OtherConfig.ContainsKey("pci"))
            throw new UnmovableVmException("VM_HAS_PCI_ATTACHED", $"VM {vm.NameLabel} has a PCI device passed through, which cannot move.");
        if (XapiValues.Strings(vm.Record["VUSBs"]).Count > 0)
            throw new UnmovableVmException("VM_HAS_VUSBS", $"VM {vm.NameLabel} has a USB device passed through, which cannot move.");
    }

    /// <summary>
    /// Source network → destination network for every VIF of the VM: by name_label (or the name
    /// <see cref="XenServerOptions.NetworkMap"/> gives it) and VLAN, among the networks with a PIF
    /// on the destination host — never a PIF-less one such as the host-internal management network.
    /// </summary>
    private async Task<Dictionary<string, string>> MapNetworksAsync(On from, On to, XapiVm vm, CancellationToken ct)
    {
        var sourceNetworks = await NetworksAsync(from.Session, ct);
        var destNetworks = await NetworksAsync(to.Session, ct);
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var vifRef in vm.Vifs)
        {
            var network = XapiValues.String((await RecordAsync(from.Session, "VIF", vifRef, ct))["network"]);
            if (map.ContainsKey(network)) continue;
            var source = sourceNetworks.GetValueOrDefault(network)
                         ?? throw new UnmovableVmException("NETWORK_NOT_MAPPED", $"The network of VIF {vifRef} is unknown.");
            var target = NetworkMapper.Choose(source, destNetworks.Values, to.Member.HostRef, Options.NetworkMap)
                         ?? throw new UnmovableVmException("NETWORK_NOT_MAPPED",
                             $"Network '{source.NameLabel}'{(source.Vlan >= 0 ? $" (VLAN {source.Vlan})" : "")} has no counterpart with a physical interface on {to.Member.ComputeName}; map it with XenServer:NetworkMap.");
            map[network] = target.Ref;
        }

        return map;
    }

    private static async Task<Dictionary<string, NetworkInfo>> NetworksAsync(XapiSession s, CancellationToken ct)
    {
        var networks = await s.CallAsync("network.get_all_records", ct) as JsonObject ?? [];
        var pifs = (await s.CallAsync("PIF.get_all_records", ct) as JsonObject ?? []).Select(p => p.Value as JsonObject).OfType<JsonObject>().ToList();
        return networks.Where(n => n.Value is JsonObject).ToDictionary(n => n.Key, n =>
        {
            var record = (JsonObject)n.Value!;
            var mine = pifs.Where(p => XapiValues.String(p["network"]) == n.Key).ToList();
            return new NetworkInfo(n.Key, XapiValues.String(record["uuid"]), XapiValues.String(record["name_label"]),
                mine.Select(p => XapiValues.Int(p["VLAN"])).DefaultIfEmpty(-1).Max(),
                mine.Select(p => XapiValues.String(p["host"])).ToHashSet(StringComparer.Ordinal),
                mine.Any(p => XapiValues.Bool(p["management"])));
        }, StringComparer.Ordinal);
    }

    public async Task<string> CreateVmLikeAsync(string destination, string source, string sourceVmUuid, VmCopySpec spec, CancellationToken ct)
    {
        var from = await OnAsync(source, ct);
        var to = await OnAsync(destination, ct);
        // A VM with our tag was left half-built by a run that died (its disks or VIFs may be
        // missing): take it down, keeping the copied disks, and build anew.
        foreach (var halfBuilt in (await to.Session.VmsAsync(ct)).Values.Where(v => v.IsGuest && v.OtherConfig.GetValueOrDefault(MoveTagKey) == spec.MoveTag))
            await DestroyVmRefAsync(to.Session, halfBuilt.Ref, withDisks: false, ct);

        var sourceVm = await RequireVmAsync(from.Session, sourceVmUuid, ct);
        var sourceRecord = await RecordAsync(from.Session, "VM", sourceVm, ct);
        var samePool = ReferenceEquals(from.Pool.Connection, to.Pool.Connection);
        var networks = samePool ? null : await MapNetworksAsync(from, to, await from.Session.VmAsync(sourceVm, ct), ct);

        var vm = await to.Session.CallForStringAsync("VM.create", ct, NewVmRecord(sourceRecord, spec, to.Member.HostRef));
        // SMBIOS strings are not a constructor field: a licensed guest keeps them through VM.set_bios_strings.
        if (sourceRecord["bios_strings"] is JsonObject { Count: > 0 } bios)
            await to.Session.CallAsync("VM.set_bios_strings", ct, vm, XapiValues.Map(bios));
        foreach (var (userdevice, vdiUuid) in spec.Disks)
        {
            var vdi = await RefByUuidAsync(to.Session, "VDI", vdiUuid, ct) ?? throw new XenServerObjectGoneException("VDI", vdiUuid);
            await to.Session.CallAsync("VBD.create", ct, VbdRecord(vm, vdi, userdevice, spec.Bootable.GetValueOrDefault(userdevice), "Disk"));
        }

        await CopyCdsAsync(from, to, sourceRecord, vm, samePool, ct);
        foreach (var vifRef in XapiValues.Strings(sourceRecord["VIFs"]))
        {
            var vif = await RecordAsync(from.Session, "VIF", vifRef, ct);
            var network = XapiValues.String(vif["network"]);
            await to.Session.CallAsync("VIF.create", ct, new JsonObject
            {
                ["device"] = XapiValues.String(vif["device"]), ["network"] = networks?.GetValueOrDefault(network) ?? network, ["VM"] = vm,
                ["MAC"] = XapiValues.String(vif["MAC"]), ["MTU"] = XapiValues.Int(vif["MTU"]), ["other_config"] = new JsonObject(),
                ["qos_algorithm_type"] = "", ["qos_algorithm_params"] = new JsonObject(),
            });
        }

        // A vTPM's state goes with the guest (Xen Orchestra copies it the same way: VTPM.get_contents).
        foreach (var vtpmRef in XapiValues.Strings(sourceRecord["VTPMs"]))
        {
            var vtpm = await RecordAsync(from.Session, "VTPM", vtpmRef, ct);
            var contents = await from.Session.CallForStringAsync("VTPM.get_contents", ct, vtpmRef);
            var copy = await to.Session.CallForStringAsync("VTPM.create", ct, vm, XapiValues.Bool(vtpm["is_unique"]));
            await to.Session.CallAsync("VTPM.set_contents", ct, copy, contents);
        }

        return await UuidAsync(to.Session, "VM", vm, ct);
    }

    /// <summary>
    /// CD drives as the source has them: the same ISO where the destination sees it (the same VDI in
    /// the pool, else an ISO of the same name on an ISO SR the destination host sees), empty otherwise.
    /// </summary>
    private static async Task CopyCdsAsync(On from, On to, JsonObject sourceRecord, string vm, bool samePool, CancellationToken ct)
    {
        foreach (var vbdRef in XapiValues.Strings(sourceRecord["VBDs"]))
        {
            var vbd = await RecordAsync(from.Session, "VBD", vbdRef, ct);
            if (XapiValues.String(vbd["type"]) != "CD") continue;
            string? iso = null;
            if (!XapiValues.Bool(vbd["empty"]) && !XapiValues.IsNullRef(XapiValues.String(vbd["VDI"])))
            {
                var sourceIso = await RecordAsync(from.Session, "VDI", XapiValues.String(vbd["VDI"]), ct);
                iso = samePool ? XapiValues.String(vbd["VDI"]) : await IsoNamedAsync(to, XapiValues.String(sourceIso["name_label"]), ct);
                if (iso is not null && !(await HostsSeeingAsync(to.Session, XapiValues.String(await to.Session.CallAsync("VDI.get_SR", ct, iso)), ct)).Contains(to.Member.HostRef))
                    iso = null;
            }

            await to.Session.CallAsync("VBD.create", ct, VbdRecord(vm, iso ?? XapiValues.NullRef, XapiValues.String(vbd["userdevice"]), false, "CD"));
        }
    }

    private static async Task<string?> IsoNamedAsync(On on, string name, CancellationToken ct)
    {
        var srs = await on.Session.SrsAsync(ct);
        var isoSrs = srs.Values.Where(s => s.ContentType == "iso").Select(s => s.Ref).ToHashSet(StringComparer.Ordinal);
        return (await on.Session.VdisAsync(ct)).Values.FirstOrDefault(v => v.NameLabel == name && isoSrs.Contains(v.Sr))?.Ref;
    }

    private static JsonObject VbdRecord(string vm, string vdi, string userdevice, bool bootable, string type) => new()
    {
        ["VM"] = vm, ["VDI"] = vdi, ["userdevice"] = userdevice, ["bootable"] = bootable, ["mode"] = type == "CD" ? "RO" : "RW",
        ["type"] = type, ["empty"] = XapiValues.IsNullRef(vdi), ["other_config"] = new JsonObject(), ["qos_algorithm_type"] = "",
        ["qos_algorithm_params"] = new JsonObject(),
    };

    /// <summary>The VM.create record: the source's own, with the new memory and vCPUs, a fresh identity, and the move's tag.</summary>
    private static JsonObject NewVmRecord(JsonObject source, VmCopySpec spec, string affinity)
    {
        string[] copied =
        [
            "name_label", "name_description", "user_version", "actions_after_shutdown", "actions_after_reboot", "actions_after_crash",
            "actions_after_softreboot", "PV_bootloader", "PV_kernel", "PV_ramdisk", "PV_args", "PV_bootloader_args", "PV_legacy_args",
            "HVM_boot_policy", "HVM_boot_params", "HVM_shadow_multiplier", "platform", "PCI_bus", "recommendations", "domain_type",
            "VCPUs_params", "xenstore_data", "tags", "NVRAM", "hardware_platform_version", "has_vendor_device", "reference_label",
        ];
        var record = new JsonObject();
        foreach (var key in copied)
            if (source.TryGetPropertyValue(key, out var value) && value is not null) record[key] = value.DeepClone();

        var memory = spec.MemoryMb * 1024L * 1024;
        record["is_a_template"] = false;
        record["affinity"] = affinity;
        record["memory_static_min"] = Math.Min(XapiValues.Int(source["memory_static_min"]), memory);
        record["memory_static_max"] = memory;
        record["memory_dynamic_min"] = memory;
        record["memory_dynamic_max"] = memory;
        record["VCPUs_max"] = spec.Vcpus;
        record["VCPUs_at_startup"] = spec.Vcpus;
        record["blocked_operations"] = new JsonObject();
        var otherConfig = XapiValues.Map(source["other_config"]);
        otherConfig.Remove("mac_seed"); // the new VM gets its own
        otherConfig[MoveTagKey] = spec.MoveTag;
        record["other_config"] = Map(otherConfig);
        return record;
    }

    public async Task DestroyVmAsync(string host, string? vmUuid, bool withDisks, CancellationToken ct)
    {
        var on = await OnAsync(host, ct);
        if (await RefByUuidAsync(on.Session, "VM", vmUuid, ct) is { } vm) await DestroyVmRefAsync(on.Session, vm, withDisks, ct);
    }

    /// <summary>Halts a VM if it runs, destroys its disks (first: a fault in between leaves the VM to be found again) and then the VM.</summary>
    private async Task DestroyVmRefAsync(XapiSession s, string vm, bool withDisks, CancellationToken ct)
    {
        var record = await s.VmAsync(vm, ct);
        if (record.PowerState is "Running" or "Paused" or "Suspended")
            await BusyAsync(() => s.CallAsyncTaskAsync("VM.hard_shutdown", OpTimeout, ct, vm), ct);
        if (withDisks)
        {
            foreach (var vbdRef in record.Vbds)
            {
                var vbd = XapiVbd.From(vbdRef, await RecordAsync(s, "VBD", vbdRef, ct));
                if (vbd.IsDisk) await DestroyVdiAsync(s, vbd.Vdi, ct);
            }
        }

        await BusyAsync(() => s.CallAsyncTaskAsync("VM.destroy", OpTimeout, ct, vm), ct);
    }

    public async Task DestroyMoveArtifactsAsync(string host, string tag, bool snapshotsOnly, CancellationToken ct)
    {
        var on = await OnAsync(host, ct);
        foreach (var vm in (await on.Session.VmsAsync(ct)).Values.Where(v =>
                     IsSnapshotOf(v, tag) || (!snapshotsOnly && v.IsGuest && v.OtherConfig.GetValueOrDefault(MoveTagKey) == tag)))
            await DestroyVmRefAsync(on.Session, vm.Ref, withDisks: true, ct);
        if (snapshotsOnly) return;
        foreach (var vdi in (await on.Session.VdisAsync(ct)).Values.Where(v => v.OtherConfig.GetValueOrDefault(MoveTagKey) == tag))
            await DestroyVdiAsync(on.Session, vdi.Ref, ct);
    }

    public async Task ClearMoveTagAsync(string host, string vmUuid, CancellationToken ct)
    {
        var on = await OnAsync(host, ct);
        if (await RefByUuidAsync(on.Session, "VM", vmUuid, ct) is not { } vm) return;
        var record = await on.Session.VmAsync(vm, ct);
        await on.Session.RemoveFromOtherConfigAsync("VM", vm, MoveTagKey, ct);
        var vbds = await on.Session.VbdsAsync(ct);
        foreach (var vbd in record.Vbds.Select(r => vbds.GetValueOrDefault(r)).Where(b => b is { IsDisk: true }))
        {
            await on.Session.RemoveFromOtherConfigAsync("VDI", vbd!.Vdi, MoveTagKey, ct);
            await on.Session.RemoveFromOtherConfigAsync("VDI", vbd.Vdi, UserdeviceTagKey, ct);
        }
    }
}
