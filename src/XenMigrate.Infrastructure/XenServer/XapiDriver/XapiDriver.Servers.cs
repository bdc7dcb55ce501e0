using System.Globalization;
using System.Text.Json.Nodes;
using System.Xml.Linq;
using XenMigrate.Infrastructure.Images;
using XenMigrate.Infrastructure.Inventory;
using XenMigrate.Infrastructure.Xapi;

namespace XenMigrate.Infrastructure.XenServer;

// A server's VM from a template, its removal, and a host's resources.
public sealed partial class XapiDriver
{
    /// <summary>The root disk a flavor without one gets when the template describes none.</summary>
    private const long DefaultRootBytes = 1L << 30;

    public async Task<GuestVm> BuildAsync(string host, BuildSpec spec, CancellationToken ct)
    {
        var on = await OnAsync(host, ct);
        var s = on.Session;
        var vm = await FindBuildAsync(s, spec.ServerId, ct);
        if (vm is null)
        {
            var template = await TemplateImages.TemplateOnPoolAsync(s, spec.ImageId, ct)
                           ?? throw new XenServerObjectGoneException("template for image", spec.ImageId.ToString());
            vm = await s.VmAsync(await BusyAsync(() => s.CallAsyncTaskAsync("VM.clone", OpTimeout, ct, template.Ref, BuildName(spec.ServerId)), ct), ct);
        }

        // Tagged with the server id while still a template, so the inventory never mistakes a half-built VM for a new server.
        var tags = new Dictionary<string, string>
        {
            [InventoryKeys.ServerId] = spec.ServerId.ToString(), [InventoryKeys.Project] = spec.ProjectId, [InventoryKeys.User] = spec.UserId,
        };
        foreach (var (key, value) in tags.Where(t => !vm.OtherConfig.ContainsKey(t.Key)))
            await s.AddToOtherConfigAsync("VM", vm.Ref, key, value, ct);
        // A clone of a default template says it is one; the new VM is not.
        if (vm.OtherConfig.ContainsKey("default_template")) await s.RemoveFromOtherConfigAsync("VM", vm.Ref, "default_template", ct);

        if (vm.IsATemplate)
        {
            await SizeAsync(s, vm, spec, ct);
            await DisksForBuildAsync(on, vm, spec, ct);
            await EnsureVifsAsync(on, await s.VmAsync(vm.Ref, ct), spec.Networks, ct);
            await HandOverPublicKeyAsync(s, await s.VmAsync(vm.Ref, ct), spec.PublicKey, ct);
            if ((await s.VmAsync(vm.Ref, ct)).IsATemplate) await s.CallAsync("VM.set_is_a_template", ct, vm.Ref, false);
        }

        if (vm.NameLabel != spec.Name) await s.CallAsync("VM.set_name_label", ct, vm.Ref, spec.Name);
        if (vm.Affinity != on.Member.HostRef) await s.CallAsync("VM.set_affinity", ct, vm.Ref, on.Member.HostRef);
        return await GuestAsync(on, await s.VmAsync(vm.Ref, ct), ct);
    }

    /// <summary>xenstore key under which the guest reads the key pair it was booted with (xenstore-read in the guest).</summary>
    public const string PublicKeyXenstoreKey = "vm-data/public-keys/0/openssh-key";

    /// <summary>
    /// The server's key pair, for the guest: XenServer has no metadata service, so the public key
    /// goes into the VM's xenstore_data, which the guest reads under /local/domain/&lt;id&gt;/vm-data.
    /// </summary>
    private static async Task HandOverPublicKeyAsync(XapiSession s, XapiVm vm, string? publicKey, CancellationToken ct)
    {
        if (publicKey is null) return;
        var current = XapiValues.Map(vm.Record["xenstore_data"]);
        if (current.GetValueOrDefault(PublicKeyXenstoreKey) == publicKey) return;
        if (current.ContainsKey(PublicKeyXenstoreKey)) await s.CallAsync("VM.remove_from_xenstore_data", ct, vm.Ref, PublicKeyXenstoreKey);
        await s.CallAsync("VM.add_to_xenstore_data", ct, vm.Ref, PublicKeyXenstoreKey, publicKey);
    }

    /// <summary>The half-built or built VM of a server: tagged with its id, or (tag not yet written) named as the build names it.</summary>
    private static async Task<XapiVm?> FindBuildAsync(XapiSession s, Guid serverId, CancellationToken ct) =>
        (await s.VmsAsync(ct)).Values.FirstOrDefault(v => !v.IsASnapshot && !v.IsControlDomain
            && (v.OtherConfig.GetValueOrDefault(InventoryKeys.ServerId) == serverId.ToString()
                || (v.IsATemplate && v.NameLabel == BuildName(serverId))));

