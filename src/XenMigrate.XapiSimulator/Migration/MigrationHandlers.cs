using System.Globalization;
using System.Text.Json.Nodes;
using XenMigrate.XapiSimulator.Http;
using XenMigrate.XapiSimulator.Model;
using XenMigrate.XapiSimulator.Operations;
using XenMigrate.XapiSimulator.Rpc;
using XenMigrate.XapiSimulator.Storage;
using XenMigrate.XapiSimulator.Vhd;

namespace XenMigrate.XapiSimulator.Migration;

/// <summary>
/// Storage XenMotion (xapi_vm_migrate.ml): the destination's <c>host.migrate_receive</c> hands
/// out a token (its pool master's URL, its xenops URL, a session, the host); the source's
/// <c>VM.migrate_send</c> then, in xapi's order: checks (power state, maps, version, CPU
/// features, licence, memory), ejects CDs that cannot follow, mirrors every disk of the VM and
/// of its snapshots while the guest runs, imports the VM's record on the destination (Halted,
/// same uuid — it exists there from this moment, before its memory moves), copies the memory,
/// stops the guest, sends the last disk delta and hands the domain over, then removes its own
/// copy. Inside one pool (the token's host is a member) the same VM record stays: its disks move
/// to the mapped SRs and its domain to the other member. Before the hand-over a failure or a
/// task.cancel deletes what was made on the destination; the source VM is as it was (less any
/// ejected CD). The task's progress (0–1) is the only progress there is.
/// </summary>
internal static class MigrationHandlers
{
    /// <summary>Share of the task's progress taken by the disk copies (the rest: memory and hand-over).</summary>
    private const double DiskShare = 0.8;

    public static void Register(HandlerRegistry registry)
    {
        registry.Add("host.migrate_receive", Receive);
        registry.Add("VM.assert_can_migrate", async call =>
        {
            using var plan = await PlanAsync(call);
            return null;
        });
        registry.Add("VM.migrate_send", SendAsync);
    }

    /// <summary>The destination prepares: a session for the source, its master's and its own URLs.</summary>
    private static ValueTask<JsonNode?> Receive(XapiCall call)
    {
        var host = call.Host;
        lock (call.Db.Sync)
        {
            var destination = host.Pool.Member(call.Db.Require("host", call.Ref(1)).Ref)!;
            call.Db.Require("network", call.Ref(2));
            var now = host.Now();
            var session = call.Db.Create("session", new Dictionary<string, JsonNode?>
            {
                ["this_host"] = destination.HostRef,
                ["this_user"] = XapiType.NullRef,
                ["last_active"] = now,
                ["validation_time"] = now,
                ["is_local_superuser"] = true,
                ["auth_user_name"] = host.Options.Username,
                ["originator"] = "migrate_receive",
            });
            var master = host.Pool.Master.BaseUrl.TrimEnd('/');
            var here = destination.BaseUrl.TrimEnd('/');
            return ValueTask.FromResult<JsonNode?>(new JsonObject
            {
                [MigrationToken.Sm] = $"{master}/services/SM",
                [MigrationToken.Host] = destination.HostRef,
                [MigrationToken.Xenops] = $"{here}/services/xenops",
                [MigrationToken.SessionId] = session.Ref,
                [MigrationToken.Master] = $"{master}/",
            });
        }
    }

    /// <summary>One VDI that moves: a disk of the VM, of one of its snapshots, or its suspend image.</summary>
    private sealed record MovingVdi(string VdiRef, string VdiUuid, string SourceSr, string DestSr, long Size, string NameLabel, string Type,
        CowDiskStore Store, string MountPath)
    {
        /// <summary>Disks of the running VM are mirrored (copied, then their last delta at the stop); the others are copied once.</summary>
        public bool Mirrored { get; init; }

        public bool Stays => SourceSr == DestSr;
    }

