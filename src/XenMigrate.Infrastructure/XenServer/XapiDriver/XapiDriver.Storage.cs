using System.Text.Json.Nodes;
using XenMigrate.Infrastructure.Transfer;
using XenMigrate.Infrastructure.Xapi;

namespace XenMigrate.Infrastructure.XenServer;

// Snapshots and disks: where new disks go on a member, copies between hosts from the member that
// sees the disk to the one that will, and the busy-object retries around destroy and resize.
public sealed partial class XapiDriver
{
    public async Task<VmSnapshot> SnapshotAsync(string host, string vmUuid, string tag, CancellationToken ct)
    {
        var on = await OnAsync(host, ct);
        var vms = await on.Session.VmsAsync(ct);
        // Found again when an earlier run took it — by its tag, or by its name when that run died
        // between VM.snapshot and tagging it (a snapshot cannot be tagged as it is made).
        var snapshot = vms.Values.FirstOrDefault(v => IsSnapshotOf(v, tag));
        if (snapshot is null)
        {
            var source = await RequireVmAsync(on.Session, vmUuid, ct);
            var made = await BusyAsync(() => on.Session.CallAsyncTaskAsync("VM.snapshot", OpTimeout, ct, source, SnapshotName(tag)), ct);
            snapshot = await on.Session.VmAsync(made, ct);
        }

        if (!snapshot.OtherConfig.ContainsKey(MoveTagKey))
            await on.Session.AddToOtherConfigAsync("VM", snapshot.Ref, MoveTagKey, tag, ct);
        var vbds = await on.Session.VbdsAsync(ct);
        var vdis = await on.Session.VdisAsync(ct);
        var disks = snapshot.Vbds.Select(r => vbds.GetValueOrDefault(r)).Where(b => b is { IsDisk: true })
            .ToDictionary(b => b!.Userdevice, b => vdis[b!.Vdi].Uuid, StringComparer.Ordinal);
        return new VmSnapshot(snapshot.Uuid, disks);
    }

    /// <summary>A snapshot a move took, tagged or (a run that died before tagging it) only named.</summary>
    private static bool IsSnapshotOf(XapiVm vm, string tag) =>
        vm.IsASnapshot && (vm.OtherConfig.GetValueOrDefault(MoveTagKey) == tag || vm.NameLabel == SnapshotName(tag));

    public async Task<IReadOnlyList<VmDisk>> DisksAsync(string host, string vmUuid, CancellationToken ct)
    {
        var on = await OnAsync(host, ct);
        var vm = await on.Session.VmAsync(await RequireVmAsync(on.Session, vmUuid, ct), ct);
        return await DisksOfAsync(on.Session, vm, ct);
    }

    private static async Task<List<VmDisk>> DisksOfAsync(XapiSession s, XapiVm vm, CancellationToken ct)
    {
        var vbds = await s.VbdsAsync(ct);
        var vdis = await s.CallAsync("VDI.get_all_records", ct) as JsonObject ?? [];
        var srs = await s.SrsAsync(ct);
        var disks = new List<VmDisk>();
        foreach (var vbd in vm.Vbds.Select(r => vbds.GetValueOrDefault(r)).Where(b => b is { IsDisk: true }))
        {
            if (vdis[vbd!.Vdi] is not JsonObject vdi) continue;
            var bootable = XapiValues.Bool((await RecordAsync(s, "VBD", vbd.Ref, ct))["bootable"]);
            disks.Add(new VmDisk(vbd.Userdevice, XapiValues.String(vdi["uuid"]), srs.GetValueOrDefault(XapiValues.String(vdi["SR"]))?.Uuid ?? string.Empty,
                XapiValues.Int(vdi["virtual_size"]), bootable, XapiValues.String(vdi["name_label"])));
        }

        return disks.OrderBy(d => d.Userdevice, StringComparer.Ordinal).ToList();
    }