    /// <summary>The flavor's memory and vCPUs; VCPUs_at_startup ≤ VCPUs_max at every moment.</summary>
    private static async Task SizeAsync(XapiSession s, XapiVm vm, BuildSpec spec, CancellationToken ct)
    {
        var memory = spec.MemoryMb * 1024L * 1024;
        var staticMin = Math.Min(XapiValues.Int(vm.Record["memory_static_min"]), memory);
        await s.CallAsync("VM.set_memory_limits", ct, vm.Ref, staticMin, memory, memory, memory);
        if (spec.Vcpus > vm.VcpusMax)
        {
            await s.CallAsync("VM.set_VCPUs_max", ct, vm.Ref, (long)spec.Vcpus);
            await s.CallAsync("VM.set_VCPUs_at_startup", ct, vm.Ref, (long)spec.Vcpus);
        }
        else
        {
            await s.CallAsync("VM.set_VCPUs_at_startup", ct, vm.Ref, (long)spec.Vcpus);
            await s.CallAsync("VM.set_VCPUs_max", ct, vm.Ref, (long)spec.Vcpus);
        }
    }

    /// <summary>
    /// The disks of a new server, by the kind of template: a default template describes them in
    /// other_config:disks — the installer names the SR and the flavor's root size there, then
    /// VM.provision makes them (xe vm-install does the same); a custom template's clone already
    /// has its disk 0 (copy-on-write), grown to the flavor; a template with neither gets a root disk.
    /// </summary>
    private async Task DisksForBuildAsync(On on, XapiVm vm, BuildSpec spec, CancellationToken ct)
    {
        var s = on.Session;
        var root = spec.RootBytes > 0 ? spec.RootBytes : DefaultRootBytes;
        if (vm.OtherConfig.TryGetValue("disks", out var xml) && xml.Length > 0)
        {
            if (spec.RootBytes <= 0) root = SizeOfDisk0(xml) ?? DefaultRootBytes;
            var srUuid = await UuidAsync(s, "SR", await TargetSrAsync(on, ct), ct);
            await s.RemoveFromOtherConfigAsync("VM", vm.Ref, "disks", ct);
            await s.AddToOtherConfigAsync("VM", vm.Ref, "disks", ProvisioningXml(xml, srUuid, root), ct);
            await BusyAsync(() => s.CallAsyncTaskAsync("VM.provision", OpTimeout, ct, vm.Ref), ct);
            return;
        }

        var disks = await DisksOfAsync(s, await s.VmAsync(vm.Ref, ct), ct);
        if (disks.FirstOrDefault(d => d.Userdevice == "0") is { } disk0)
        {
            if (disk0.VirtualSize < root) await GrowDiskAsync(on.Member.ComputeName, disk0.VdiUuid, root, ct);
            return;
        }

        // The disk is tagged as it is made, so a run that died before attaching it finds it again.
        var id = spec.ServerId.ToString();
        var disk = (await s.VdisAsync(ct)).Values.FirstOrDefault(v => v.OtherConfig.GetValueOrDefault(InventoryKeys.ServerId) == id)?.Ref
                   ?? await s.CallForStringAsync("VDI.create", ct, new JsonObject
                   {
                       ["name_label"] = $"{spec.Name} root", ["name_description"] = $"Root disk of server {id}", ["SR"] = await TargetSrAsync(on, ct),
                       ["virtual_size"] = root, ["type"] = "user", ["sharable"] = false, ["read_only"] = false, ["xenstore_data"] = new JsonObject(),
                       ["sm_config"] = new JsonObject(), ["tags"] = new JsonArray(), ["other_config"] = new JsonObject { [InventoryKeys.ServerId] = id },
                   });
        await s.CallAsync("VBD.create", ct, VbdRecord(vm.Ref, disk, "0", bootable: true, "Disk"));
    }

    /// <summary>
    /// other_config:disks with every disk on the chosen SR and disk 0 of the flavor's root size (a
    /// default template's size is only an installer's suggestion for a blank disk; Nova sizes it).
    /// </summary>
    internal static string ProvisioningXml(string xml, string srUuid, long rootBytes)
    {
        var provision = XElement.Parse(xml);
        foreach (var disk in provision.Elements("disk"))
        {
            disk.SetAttributeValue("sr", srUuid);
            if ((string?)disk.Attribute("device") == "0") disk.SetAttributeValue("size", rootBytes.ToString(CultureInfo.InvariantCulture));
        }

        return provision.ToString(SaveOptions.DisableFormatting);
    }

