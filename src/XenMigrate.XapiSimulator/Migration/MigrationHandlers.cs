using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using XenMigrate.XapiSimulator.Http;
using XenMigrate.XapiSimulator.Model;
using XenMigrate.XapiSimulator.Operations;
using XenMigrate.XapiSimulator.Rpc;
using XenMigrate.XapiSimulator.Vhd;

namespace XenMigrate.XapiSimulator.Migration;

/// <summary>
/// Storage XenMotion between two standalone hosts (xapi's cross-pool migrate): the destination's
/// <c>host.migrate_receive</c> hands out a token (its URLs and a one-time session); the source's
/// <c>VM.migrate_send</c> copies every disk to the destination over HTTP while the guest runs
/// (a copy-on-write mirror point is streamed whole), then stops the guest — downtime starts —,
/// sends only the blocks written since the mirror point, hands the VM (same uuid, same power
/// state) to the destination, and removes its own copy. Before the hand-over a failure or a
/// task.cancel deletes what was made on the destination and leaves the source VM untouched.
/// </summary>
internal static class MigrationHandlers
{
    /// <summary>Share of the task's progress taken by the disk copies (the rest: memory and hand-over).</summary>
    private const double DiskShare = 0.9;

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

    /// <summary>The destination prepares: a session for the source and the URLs it will use.</summary>
    private static ValueTask<JsonNode?> Receive(XapiCall call)
    {
        var host = call.Host;
        lock (call.Db.Sync)
        {
            call.Db.Require("host", call.Ref(1));
            call.Db.Require("network", call.Ref(2));
            var now = host.Now();
            var session = call.Db.Create("session", new Dictionary<string, JsonNode?>
            {
                ["this_host"] = host.HostRef,
                ["this_user"] = XapiType.NullRef,
                ["last_active"] = now,
                ["validation_time"] = now,
                ["is_local_superuser"] = true,
                ["auth_user_name"] = host.Options.Username,
                ["originator"] = "migrate_receive",
            });
            var url = host.BaseUrl.TrimEnd('/');
            return ValueTask.FromResult<JsonNode?>(new JsonObject
            {
                [MigrationToken.Sm] = $"{url}/services/SM",
                [MigrationToken.Host] = host.HostRef,
                [MigrationToken.Xenops] = $"{url}/services/xenops",
                [MigrationToken.SessionId] = session.Ref,
                [MigrationToken.Master] = $"{url}/",
            });
        }
    }

    private sealed record Disk(string VdiRef, string VdiUuid, string DestSr, long Size, string NameLabel, string Userdevice, bool Bootable, string Mode);

    private sealed record Vif(string Device, string Network, string Mac, long Mtu);

    /// <summary>What assert_can_migrate checks and migrate_send then uses (xapi's order: power state, maps, version, memory).</summary>
    private sealed class Plan(RemoteHost remote, string vmRef, string vmUuid, string powerState, long memory, List<Disk> disks, List<Vif> vifs) : IDisposable
    {
        public RemoteHost Remote { get; } = remote;
        public string VmRef { get; } = vmRef;
        public string VmUuid { get; } = vmUuid;
        public string PowerState { get; } = powerState;
        public long Memory { get; } = memory;
        public List<Disk> Disks { get; } = disks;
        public List<Vif> Vifs { get; } = vifs;

        public void Dispose() => Remote.Dispose();
    }