    /// <summary>
    /// Whether an SR stores the disk as a VHD (ext, nfs, LVHD: a differencing VHD export works)
    /// rather than raw (thick LVM, <c>aio</c>) or qcow2 (XCP-ng 8.3, <c>image-format=qcow2</c>).
    /// </summary>
    private static bool IsVhdImage(IReadOnlyDictionary<string, string> smConfig) =>
        (smConfig.GetValueOrDefault("image-format") ?? smConfig.GetValueOrDefault("vdi_type") ?? "vhd") is not ("qcow2" or "raw" or "aio");

    public async Task<string> CreateDiskAsync(string host, DiskRequest request, CancellationToken ct)
    {
        var on = await OnAsync(host, ct);
        if (await FindTaggedDiskAsync(on.Session, request.Tags, ct) is { } existing) return existing.Uuid;
        var sr = await TargetSrAsync(on, ct);
        // Above VHD's limit only a qcow2 image holds the disk (XCP-ng 8.3; elsewhere the SR refuses the size).
        var smConfig = request.VirtualSize > MaxVhdSize ? new JsonObject { ["image-format"] = "qcow2" } : new JsonObject();
        var vdi = await on.Session.CallForStringAsync("VDI.create", ct, new JsonObject
        {
            ["name_label"] = request.NameLabel, ["name_description"] = request.Description, ["SR"] = sr, ["virtual_size"] = request.VirtualSize,
            ["type"] = "user", ["sharable"] = false, ["read_only"] = false, ["xenstore_data"] = new JsonObject(), ["sm_config"] = smConfig,
            ["tags"] = new JsonArray(), ["other_config"] = Map(request.Tags),
        });
        return await UuidAsync(on.Session, "VDI", vdi, ct);
    }

    public async Task<string> CloneDiskAsync(string host, string vdiUuid, DiskRequest request, CancellationToken ct)
    {
        var on = await OnAsync(host, ct);
        if (await FindTaggedDiskAsync(on.Session, request.Tags, ct) is { } existing) return existing.Uuid;
        var source = await RefByUuidAsync(on.Session, "VDI", vdiUuid, ct) ?? throw new XenServerObjectGoneException("VDI", vdiUuid);
        // Copy-on-write on the same SR: instant, and no byte moves. The tags follow at once (a crash
        // in between leaves an untagged clone, found by its name and description below).
        var clone = await BusyAsync(() => on.Session.CallForStringAsync("VDI.clone", ct, source), ct);
        foreach (var (key, value) in request.Tags)
        {
            await on.Session.CallAsync("VDI.remove_from_other_config", ct, clone, key);
            await on.Session.CallAsync("VDI.add_to_other_config", ct, clone, key, value);
        }

        await on.Session.CallAsync("VDI.set_name_label", ct, clone, request.NameLabel);
        await on.Session.CallAsync("VDI.set_name_description", ct, clone, request.Description);
        return await UuidAsync(on.Session, "VDI", clone, ct);
    }

    private static async Task<XapiVdi?> FindTaggedDiskAsync(XapiSession s, IReadOnlyDictionary<string, string> tags, CancellationToken ct) =>
        tags.Count == 0 ? null
            : (await s.VdisAsync(ct)).Values.FirstOrDefault(v => !v.IsASnapshot && tags.All(t => v.OtherConfig.GetValueOrDefault(t.Key) == t.Value));

    public async Task GrowDiskAsync(string host, string vdiUuid, long bytes, CancellationToken ct)
    {
        var on = await OnAsync(host, ct);
        var vdi = await RefByUuidAsync(on.Session, "VDI", vdiUuid, ct) ?? throw new XenServerObjectGoneException("VDI", vdiUuid);
        if (XapiValues.Int(await on.Session.CallAsync("VDI.get_virtual_size", ct, vdi)) >= bytes) return;
        // Right after an import its dom0 VBD may still be attached: VDI_IN_USE until it is gone.
        await BusyAsync(() => on.Session.CallAsync("VDI.resize", ct, vdi, bytes), ct);
    }

    public async Task DestroyDiskAsync(string host, string? vdiUuid, CancellationToken ct)
    {
        if (string.IsNullOrEmpty(vdiUuid)) return;
        var on = await OnAsync(host, ct);
        await DestroyVdiAsync(on.Session, await RefByUuidAsync(on.Session, "VDI", vdiUuid, ct), ct);
    }