    private static long? SizeOfDisk0(string xml) =>
        XElement.Parse(xml).Elements("disk").Where(d => (string?)d.Attribute("device") == "0")
            .Select(d => long.TryParse((string?)d.Attribute("size"), NumberStyles.None, CultureInfo.InvariantCulture, out var size) ? size : (long?)null)
            .FirstOrDefault();

    public async Task RenameServerAsync(string host, Guid serverId, string name, CancellationToken ct)
    {
        var on = await OnAsync(host, ct);
        var id = serverId.ToString();
        foreach (var vm in (await on.Session.VmsAsync(ct)).Values.Where(v => v.IsGuest && v.OtherConfig.GetValueOrDefault(InventoryKeys.ServerId) == id))
            if (vm.NameLabel != name) await on.Session.CallAsync("VM.set_name_label", ct, vm.Ref, name);
    }

    public async Task DestroyServerAsync(string host, Guid serverId, string? moveTag, CancellationToken ct)
    {
        var on = await OnAsync(host, ct);
        var s = on.Session;
        var id = serverId.ToString();
        var vms = (await s.VmsAsync(ct)).Values.Where(v => !v.IsControlDomain && (
            (!v.IsASnapshot && (v.OtherConfig.GetValueOrDefault(InventoryKeys.ServerId) == id || (v.IsATemplate && v.NameLabel == BuildName(serverId))))
            || (moveTag is not null && IsSnapshotOf(v, moveTag)))).ToList();
        foreach (var vm in vms) await DestroyVmRefAsync(s, vm.Ref, withDisks: true, ct);
        foreach (var vdi in (await s.VdisAsync(ct)).Values.Where(v => v.OtherConfig.GetValueOrDefault(InventoryKeys.ServerId) == id
                     || (moveTag is not null && v.OtherConfig.GetValueOrDefault(MoveTagKey) == moveTag)))
            await DestroyVdiAsync(s, vdi.Ref, ct);
    }

    public async Task<HostUsage> UsageAsync(string host, CancellationToken ct)
    {
        var on = await OnAsync(host, ct);
        var s = on.Session;
        var xapiHost = (await s.HostsAsync(ct))[on.Member.HostRef];
        var metrics = await s.CallAsync("host_metrics.get_record", ct, xapiHost.Metrics) as JsonObject;
        var free = await s.ComputeFreeMemoryAsync(xapiHost.Ref, ct);
        var sr = await TargetSrRecordAsync(on, ct);
        var guests = (await s.VmsAsync(ct)).Values
            .Where(vm => vm.IsGuest && vm.ResidentOn == xapiHost.Ref && vm.PowerState is "Running" or "Paused").ToList();
        var cpus = int.TryParse(xapiHost.CpuInfo.GetValueOrDefault("cpu_count"), out var count) ? count : 0;
        return new HostUsage(host, true, xapiHost.Address, xapiHost.SoftwareVersion.GetValueOrDefault("product_version") ?? string.Empty,
            xapiHost.CpuInfo, cpus, (int)guests.Sum(vm => vm.VcpusMax), XapiValues.Int(metrics?["memory_total"]), free,
            sr?.PhysicalSize ?? 0, sr?.PhysicalUtilisation ?? 0, guests.Count, xapiHost.BootedAt);
    }

    public async Task<VmDiagnostics> DiagnosticsAsync(string host, string vmUuid, CancellationToken ct)
    {
        var on = await OnAsync(host, ct);
        var s = on.Session;
        var vm = await s.VmAsync(await RequireVmAsync(s, vmUuid, ct), ct);
        var metricsRef = XapiValues.String(vm.Record["metrics"]);
        var metrics = XapiValues.IsNullRef(metricsRef) ? null : await RecordAsync(s, "VM_metrics", metricsRef, ct);
        var macs = new List<string>();
        foreach (var vif in vm.Vifs) macs.Add(XapiVif.From(vif, await RecordAsync(s, "VIF", vif, ct)).Mac);
        var disks = 0;
        foreach (var vbd in vm.Vbds)
            if (XapiVbd.From(vbd, await RecordAsync(s, "VBD", vbd, ct)).IsDisk) disks++;
        var running = vm.PowerState is "Running" or "Paused";
        return new VmDiagnostics(PowerOf(vm.PowerState), running ? XapiValues.Date(metrics?["start_time"]) : null, (int)vm.VcpusMax, vm.MemoryStaticMax,
            running && metrics?["memory_actual"] is { } actual ? XapiValues.Int(actual) : null, macs, disks);
    }
}