    /// <summary>What assert_can_migrate checks and migrate_send then uses.</summary>
    private sealed class Plan(RemoteHost remote, bool intraPool, string vmRef, string vmUuid, string powerState, long memory,
        List<MovingVdi> vdis, Dictionary<string, string> vifMap, List<string> ejectCds, string destHost) : IDisposable
    {
        public RemoteHost Remote { get; } = remote;
        public bool IntraPool { get; } = intraPool;
        public string VmRef { get; } = vmRef;
        public string VmUuid { get; } = vmUuid;
        public string PowerState { get; } = powerState;
        public long Memory { get; } = memory;
        public List<MovingVdi> Vdis { get; } = vdis;
        public Dictionary<string, string> VifMap { get; } = vifMap;
        public List<string> EjectCds { get; } = ejectCds;
        public string DestHost { get; } = destHost;

        public void Dispose() => Remote.Dispose();
    }

    private static async Task<Plan> PlanAsync(XapiCall call)
    {
        var host = call.Host;
        var db = call.Db;
        var vmRef = call.Ref(1);
        var token = call.Object(2).ToDictionary(p => p.Key, p => p.Value?.ToString() ?? string.Empty, StringComparer.Ordinal);
        var vdiMap = call.Object(4).ToDictionary(p => p.Key, p => p.Value?.ToString() ?? string.Empty, StringComparer.Ordinal);
        var vifMapArg = call.Object(5).ToDictionary(p => p.Key, p => p.Value?.ToString() ?? string.Empty, StringComparer.Ordinal);
        var remote = new RemoteHost(token, vmRef, host.HostRef);
        try
        {
            var ct = call.Cancellation;
            HostRuntime? localDestination;
            lock (db.Sync) localDestination = host.Pool.Member(remote.HostRef);
            var intra = localDestination is not null;
            var destDefaultSr = intra
                ? DefaultSr(host)
                : RefOrNull(await remote.CallAsync("pool.get_default_SR", ct, ((await remote.CallAsync("pool.get_all", ct)) as JsonArray)?[0]?.ToString()));

            string vmUuid, powerState, ourVersion, cpuFlags;
            long memory;
            var moving = new List<MovingVdi>();
            var vifMap = new Dictionary<string, string>(StringComparer.Ordinal);
            var ejectCds = new List<string>();
            lock (db.Sync)
            {
                var vm = db.Require("VM", vmRef);
                VmLifecycle.AssertOperationValid(vm, "migrate_send");
                vmUuid = vm.Uuid;
                powerState = vm.GetString("power_state");
                memory = vm.GetLong("memory_static_max");
                cpuFlags = vm.GetStringMap("last_boot_CPU_flags").GetValueOrDefault("features") ?? string.Empty;
                var sourceHost = VmLifecycle.ResidentHost(host, vm) ?? host;
                ourVersion = PlatformVersion(db.Require("host", sourceHost.HostRef).Get("software_version"));
                foreach (var feature in sourceHost.Options.LicenceRestrictions)
                    throw new XapiException(XapiErrors.LicenceRestriction, feature);

                string MapOf(XapiObject vdi, string? inherited)
                {
                    if (vdiMap.TryGetValue(vdi.Ref, out var sr)) return sr;
                    if (inherited is not null) return inherited;
                    // Inside the pool a VDI the destination can already see stays where it is (xapi's infer_vdi_map).
                    if (intra && host.Pool.HostSeesSr(remote.HostRef, vdi.GetString("SR"))) return vdi.GetString("SR");
                    return destDefaultSr != XapiType.NullRef ? destDefaultSr : throw new XapiException(XapiErrors.VdiNotInMap, vdi.Ref);
                }

                var byOrigin = new Dictionary<string, string>(StringComparer.Ordinal);
                foreach (var (vbd, vdi) in DiskVdis(db, vm))
                {
                    var destSr = MapOf(vdi, inherited: null);
                    byOrigin[vdi.Ref] = destSr;
                    moving.Add(Moving(host, vdi, destSr) with { Mirrored = powerState == VmLifecycle.Running });
                }

                // Snapshots go with the VM; their disks follow the disk they are a snapshot of (xapi_vm_migrate.ml).
                foreach (var snapshot in vm.GetStrings("snapshots").Select(r => db.Find("VM", r)).OfType<XapiObject>())
                {
                    foreach (var (_, vdi) in DiskVdis(db, snapshot))
                        moving.Add(Moving(host, vdi, MapOf(vdi, byOrigin.GetValueOrDefault(vdi.GetString("snapshot_of")))));
                }

                if (powerState == VmLifecycle.Suspended && db.Find("VDI", vm.GetString("suspend_VDI")) is { } image)
                {
                    var destSr = intra && host.Pool.HostSeesSr(remote.HostRef, image.GetString("SR")) ? image.GetString("SR") : destDefaultSr;
                    if (destSr == XapiType.NullRef) throw new XapiException(XapiErrors.SuspendImageNotAccessible, image.Ref);
                    moving.Add(Moving(host, image, destSr));
                }

                foreach (var vifRef in vm.GetStrings("VIFs"))
                {
                    if (db.Find("VIF", vifRef) is not { } vif) continue;
                    if (vifMapArg.TryGetValue(vif.Ref, out var network)) vifMap[vif.Ref] = network;
                    else if (intra) vifMap[vif.Ref] = vif.GetString("network");
                    else throw new XapiException(XapiErrors.VifNotInMap, vif.Ref);
                }

                // CDs xenopsd cannot remap are ejected first (find_cds_to_eject), unless the VM is suspended.
                foreach (var vbdRef in vm.GetStrings("VBDs"))
                {
                    if (db.Find("VBD", vbdRef) is not { } vbd || vbd.GetString("type") != "CD" || vbd.GetBool("empty")) continue;
                    if (db.Find("VDI", vbd.GetString("VDI")) is not { } iso) continue;
                    var staysVisible = intra && host.Pool.HostSeesSr(remote.HostRef, iso.GetString("SR"));
                    if (!staysVisible && powerState != VmLifecycle.Suspended) ejectCds.Add(vbd.Ref);
                }
            }

            var destHostRecord = await remote.CallAsync("host.get_record", ct, remote.HostRef) as JsonObject;
            if (CompareVersions(PlatformVersion(destHostRecord?["software_version"]), ourVersion) < 0)
                throw new XapiException(XapiErrors.VmHostIncompatibleVersionMigrate, vmRef, remote.HostRef);
            if (powerState == VmLifecycle.Running)
            {
                var destFeatures = destHostRecord?["cpu_info"]?["features"]?.ToString() ?? string.Empty;
                if (!CpuFeaturesCover(destFeatures, cpuFlags))
                    throw new XapiException(XapiErrors.VmIncompatibleWithThisHost, vmRef, remote.HostRef,
                        "VM last booted on a CPU with features this host's CPU does not have.");
                var free = (await remote.CallAsync("host.compute_free_memory", ct, remote.HostRef))!.GetValue<long>();
                if (memory > free) throw new XapiException(XapiErrors.HostNotEnoughFreeMemory, XapiErrors.Int(memory), XapiErrors.Int(free));
            }

            foreach (var sr in moving.Where(v => !v.Stays).Select(v => v.DestSr).Distinct(StringComparer.Ordinal)) await remote.CallAsync("SR.get_uuid", ct, sr);
            foreach (var network in vifMap.Values.Distinct(StringComparer.Ordinal)) await remote.CallAsync("network.get_uuid", ct, network);
            return new Plan(remote, intra, vmRef, vmUuid, powerState, memory, moving, vifMap, ejectCds, remote.HostRef);
        }
        catch
        {
            remote.Dispose();
            throw;
        }
    }