    private async Task DestroyVdiAsync(XapiSession s, string? vdiRef, CancellationToken ct)
    {
        if (string.IsNullOrEmpty(vdiRef)) return;
        try
        {
            await BusyAsync(() => s.CallAsync("VDI.destroy", ct, vdiRef), ct);
        }
        catch (XapiException e) when (e.Code is XapiException.HandleInvalid or XapiException.UuidInvalid)
        {
            // already gone
        }
    }

    /// <summary>The largest VHD xapi exports or SM creates (xapi's Constants.max_vhd_size, 2040 GiB).</summary>
    private const long MaxVhdSize = 2040L << 30;

    public async Task<bool> TakesDeltasAsync(string host, string vdiUuid, CancellationToken ct)
    {
        var on = await OnAsync(host, ct);
        var vdi = await RefByUuidAsync(on.Session, "VDI", vdiUuid, ct) ?? throw new XenServerObjectGoneException("VDI", vdiUuid);
        return !await MustWriteZeroesAsync(on.Session, await RecordAsync(on.Session, "VDI", vdi, ct), ct);
    }

    /// <summary>
    /// xapi's Sm_fs_ops.must_write_zeroes_into_new_vdi (sm_fs_ops.ml:66-97): an LVM-family SR not
    /// upgraded to LVHD (or a VDI that asked for a raw volume there), EqualLogic thick, StorageLink.
    /// Such a VDI takes no VHD stream (vhd-tool refuses to write one into it), only raw.
    /// </summary>
    private static async Task<bool> MustWriteZeroesAsync(XapiSession s, JsonObject vdi, CancellationToken ct)
    {
        var sr = await RecordAsync(s, "SR", XapiValues.String(vdi["SR"]), ct);
        var type = XapiValues.String(sr["type"]).ToLowerInvariant();
        var srSm = XapiValues.Map(sr["sm_config"]);
        var lvmFamily = type is "lvm" or "lvmoiscsi" or "lvmohba";
        var upgraded = srSm.GetValueOrDefault("use_vhd") == "true";
        var equalLogicThick = type == "equal" && string.Equals(srSm.GetValueOrDefault("allocation"), "thick", StringComparison.OrdinalIgnoreCase);
        return (lvmFamily && (XapiValues.Map(vdi["sm_config"]).GetValueOrDefault("type") == "raw" || !upgraded)) || equalLogicThick || type == "cslg";
    }

    /// <summary>
    /// The stream a copy uses: raw into a VDI that must have every byte written (whole, no base);
    /// VHD for a VHD of at most 2040 GiB (xapi's oldest, sparse, with deltas); qcow2 for anything
    /// else (a raw or qcow2 image, or a disk above VHD's limit: qcow2-to-stdout reads any VDI and
    /// diffs against any base, qcow_tool_wrapper.ml:63-143).
    /// </summary>
    private static async Task<TransferFormat> TransferFormatAsync(XapiSession source, string vdiRef, XapiSession destination, string destinationVdiRef,
        CancellationToken ct)
    {
        if (await MustWriteZeroesAsync(destination, await RecordAsync(destination, "VDI", destinationVdiRef, ct), ct)) return TransferFormat.Raw;
        var vdi = await RecordAsync(source, "VDI", vdiRef, ct);
        return IsVhdImage(XapiValues.Map(vdi["sm_config"])) && XapiValues.Int(vdi["virtual_size"]) <= MaxVhdSize ? TransferFormat.Vhd : TransferFormat.Qcow2;
    }