    private static async Task<Plan> PlanAsync(XapiCall call)
    {
        var host = call.Host;
        var db = call.Db;
        var vmRef = call.Ref(1);
        var token = call.Object(2).ToDictionary(p => p.Key, p => p.Value?.ToString() ?? string.Empty, StringComparer.Ordinal);
        var vdiMap = call.Object(4);
        var vifMap = call.Object(5);
        string vmUuid, powerState, ourVersion;
        long memory;
        var disks = new List<Disk>();
        var vifs = new List<Vif>();
        lock (db.Sync)
        {
            var vm = db.Require("VM", vmRef);
            VmLifecycle.AssertOperationValid(vm, "migrate_send");
            vmUuid = vm.Uuid;
            powerState = vm.GetString("power_state");
            memory = vm.GetLong("memory_static_max");
            foreach (var vbdRef in vm.GetStrings("VBDs"))
            {
                if (db.Find("VBD", vbdRef) is not { } vbd || vbd.GetString("type") != "Disk" || db.Find("VDI", vbd.GetString("VDI")) is not { } vdi) continue;
                var sr = vdiMap[vdi.Ref]?.ToString() ?? throw new XapiException(XapiErrors.VdiNotInMap, vdi.Ref);
                disks.Add(new Disk(vdi.Ref, vdi.Uuid, sr, vdi.GetLong("virtual_size"), vdi.GetString("name_label"),
                    vbd.GetString("userdevice"), vbd.GetBool("bootable"), vbd.GetString("mode")));
            }

            foreach (var vifRef in vm.GetStrings("VIFs"))
            {
                if (db.Find("VIF", vifRef) is not { } vif) continue;
                var network = vifMap[vif.Ref]?.ToString() ?? throw new XapiException(XapiErrors.VifNotInMap, vif.Ref);
                vifs.Add(new Vif(vif.GetString("device"), network, vif.GetString("MAC"), vif.GetLong("MTU")));
            }

            ourVersion = PlatformVersion(db.Require("host", host.HostRef).Get("software_version"));
        }

        var remote = new RemoteHost(token, vmRef, host.HostRef);
        try
        {
            var ct = call.Cancellation;
            var destHost = await remote.CallAsync("host.get_record", ct, remote.HostRef) as JsonObject;
            if (CompareVersions(PlatformVersion(destHost?["software_version"]), ourVersion) < 0)
                throw new XapiException(XapiErrors.VmHostIncompatibleVersionMigrate, vmRef, remote.HostRef);
            if (powerState is VmLifecycle.Running or VmLifecycle.Paused)
            {
                var free = (await remote.CallAsync("host.compute_free_memory", ct, remote.HostRef))!.GetValue<long>();
                if (memory > free) throw new XapiException(XapiErrors.HostNotEnoughFreeMemory, XapiErrors.Int(memory), XapiErrors.Int(free));
            }

            foreach (var sr in disks.Select(d => d.DestSr).Distinct(StringComparer.Ordinal)) await remote.CallAsync("SR.get_uuid", ct, sr);
            foreach (var network in vifs.Select(v => v.Network).Distinct(StringComparer.Ordinal)) await remote.CallAsync("network.get_uuid", ct, network);
            return new Plan(remote, vmRef, vmUuid, powerState, memory, disks, vifs);
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
        lock (db.Sync)
        {
            var vm = db.Require("VM", plan.VmRef);
            VmLifecycle.AssertOperationValid(vm, "migrate_send");
            vm.SetMapEntry("current_operations", task, "migrate_send");
            VmLifecycle.UpdateAllowedOperations(host, vm);
        }

        var mirrors = new List<string>();
        var destVdis = new List<string>();
        var handedOver = false;
        try
        {
            // Live phase: the guest runs on; each disk's mirror point is copied whole.
            var progress = new MigrationProgress(host, call.AsyncTask, plan.Disks.Sum(d => d.Size), plan.Memory);
            var hook = TransferHook.Take(host, "VM.migrate_send", call.Session ?? string.Empty);
            foreach (var disk in plan.Disks)
            {
                var mirror = $"{disk.VdiUuid}.mirror.{Guid.NewGuid():N}";
                host.Storage.CloneDisk(disk.VdiUuid, mirror);
                mirrors.Add(mirror);
                destVdis.Add((await remote.CallAsync("VDI.create", ct, new JsonObject
                {
                    ["name_label"] = disk.NameLabel, ["name_description"] = string.Empty, ["SR"] = disk.DestSr, ["virtual_size"] = disk.Size,
                    ["type"] = "user", ["sharable"] = false, ["read_only"] = false, ["other_config"] = new JsonObject(),
                    ["xenstore_data"] = new JsonObject(), ["sm_config"] = new JsonObject(), ["tags"] = new JsonArray(),
                }))!.GetValue<string>());
                await CopyAsync(host, remote, mirror, baseId: null, destVdis[^1], progress, hook, ct);
            }

            // Stop-and-copy: the guest is stopped from here until it runs on the destination.
            var downtime = Stopwatch.StartNew();
            for (var i = 0; i < plan.Disks.Count; i++)
                await CopyAsync(host, remote, plan.Disks[i].VdiUuid, mirrors[i], destVdis[i], progress, hook, ct);
            progress.Memory(plan.Memory); // the guest's memory: the simulator has no pages to send
            ct.ThrowIfCancellationRequested(); // the last moment a task.cancel is honoured

            JsonObject handover;
            lock (db.Sync)
            {
                var vm = db.Require("VM", plan.VmRef);
                handover = Handover(host, vm, plan, destVdis);
                // The domain leaves the source before it appears on the destination: the VM never runs twice.
                VmLifecycle.Halt(host, vm);
            }

            handedOver = true;
            string? destVm;
            try
            {
                destVm = await remote.ReceiveVmAsync(handover, CancellationToken.None);
            }
            catch (XapiException)
            {
                // An answer lost on the way: if the destination has the VM, it runs there now.
                destVm = await FindRemoteVmAsync(remote, plan.VmUuid);
                if (destVm is null) throw;
            }

            downtime.Stop();
            await TryAsync(() => remote.CallAsync("VM.add_to_other_config", CancellationToken.None, destVm, MigrationToken.DowntimeKey,
                downtime.ElapsedMilliseconds.ToString(CultureInfo.InvariantCulture)));
            lock (db.Sync)
            {
                if (db.Find("VM", plan.VmRef) is { } vm) RemoveMigratedVm(host, vm);
            }

            return destVm;
        }
        catch when (handedOver)
        {
            // The destination refused the VM: it runs on the source again, as it was.
            lock (db.Sync)
            {
                if (db.Find("VM", plan.VmRef) is { } vm && vm.GetString("power_state") == VmLifecycle.Halted)
                    VmLifecycle.Boot(host, vm, paused: plan.PowerState == VmLifecycle.Paused);
            }

            await DeleteRemoteAsync(remote, destVdis);
            throw;
        }
        catch
        {
            await DeleteRemoteAsync(remote, destVdis);
            throw;
        }
        finally
        {
            foreach (var mirror in mirrors) host.Storage.DeleteDisk(mirror);
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
    /// Streams one disk to its destination VDI as a VHD: all allocated blocks, or with a base only
    /// the blocks that differ from it. Throttle, injected faults and the task's progress apply.
    /// </summary>
    private static async Task CopyAsync(HostRuntime host, RemoteHost remote, string diskId, string? baseId, string destVdi,
        MigrationProgress progress, TransferHook hook, CancellationToken ct)
    {
        using var reader = host.Storage.OpenReader(diskId);
        using var baseReader = baseId is null ? null : host.Storage.OpenReader(baseId);
        var now = host.Clock.GetUtcNow();
        var vhd = baseReader is null
            ? VhdStreamWriter.Dynamic(reader.VirtualSize, host.Storage.AllocatedBlocks(reader), Guid.NewGuid(), now)
            : VhdStreamWriter.Differencing(reader.VirtualSize, host.Storage.DifferingBlocks(reader, baseReader), Guid.NewGuid(),
                baseReader.LayerId, $"{host.SrMountPath}/{baseId}.vhd", now);
        var start = progress.Bytes;
        await remote.ImportVhdAsync(destVdi, vhd.Length, async (output, token) =>
        {
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(ct, token);
            var metered = new MeteredStream(output, host.Faults, progress: hook.Wrap(sent => progress.Disk(start + sent)));
            await vhd.WriteAsync(metered, reader, linked.Token);
        }, ct);
    }

    /// <summary>The VM as the destination recreates it: its record (same uuid), disks, VIFs and power state.</summary>
    private static JsonObject Handover(HostRuntime host, XapiObject vm, Plan plan, List<string> destVdis)
    {
        var record = new JsonObject();
        foreach (var field in vm.Class.Fields.Where(f => f.IsConstructorArgument))
            record[field.Name] = vm.Get(field.Name)?.DeepClone();
        record["uuid"] = vm.Uuid;
        record["affinity"] = XapiType.NullRef; // refs of the source pool mean nothing there
        record["suspend_SR"] = XapiType.NullRef;
        return new JsonObject
        {
            ["vm"] = record,
            ["power_state"] = plan.PowerState,
            ["guest_agent"] = host.HasGuestAgent(vm.Ref),
            ["vbds"] = new JsonArray(plan.Disks.Select((d, i) => (JsonNode?)new JsonObject
            {
                ["VDI"] = destVdis[i], ["userdevice"] = d.Userdevice, ["bootable"] = d.Bootable, ["mode"] = d.Mode,
            }).ToArray()),
            ["vifs"] = new JsonArray(plan.Vifs.Select(v => (JsonNode?)new JsonObject
            {
                ["device"] = v.Device, ["network"] = v.Network, ["MAC"] = v.Mac, ["MTU"] = v.Mtu,
            }).ToArray()),
        };
    }

    /// <summary>The source's copy after a completed hand-over: the VM with its devices, disks and metrics.</summary>
    private static void RemoveMigratedVm(HostRuntime host, XapiObject vm)
    {
        var db = host.Database;
        foreach (var vbdRef in vm.GetStrings("VBDs"))
        {
            if (db.Find("VBD", vbdRef) is not { } vbd) continue;
            var vdi = vbd.GetString("type") == "Disk" ? db.Find("VDI", vbd.GetString("VDI")) : null;
            DeviceHandlers.RemoveVbd(host, vbd);
            if (vdi is not null && vdi.GetStrings("VBDs").Count == 0) VdiHandlers.RemoveVdi(host, vdi);
        }

        foreach (var vifRef in vm.GetStrings("VIFs"))
            if (db.Find("VIF", vifRef) is { } vif) DeviceHandlers.RemoveVif(host, vif);
        if (db.Find("VM_metrics", vm.GetString("metrics")) is { } metrics) db.Destroy(metrics);
        if (db.Find("VM_guest_metrics", vm.GetString("guest_metrics")) is { } guest) db.Destroy(guest);
        host.ForgetGuestAgent(vm.Ref);
        db.Destroy(vm);
        host.RefreshMemory();
        host.RefreshStorageUsage();
    }

    private static async Task<string?> FindRemoteVmAsync(RemoteHost remote, string uuid)
    {
        try
        {
            return (await remote.CallAsync("VM.get_by_uuid", CancellationToken.None, uuid))?.GetValue<string>();
        }
        catch (XapiException)
        {
            return null;
        }
    }

    private static async Task DeleteRemoteAsync(RemoteHost remote, List<string> vdis)
    {
        foreach (var vdi in vdis) await TryAsync(() => remote.CallAsync("VDI.destroy", CancellationToken.None, vdi));
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

    /// <summary>
    /// The migrate task's progress: the disks' bytes up to <see cref="DiskShare"/>, then memory.
    /// Also published in the task's other_config (disk/memory bytes) for callers that want counters.
    /// </summary>
    private sealed class MigrationProgress(HostRuntime host, string? taskRef, long diskTotal, long memoryTotal)
    {
        private int _permille = -1;

        public long Bytes { get; private set; }

        public void Disk(long bytes)
        {
            Bytes = bytes;
            // The VHD stream is written twice (bulk, then delta) and carries headers: count at most the total.
            Publish(DiskShare * Math.Min(1.0, diskTotal == 0 ? 1.0 : (double)bytes / diskTotal), bytes, 0);
        }

        public void Memory(long bytes) => Publish(0.99, Bytes, bytes);

        private void Publish(double fraction, long diskBytes, long memoryBytes)
        {
            if (taskRef is null) return;
            var permille = (int)(fraction * 1000);
            if (permille <= _permille) return;
            _permille = permille;
            host.Tasks.SetProgress(taskRef, permille / 1000.0);
            lock (host.Database.Sync)
            {
                if (host.Database.Find("task", taskRef) is not { } task) return;
                task.SetMapEntry("other_config", "disk_processed_bytes", XapiErrors.Int(Math.Min(diskBytes, diskTotal)));
                task.SetMapEntry("other_config", "disk_total_bytes", XapiErrors.Int(diskTotal));
                task.SetMapEntry("other_config", "memory_processed_bytes", XapiErrors.Int(memoryBytes));
                task.SetMapEntry("other_config", "memory_total_bytes", XapiErrors.Int(memoryTotal));
            }
        }
    }
}