    private static async ValueTask<JsonNode?> SendAsync(XapiCall call)
    {
        var host = call.Host;
        var db = call.Db;
        var ct = call.Cancellation;
        using var plan = await PlanAsync(call);
        var remote = plan.Remote;
        var task = call.OperationTask;
        HostRuntime source;
        lock (db.Sync)
        {
            var vm = db.Require("VM", plan.VmRef);
            VmLifecycle.AssertOperationValid(vm, "migrate_send");
            vm.SetMapEntry("current_operations", task, "migrate_send");
            VmLifecycle.UpdateAllowedOperations(host, vm);
            source = VmLifecycle.ResidentHost(host, vm) ?? host;
            foreach (var cd in plan.EjectCds) DeviceHandlers.Eject(host, db.Require("VBD", cd));
        }

        var copies = plan.Vdis.Where(v => !v.Stays).ToList();
        var mirrors = new Dictionary<MovingVdi, string>();
        var destVdis = new Dictionary<string, string>(StringComparer.Ordinal); // source VDI ref → destination VDI ref
        string? importedVm = null;
        var handedOver = false;
        var progress = new MigrationProgress(host, call.AsyncTask, copies.Sum(d => d.Size));
        try
        {
            // Live phase: the guest runs on; a running disk's mirror point, and every other VDI, is copied whole.
            var hook = TransferHook.Take(host, "VM.migrate_send", call.Session ?? string.Empty);
            foreach (var vdi in copies)
            {
                var point = vdi.VdiUuid;
                if (vdi.Mirrored)
                {
                    point = $"{vdi.VdiUuid}.mirror.{Guid.NewGuid():N}";
                    vdi.Store.CloneDisk(vdi.VdiUuid, point);
                    mirrors[vdi] = point;
                }

                destVdis[vdi.VdiRef] = (await remote.CallAsync("VDI.create", ct, new JsonObject
                {
                    ["name_label"] = vdi.NameLabel, ["name_description"] = string.Empty, ["SR"] = vdi.DestSr, ["virtual_size"] = vdi.Size,
                    ["type"] = vdi.Type, ["sharable"] = false, ["read_only"] = false, ["other_config"] = new JsonObject(),
                    ["xenstore_data"] = new JsonObject(), ["sm_config"] = new JsonObject(), ["tags"] = new JsonArray(),
                }))!.GetValue<string>();
                await CopyAsync(host, vdi, remote, point, baseId: null, destVdis[vdi.VdiRef], progress, hook, ct);
            }

            // The VM's record exists on the destination from here on, before its memory has moved (inter_pool_metadata_transfer).
            if (!plan.IntraPool)
            {
                JsonObject metadata;
                lock (db.Sync) metadata = Metadata(host, db.Require("VM", plan.VmRef), plan, destVdis);
                importedVm = await remote.ImportVmAsync(metadata, ct);
            }

            // Memory: the pages are copied while the guest runs (the simulator's guest has none to send, only the time).
            if (plan.PowerState == VmLifecycle.Running)
                await progress.MemoryAsync(plan.Memory, host.Options.MemoryMigrationBytesPerSecond, host.Clock, ct);
            ct.ThrowIfCancellationRequested(); // the last moment a task.cancel is honoured

            // Stop-and-copy: the guest is stopped from here until it runs on the destination. Across
            // pools the source record shows it (the domain is gone); inside a pool xapi keeps the one
            // record Running throughout and only its residence changes at the hand-over.
            if (plan.PowerState == VmLifecycle.Running)
            {
                if (!plan.IntraPool) lock (db.Sync) VmLifecycle.Halt(host, db.Require("VM", plan.VmRef));
                handedOver = !plan.IntraPool;
                foreach (var (vdi, point) in mirrors)
                    await CopyAsync(host, vdi, remote, vdi.VdiUuid, point, destVdis[vdi.VdiRef], progress, hook, CancellationToken.None);
            }

            handedOver = true;
            string destVm;
            if (plan.IntraPool)
            {
                lock (db.Sync) destVm = MoveWithinPool(host, db.Require("VM", plan.VmRef), plan, destVdis, source);
            }
            else
            {
                try
                {
                    await remote.ReceiveDomainAsync(importedVm!, plan.PowerState, host.HasGuestAgent(plan.VmRef), CancellationToken.None);
                }
                catch (XapiException)
                {
                    // The answer may have been lost on the way: if the domain runs there, the hand-over happened.
                    if (await RemoteVmStateAsync(remote, importedVm!) != plan.PowerState) throw;
                }

                destVm = importedVm!;
                lock (db.Sync)
                {
                    if (db.Find("VM", plan.VmRef) is { } vm) RemoveMigratedVm(host, vm);
                }
            }

            return destVm;
        }
        catch when (handedOver)
        {
            // The destination did not take the domain: it runs on the source again, as it was.
            lock (db.Sync)
            {
                if (db.Find("VM", plan.VmRef) is { } vm && vm.GetString("power_state") == VmLifecycle.Halted && plan.PowerState == VmLifecycle.Running)
                    VmLifecycle.Boot(source, vm, paused: false);
            }

            await DeleteRemoteAsync(remote, importedVm, destVdis.Values);
            throw;
        }
        catch
        {
            await DeleteRemoteAsync(remote, importedVm, destVdis.Values);
            throw;
        }
        finally
        {
            foreach (var (vdi, point) in mirrors) vdi.Store.DeleteDisk(point);
            lock (db.Sync)
            {
                if (db.Find("VM", plan.VmRef) is { } vm && vm.RemoveMapEntry("current_operations", task))
                    VmLifecycle.UpdateAllowedOperations(host, vm);
                host.RefreshStorageUsage();
            }

            await TryAsync(() => remote.CallAsync("session.logout", CancellationToken.None));
        }
    }