    public async Task<TransferResult> CopyDiskAsync(string sourceHost, string vdiUuid, string? baseVdiUuid, string destinationHost,
        string destinationVdiUuid, IProgress<TransferProgress>? progress, CancellationToken ct)
    {
        var source = await OnAsync(sourceHost, ct);
        var destination = await OnAsync(destinationHost, ct);
        var vdi = await RefByUuidAsync(source.Session, "VDI", vdiUuid, ct) ?? throw new XenServerObjectGoneException("VDI", vdiUuid);
        var baseVdi = baseVdiUuid is null ? null : await RefByUuidAsync(source.Session, "VDI", baseVdiUuid, ct) ?? throw new XenServerObjectGoneException("VDI", baseVdiUuid);
        var destVdi = await RefByUuidAsync(destination.Session, "VDI", destinationVdiUuid, ct)
                      ?? throw new XenServerObjectGoneException("VDI", destinationVdiUuid);
        // Each side is asked at the member that sees the disk's SR: xapi would answer a 302 there,
        // and a streamed upload cannot follow a redirect (its body is the export in flight).
        var from = await MemberSeeingAsync(source, vdi, ct);
        var to = await MemberSeeingAsync(destination, destVdi, ct);
        var format = await TransferFormatAsync(source.Session, vdi, destination.Session, destVdi, ct);
        // A raw stream is the whole disk: correct over any earlier copy, so a base is simply not needed.
        if (format == TransferFormat.Raw) baseVdi = null;
        return await transfer.CopyAsync(source.Session, vdi, baseVdi, destination.Session, destVdi, progress, ct, from, to, format);
    }

    /// <summary>The base URL of a member that has the VDI's SR plugged, preferring the one asked about.</summary>
    private static async Task<Uri> MemberSeeingAsync(On on, string vdiRef, CancellationToken ct)
    {
        if (on.Pool.IsStandalone) return on.Member.Url;
        var sr = XapiValues.String(await on.Session.CallAsync("VDI.get_SR", ct, vdiRef));
        var hosts = await HostsSeeingAsync(on.Session, sr, ct);
        if (hosts.Contains(on.Member.HostRef)) return on.Member.Url;
        return hosts.Select(on.Pool.MemberByRef).OfType<PoolMember>().FirstOrDefault()?.Url ?? on.Member.Url;
    }

    private static async Task<HashSet<string>> HostsSeeingAsync(XapiSession s, string srRef, CancellationToken ct)
    {
        var pbds = await s.CallAsync("PBD.get_all_records", ct) as JsonObject ?? [];
        return pbds.Select(p => p.Value as JsonObject)
            .Where(p => XapiValues.String(p?["SR"]) == srRef && XapiValues.Bool(p?["currently_attached"]))
            .Select(p => XapiValues.String(p!["host"])).ToHashSet(StringComparer.Ordinal);
    }

    /// <summary>
    /// Where a new disk goes on a member: the pool's default SR when the member sees it (it may be
    /// unset), else the member's own local SR for user disks with the most room.
    /// </summary>
    private static async Task<string> TargetSrAsync(On on, CancellationToken ct)
    {
        var poolDefault = (await on.Session.PoolAsync(ct)).DefaultSr;
        var srs = await on.Session.SrsAsync(ct);
        if (!XapiValues.IsNullRef(poolDefault) && srs.ContainsKey(poolDefault) && (await HostsSeeingAsync(on.Session, poolDefault, ct)).Contains(on.Member.HostRef))
            return poolDefault;
        var candidates = new List<XapiSr>();
        foreach (var sr in srs.Values.Where(sr => sr.ContentType == "user"))
            if ((await HostsSeeingAsync(on.Session, sr.Ref, ct)).Contains(on.Member.HostRef)) candidates.Add(sr);
        return candidates.OrderBy(sr => sr.Shared).ThenByDescending(sr => sr.FreeBytes).FirstOrDefault()?.Ref
               ?? throw new UnmovableVmException("SR_NOT_FOUND", $"Host {on.Member.ComputeName} sees no SR for user disks.");
    }

    /// <summary>The target SR's size and use, for os-hypervisors and the scheduler.</summary>
    private static async Task<XapiSr?> TargetSrRecordAsync(On on, CancellationToken ct)
    {
        try
        {
            var sr = await TargetSrAsync(on, ct);
            return (await on.Session.SrsAsync(ct)).GetValueOrDefault(sr);
        }
        catch (UnmovableVmException)
        {
            return null;
        }
    }
}