    /// <summary>
    /// Streams one VDI to its destination as a VHD: all allocated blocks, or with a base only the
    /// blocks that differ from it. Throttle, injected faults and the task's progress apply.
    /// </summary>
    private static async Task CopyAsync(HostRuntime host, MovingVdi vdi, RemoteHost remote, string diskId, string? baseId, string destVdi,
        MigrationProgress progress, TransferHook hook, CancellationToken ct)
    {
        using var reader = vdi.Store.OpenReader(diskId);
        using var baseReader = baseId is null ? null : vdi.Store.OpenReader(baseId);
        var now = host.Clock.GetUtcNow();
        var vhd = baseReader is null
            ? VhdStreamWriter.Dynamic(reader.VirtualSize, vdi.Store.AllocatedBlocks(reader), Guid.NewGuid(), now)
            : VhdStreamWriter.Differencing(reader.VirtualSize, vdi.Store.DifferingBlocks(reader, baseReader), Guid.NewGuid(),
                baseReader.LayerId, $"{vdi.MountPath}/{baseId}.vhd", now);
        var start = progress.Bytes;
        await remote.ImportVhdAsync(destVdi, vhd.Length, async (output, token) =>
        {
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(ct, token);
            var metered = new MeteredStream(output, host.Faults, progress: hook.Wrap(sent => progress.Disk(start + sent)));
            await vhd.WriteAsync(metered, reader, linked.Token);
        }, ct);
    }

    /// <summary>
    /// The VM as the destination imports it (xapi's VM metadata): its record (same uuid, Halted),
    /// disks (VDIs already copied there), CD drives (empty), VIFs (mapped networks), vTPMs with
    /// their contents, and its snapshots with theirs.
    /// </summary>
    private static JsonObject Metadata(HostRuntime host, XapiObject vm, Plan plan, Dictionary<string, string> destVdis)
    {
        var db = host.Database;

        JsonObject Describe(XapiObject source)
        {
            var record = new JsonObject();
            foreach (var field in source.Class.Fields.Where(f => f.IsConstructorArgument))
                record[field.Name] = source.Get(field.Name)?.DeepClone();
            record["uuid"] = source.Uuid;
            record["affinity"] = XapiType.NullRef; // refs of the source pool mean nothing there
            record["suspend_SR"] = XapiType.NullRef;
            var vbds = new JsonArray();
            foreach (var vbd in source.GetStrings("VBDs").Select(r => db.Find("VBD", r)).OfType<XapiObject>())
            {
                var isCd = vbd.GetString("type") == "CD";
                var vdiRef = vbd.GetString("VDI");
                vbds.Add(new JsonObject
                {
                    ["VDI"] = isCd ? XapiType.NullRef : destVdis.GetValueOrDefault(vdiRef, XapiType.NullRef),
                    ["userdevice"] = vbd.GetString("userdevice"), ["bootable"] = vbd.GetBool("bootable"), ["mode"] = vbd.GetString("mode"),
                    ["type"] = vbd.GetString("type"),
                });
            }

            var vifs = new JsonArray();
            foreach (var vif in source.GetStrings("VIFs").Select(r => db.Find("VIF", r)).OfType<XapiObject>())
            {
                var network = plan.VifMap.GetValueOrDefault(vif.Ref) ?? plan.VifMap.Values.FirstOrDefault();
                if (network is null) continue;
                vifs.Add(new JsonObject { ["device"] = vif.GetString("device"), ["network"] = network, ["MAC"] = vif.GetString("MAC"), ["MTU"] = vif.GetLong("MTU") });
            }

            return new JsonObject
            {
                ["vm"] = record,
                ["vbds"] = vbds,
                ["vifs"] = vifs,
                ["vtpms"] = new JsonArray(source.GetStrings("VTPMs").Select(r => db.Find("VTPM", r)).OfType<XapiObject>()
                    .Select(t => (JsonNode?)new JsonObject { ["is_unique"] = t.GetBool("is_unique"), ["contents"] = VtpmHandlers.Contents(host, t) }).ToArray()),
                ["suspend_VDI"] = destVdis.GetValueOrDefault(source.GetString("suspend_VDI"), XapiType.NullRef),
            };
        }

        var metadata = Describe(vm);
        metadata["power_state"] = plan.PowerState;
        metadata["snapshots"] = new JsonArray(vm.GetStrings("snapshots").Select(r => db.Find("VM", r)).OfType<XapiObject>()
            .Select(s => (JsonNode?)Describe(s)).ToArray());
        return metadata;
    }

    /// <summary>
    /// Inside the pool the VM keeps its record: each moved disk's VBD now points at the copy (the
    /// old VDI goes), snapshots likewise, and a running domain moves to the destination member.
    /// </summary>
    private static string MoveWithinPool(HostRuntime host, XapiObject vm, Plan plan, Dictionary<string, string> destVdis, HostRuntime source)
    {
        var db = host.Database;
        var owners = new[] { vm }.Concat(vm.GetStrings("snapshots").Select(r => db.Find("VM", r)).OfType<XapiObject>()).ToList();
        foreach (var owner in owners)
        {
            foreach (var vbd in owner.GetStrings("VBDs").Select(r => db.Find("VBD", r)).OfType<XapiObject>().ToList())
            {
                var old = vbd.GetString("VDI");
                if (!destVdis.TryGetValue(old, out var replacement)) continue;
                db.Find("VDI", old)?.RemoveFromSet("VBDs", vbd.Ref);
                vbd.Set("VDI", replacement);
                db.Require("VDI", replacement).AddToSet("VBDs", vbd.Ref);
                if (db.Find("VDI", old) is { } oldVdi) VdiHandlers.RemoveVdi(host, oldVdi);
            }
        }

        foreach (var vif in vm.GetStrings("VIFs").Select(r => db.Find("VIF", r)).OfType<XapiObject>())
        {
            if (plan.VifMap.TryGetValue(vif.Ref, out var network) && network != vif.GetString("network"))
            {
                db.Find("network", vif.GetString("network"))?.RemoveFromSet("VIFs", vif.Ref);
                vif.Set("network", network);
                db.Require("network", network).AddToSet("VIFs", vif.Ref);
            }
        }

        var destination = host.Pool.Member(plan.DestHost)!;
        if (plan.PowerState == VmLifecycle.Running) VmLifecycle.MoveDomain(host, vm, destination);
        else if (plan.PowerState == VmLifecycle.Suspended && destVdis.TryGetValue(vm.GetString("suspend_VDI"), out var image))
        {
            if (db.Find("VDI", vm.GetString("suspend_VDI")) is { } oldImage) VdiHandlers.RemoveVdi(host, oldImage);
            vm.Set("suspend_VDI", image);
        }

        source.RefreshMemory();
        host.RefreshStorageUsage();
        return vm.Ref;
    }

    /// <summary>The source's copy after a completed hand-over: the VM, its snapshots, devices, disks and metrics.</summary>
    private static void RemoveMigratedVm(HostRuntime host, XapiObject vm)
    {
        var db = host.Database;
        foreach (var snapshot in vm.GetStrings("snapshots").Select(r => db.Find("VM", r)).OfType<XapiObject>().ToList())
            RemoveMigratedVm(host, snapshot);
        foreach (var vbdRef in vm.GetStrings("VBDs"))
        {
            if (db.Find("VBD", vbdRef) is not { } vbd) continue;
            var vdi = vbd.GetString("type") == "Disk" ? db.Find("VDI", vbd.GetString("VDI")) : null;
            DeviceHandlers.RemoveVbd(host, vbd);
            if (vdi is not null && vdi.GetStrings("VBDs").Count == 0) VdiHandlers.RemoveVdi(host, vdi);
        }

        foreach (var vifRef in vm.GetStrings("VIFs"))
            if (db.Find("VIF", vifRef) is { } vif) DeviceHandlers.RemoveVif(host, vif);
        foreach (var vtpmRef in vm.GetStrings("VTPMs"))
            if (db.Find("VTPM", vtpmRef) is { } vtpm) VtpmHandlers.Remove(host, vtpm);
        if (db.Find("VDI", vm.GetString("suspend_VDI")) is { } image) VdiHandlers.RemoveVdi(host, image);
        if (db.Find("VM_metrics", vm.GetString("metrics")) is { } metrics) db.Destroy(metrics);
        if (db.Find("VM_guest_metrics", vm.GetString("guest_metrics")) is { } guest) db.Destroy(guest);
        if (db.Find("VM", vm.GetString("snapshot_of")) is { } origin) origin.RemoveFromSet("snapshots", vm.Ref);
        host.ForgetGuestAgent(vm.Ref);
        db.Destroy(vm);
        host.Pool.RefreshMemory();
        host.RefreshStorageUsage();
    }

    private static IEnumerable<(XapiObject Vbd, XapiObject Vdi)> DiskVdis(XapiDatabase db, XapiObject vm) =>
        vm.GetStrings("VBDs").Select(r => db.Find("VBD", r)).OfType<XapiObject>()
            .Where(vbd => vbd.GetString("type") == "Disk" && !vbd.GetBool("empty"))
            .Select(vbd => (vbd, db.Find("VDI", vbd.GetString("VDI"))))
            .Where(p => p.Item2 is not null)
            .Select(p => (p.vbd, p.Item2!));

    private static MovingVdi Moving(HostRuntime host, XapiObject vdi, string destSr) =>
        new(vdi.Ref, vdi.Uuid, vdi.GetString("SR"), destSr, vdi.GetLong("virtual_size"), vdi.GetString("name_label"), vdi.GetString("type"),
            host.Pool.StoreOf(vdi), host.Pool.MountPathOf(vdi.GetString("SR")));

    private static string DefaultSr(HostRuntime host) => host.Database.Require("pool", host.PoolRef).GetString("default_SR");

    private static string RefOrNull(JsonNode? node) => node?.ToString() ?? XapiType.NullRef;

    /// <summary>Every feature bit the VM booted with is on the destination's CPU (xapi's cpuid check, as hex words).</summary>
    internal static bool CpuFeaturesCover(string hostFeatures, string vmFeatures)
    {
        if (vmFeatures.Length == 0) return true;
        var have = hostFeatures.Split('-');
        var need = vmFeatures.Split('-');
        for (var i = 0; i < need.Length; i++)
        {
            var n = uint.TryParse(need[i], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var x) ? x : 0;
            var h = i < have.Length && uint.TryParse(have[i], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var y) ? y : 0;
            if ((n & ~h) != 0) return false;
        }

        return true;
    }

    private static async Task<string?> RemoteVmStateAsync(RemoteHost remote, string vm)
    {
        try
        {
            return (await remote.CallAsync("VM.get_power_state", CancellationToken.None, vm))?.GetValue<string>();
        }
        catch (XapiException)
        {
            return null;
        }
    }

    private static async Task DeleteRemoteAsync(RemoteHost remote, string? vm, IEnumerable<string> vdis)
    {
        if (vm is not null) await TryAsync(() => remote.CallAsync("VM.destroy", CancellationToken.None, vm));
        foreach (var vdi in vdis) await TryAsync(() => DestroyOnceDetachedAsync(remote, vdi));
    }

    /// <summary>
    /// The destination's import of a disk may still be detaching from its dom0 when the copy failed
    /// here; storage_migrate's receive_cancel destroys the VDIs once its datapath is gone, so wait
    /// for that (VDI_IN_USE) a few seconds.
    /// </summary>
    private static async Task DestroyOnceDetachedAsync(RemoteHost remote, string vdi)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                await remote.CallAsync("VDI.destroy", CancellationToken.None, vdi);
                return;
            }
            catch (XapiException e) when (e.Code == XapiErrors.VdiInUse && attempt < 100)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(50));
            }
        }
    }

    /// <summary>Best effort on the destination (it may be the very thing that failed).</summary>
    private static async Task TryAsync(Func<Task> action)
    {
        try
        {
            await action();
        }
        catch (XapiException)
        {
            // Left for the destination's own cleanup (or the gateway's) to find.
        }
    }

    private static string PlatformVersion(JsonNode? softwareVersion) => softwareVersion?["platform_version"]?.ToString() ?? "0";

    /// <summary>Dotted versions compared number by number (xapi's compare_version_strings).</summary>
    internal static int CompareVersions(string a, string b)
    {
        var x = a.Split('.');
        var y = b.Split('.');
        for (var i = 0; i < Math.Max(x.Length, y.Length); i++)
        {
            var p = i < x.Length && int.TryParse(x[i], NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : 0;
            var q = i < y.Length && int.TryParse(y[i], NumberStyles.None, CultureInfo.InvariantCulture, out var m) ? m : 0;
            if (p != q) return p.CompareTo(q);
        }

        return 0;
    }

    /// <summary>The migrate task's progress (all a real host gives): the disks' bytes up to <see cref="DiskShare"/>, then memory.</summary>
    private sealed class MigrationProgress(HostRuntime host, string? taskRef, long diskTotal)
    {
        private int _permille = -1;

        public long Bytes { get; private set; }

        public void Disk(long bytes)
        {
            Bytes = bytes;
            // The stream is written twice for a mirrored disk (bulk, then delta) and carries headers: count at most the total.
            Publish(DiskShare * Math.Min(1.0, diskTotal == 0 ? 1.0 : (double)bytes / diskTotal));
        }

        /// <summary>The memory pages move at the host's migration rate, in a few steps.</summary>
        public async Task MemoryAsync(long memory, long bytesPerSecond, TimeProvider clock, CancellationToken ct)
        {
            const int Steps = 4;
            var total = bytesPerSecond <= 0 ? TimeSpan.Zero : TimeSpan.FromSeconds((double)memory / bytesPerSecond);
            for (var step = 1; step <= Steps; step++)
            {
                if (total > TimeSpan.Zero) await Task.Delay(total / Steps, clock, ct);
                Publish(DiskShare + (0.99 - DiskShare) * step / Steps);
            }
        }

        private void Publish(double fraction)
        {
            if (taskRef is null) return;
            var permille = (int)(fraction * 1000);
            if (permille <= _permille) return;
            _permille = permille;
            host.Tasks.SetProgress(taskRef, permille / 1000.0);
        }
    }
}
