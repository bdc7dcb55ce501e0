using System.Text.Json.Nodes;
using XenMigrate.XapiSimulator.Model;
using XenMigrate.XapiSimulator.Operations;

namespace XenMigrate.XapiSimulator.Control;

/// <summary>A VM to create with <see cref="SimulatorControl.SeedVmAsync"/>: one disk, one VIF, data on the disk.</summary>
public sealed record SeedVmSpec
{
    public const long MiB = 1024L * 1024;

    public required string Name { get; init; }

    public long MemoryBytes { get; init; } = 1024 * MiB;

    public int Vcpus { get; init; } = 1;

    /// <summary>Virtual size of the VM's disk (rounded up to 2 MiB).</summary>
    public long DiskBytes { get; init; } = 64 * MiB;

    /// <summary>Bytes of pseudo-random data written from the start of the disk.</summary>
    public long DataBytes { get; init; } = 8 * MiB;

    /// <summary>Seed of the data pattern (the same seed writes the same bytes); derived from the name when null.</summary>
    public int? DataSeed { get; init; }

    /// <summary>Halted, Running, Paused or Suspended.</summary>
    public string PowerState { get; init; } = "Running";

    /// <summary>Whether the guest runs PV drivers (clean shutdown and suspend need them).</summary>
    public bool GuestAgent { get; init; } = true;

    public IReadOnlyDictionary<string, string>? OtherConfig { get; init; }

    /// <summary>The SR to put the disk on (a ref, e.g. the pool's shared SR); the host's local SR when null.</summary>
    public string? StorageRepository { get; init; }

    /// <summary>The sm_config the disk is created with, as VDI.create takes it (e.g. image-format=qcow2, type=raw).</summary>
    public IReadOnlyDictionary<string, string>? DiskSmConfig { get; init; }

    /// <summary>A CD drive (userdevice 3) holding the ISO of this name; "" for an empty drive; null for none.</summary>
    public string? CdIso { get; init; }

    /// <summary>A vTPM with this state (what VTPM.get_contents returns); null for none.</summary>
    public string? VtpmContents { get; init; }

    /// <summary>The VM's SMBIOS strings (VM.bios_strings), as a guest licensed by its BIOS has them.</summary>
    public IReadOnlyDictionary<string, string>? BiosStrings { get; init; }

    /// <summary>User snapshots to take once the disk holds its data (by name).</summary>
    public IReadOnlyList<string> Snapshots { get; init; } = [];

    /// <summary>A template (is_a_template) rather than a VM: a custom image whose disk 0 holds the data.</summary>
    public bool Template { get; init; }

    /// <summary>The network (by name_label) of the VM's VIF; the management network (xenbr0) when null.</summary>
    public string? Network { get; init; }

    /// <summary>XenServer tags on the VM (VM.tags, as XenCenter and Xen Orchestra set them).</summary>
    public IReadOnlyList<string> Tags { get; init; } = [];
}

/// <summary>What <see cref="SimulatorControl.SeedVmAsync"/> created.</summary>
public sealed record SeededVm(string VmRef, string VmUuid, string VdiRef, string VdiUuid, string VbdRef, string VifRef);

/// <summary>
/// Controls of a simulated host outside the XAPI namespace (the same as its <c>/sim/</c> HTTP
/// endpoints): act as a guest writing to its disk, read a disk's SHA-256, seed VMs, switch a
/// guest's PV drivers, inject faults, dump the state. Disks are named by VDI ref or uuid; VMs by
/// ref, uuid or name_label.
/// </summary>
public sealed class SimulatorControl
{
    private const int FillChunk = 1024 * 1024;

    private readonly HostRuntime _host;

    internal SimulatorControl(HostRuntime host)
    {
        _host = host;
    }

    public FaultInjector Faults => _host.Faults;

    /// <summary>How many calls of a method (XAPI name without <c>Async.</c>, or a transfer handler) reached this host.</summary>
    public int CallCount(string method) => _host.CallCount(method);

    /// <summary>Creates a VM with a disk holding <see cref="SeedVmSpec.DataBytes"/> of data and brings it to the asked power state.</summary>
    public async Task<SeededVm> SeedVmAsync(SeedVmSpec spec, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(spec);
        if (spec.DataBytes > spec.DiskBytes) throw new ArgumentException("DataBytes exceeds DiskBytes.", nameof(spec));
        if (spec.PowerState is not (VmLifecycle.Halted or VmLifecycle.Running or VmLifecycle.Paused or VmLifecycle.Suspended))
            throw new ArgumentException($"Unknown power state '{spec.PowerState}'.", nameof(spec));
        SeededVm seeded;
        lock (_host.Database.Sync)
        {
            var record = VmFactory.HvmRecord(spec.Name, spec.MemoryBytes, spec.Vcpus);
            if (spec.OtherConfig is not null)
            {
                var otherConfig = new JsonObject();
                foreach (var (key, value) in spec.OtherConfig) otherConfig[key] = value;
                record["other_config"] = otherConfig;
            }

            record["affinity"] = _host.HostRef; // its home server, as XenCenter sets one for a new VM
            record["is_a_template"] = spec.Template; // a template from the start: never seen as a guest
            if (spec.BiosStrings is not null)
                record["bios_strings"] = new JsonObject(spec.BiosStrings.Select(p => KeyValuePair.Create(p.Key, (JsonNode?)p.Value)));
            var vm = VmFactory.Create(_host, record);
            _host.SetGuestAgent(vm.Ref, spec.GuestAgent);
            var vdi = VdiHandlers.AddVdi(_host, new Dictionary<string, JsonNode?>
            {
                ["name_label"] = $"{spec.Name} disk 0",
                ["name_description"] = "Created by the simulator",
                ["SR"] = spec.StorageRepository ?? _host.SrRef,
                ["type"] = "user",
                ["sharable"] = false,
                ["read_only"] = false,
                ["other_config"] = new JsonObject(),
                ["sm_config"] = spec.DiskSmConfig is null ? null : new JsonObject(spec.DiskSmConfig.Select(p => KeyValuePair.Create(p.Key, (JsonNode?)p.Value))),
            }, VdiHandlers.RoundSize(spec.DiskBytes));
            var vbd = DeviceHandlers.CreateVbd(_host, vm, vdi.Ref, "0", bootable: true);
            var network = spec.Network is null ? _host.NetworkRef
                : _host.Database.All("network").FirstOrDefault(n => n.GetString("name_label") == spec.Network)?.Ref
                  ?? throw new ArgumentException($"No network named {spec.Network}.", nameof(spec));
            var vif = DeviceHandlers.CreateVif(_host, vm, network, "0");
            foreach (var tag in spec.Tags) vm.AddToSet("tags", tag);
            if (spec.CdIso is { } iso)
            {
                var disc = iso.Length == 0 ? null : _host.Database.All("VDI").FirstOrDefault(v => v.GetString("name_label") == iso
                                                                                               && _host.Database.Find("SR", v.GetString("SR"))?.GetString("content_type") == "iso")
                           ?? throw new ArgumentException($"No ISO named {iso}.", nameof(spec));
                DeviceHandlers.CreateVbd(_host, vm, disc?.Ref ?? XapiType.NullRef, "3", bootable: false, type: "CD", mode: "RO");
            }

            if (spec.VtpmContents is { } contents) VtpmHandlers.Add(_host, vm, isUnique: false, contents);
            seeded = new SeededVm(vm.Ref, vm.Uuid, vdi.Ref, vdi.Uuid, vbd.Ref, vif.Ref);
        }

        await FillDiskAsync(seeded.VdiRef, 0, spec.DataBytes, spec.DataSeed ?? StableSeed(spec.Name), cancellationToken);
        lock (_host.Database.Sync)
        {
            var vm = _host.Database.Require("VM", seeded.VmRef);
            foreach (var snapshot in spec.Snapshots) VmHandlers.CopyVm(_host, vm, snapshot, asSnapshot: true, ignoredVdis: []);
            if (spec.Template) return seeded;

            if (spec.PowerState != VmLifecycle.Halted) VmLifecycle.Boot(_host, vm, paused: spec.PowerState == VmLifecycle.Paused);
            if (spec.PowerState == VmLifecycle.Suspended) VmLifecycle.Suspend(_host, vm);
        }

        return seeded;
    }

    /// <summary>Writes bytes into a disk, as its guest would (running or not); shared blocks are copied first.</summary>
    public void WriteDisk(string vdi, long offset, ReadOnlySpan<byte> data)
    {
        var (store, uuid) = Disk(vdi);
        try
        {
            store.Write(uuid, offset, data);
        }
        catch (Storage.StorageFullException e)
        {
            throw XapiFailures.From(e);
        }
        finally
        {
            lock (_host.Database.Sync) _host.RefreshStorageUsage();
        }
    }

    /// <summary>Writes into the disk behind a VM's VBD (userdevice "0" = first disk).</summary>
    public void WriteVmDisk(string vm, long offset, ReadOnlySpan<byte> data, string userdevice = "0") =>
        WriteDisk(VmDisk(vm, userdevice), offset, data);

    /// <summary>Writes <paramref name="length"/> deterministic pseudo-random bytes (a seed gives the same bytes), a chunk at a time.</summary>
    public async Task FillDiskAsync(string vdi, long offset, long length, int seed, CancellationToken cancellationToken = default)
    {
        var random = new Random(seed);
        var buffer = new byte[FillChunk];
        for (long done = 0; done < length; done += FillChunk)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var count = (int)Math.Min(FillChunk, length - done);
            random.NextBytes(buffer.AsSpan(0, count));
            WriteDisk(vdi, offset + done, buffer.AsSpan(0, count));
            if (done % (16 * FillChunk) == 0) await Task.Yield();
        }
    }

    /// <summary>Bytes of a disk as its guest would read them (zeros where nothing was written).</summary>
    public byte[] ReadDisk(string vdi, long offset, int length)
    {
        var (store, uuid) = Disk(vdi);
        var bytes = new byte[length];
        store.Read(uuid, offset, bytes);
        return bytes;
    }

    /// <summary>SHA-256 (lowercase hex) of the whole virtual disk, zeros where nothing was written.</summary>
    public string GetDiskSha256(string vdi)
    {
        var (store, uuid) = Disk(vdi);
        return Convert.ToHexStringLower(store.ComputeSha256(uuid));
    }

    public string GetVmDiskSha256(string vm, string userdevice = "0") => GetDiskSha256(VmDisk(vm, userdevice));

    /// <summary>The guest's PV drivers appear or disappear (clean shutdown then works or fails with VM_LACKS_FEATURE).</summary>
    public void SetGuestAgent(string vm, bool present)
    {
        lock (_host.Database.Sync) VmLifecycle.SetGuestAgent(_host, _host.Database.Require("VM", ResolveVmLocked(vm)), present);
    }

    /// <summary>The VM's ref, given its ref, uuid or name_label.</summary>
    public string ResolveVm(string vm)
    {
        lock (_host.Database.Sync) return ResolveVmLocked(vm);
    }

    /// <summary>The VDI behind a VM's VBD with this userdevice.</summary>
    public string VmDisk(string vm, string userdevice = "0")
    {
        lock (_host.Database.Sync)
        {
            var vmObj = _host.Database.Require("VM", ResolveVmLocked(vm));
            foreach (var vbdRef in vmObj.GetStrings("VBDs"))
            {
                if (_host.Database.Find("VBD", vbdRef) is { } vbd && vbd.GetString("userdevice") == userdevice &&
                    _host.Database.Find("VDI", vbd.GetString("VDI")) is { } vdi)
                    return vdi.Ref;
            }

            throw new XapiException(XapiErrors.HandleInvalid, "VBD", $"{vmObj.Ref}/{userdevice}");
        }
    }

    /// <summary>A summary of the host for humans and tests (also served at <c>GET /sim/state</c>).</summary>
    public JsonObject DescribeState()
    {
        lock (_host.Database.Sync)
        {
            var db = _host.Database;
            var vms = new JsonArray();
            foreach (var vm in db.All("VM").Where(v => !v.GetBool("is_a_template") || v.GetBool("is_a_snapshot")))
            {
                var disks = new JsonArray();
                foreach (var vbdRef in vm.GetStrings("VBDs"))
                {
                    if (db.Find("VBD", vbdRef) is not { } vbd || db.Find("VDI", vbd.GetString("VDI")) is not { } vdi) continue;
                    disks.Add(new JsonObject
                    {
                        ["userdevice"] = vbd.GetString("userdevice"),
                        ["vdi"] = vdi.Ref,
                        ["uuid"] = vdi.Uuid,
                        ["virtual_size"] = vdi.GetLong("virtual_size"),
                        ["physical_utilisation"] = vdi.GetLong("physical_utilisation"),
                    });
                }

                vms.Add(new JsonObject
                {
                    ["ref"] = vm.Ref,
                    ["uuid"] = vm.Uuid,
                    ["name_label"] = vm.GetString("name_label"),
                    ["power_state"] = vm.GetString("power_state"),
                    ["is_control_domain"] = vm.GetBool("is_control_domain"),
                    ["is_a_snapshot"] = vm.GetBool("is_a_snapshot"),
                    ["guest_agent"] = _host.HasGuestAgent(vm.Ref),
                    ["memory_static_max"] = vm.GetLong("memory_static_max"),
                    ["current_operations"] = vm.Get("current_operations")!.DeepClone(),
                    ["disks"] = disks,
                });
            }

            var sr = db.Require("SR", _host.SrRef);
            return new JsonObject
            {
                ["name"] = _host.Options.Name,
                ["host"] = _host.HostRef,
                ["memory"] = new JsonObject { ["total"] = _host.Options.MemoryBytes, ["free"] = _host.FreeMemory() },
                ["sr"] = new JsonObject
                {
                    ["ref"] = sr.Ref,
                    ["physical_size"] = sr.GetLong("physical_size"),
                    ["physical_utilisation"] = sr.GetLong("physical_utilisation"),
                    ["virtual_allocation"] = sr.GetLong("virtual_allocation"),
                    ["directory"] = _host.Storage.RootDirectory,
                },
                ["vms"] = vms,
                ["vdis"] = db.Count("VDI"),
                ["sessions"] = db.Count("session"),
                ["tasks"] = new JsonArray(db.All("task").Select(t => (JsonNode?)new JsonObject
                {
                    ["ref"] = t.Ref,
                    ["name_label"] = t.GetString("name_label"),
                    ["status"] = t.GetString("status"),
                    ["progress"] = t.GetDouble("progress"),
                }).ToArray()),
                ["generation"] = db.CurrentGeneration,
                ["faults"] = System.Text.Json.JsonSerializer.SerializeToNode(_host.Faults.Describe()),
            };
        }
    }

    private string ResolveVmLocked(string vm)
    {
        var db = _host.Database;
        if (db.Find("VM", vm) is { } byRef) return byRef.Ref;
        if (db.FindByUuid("VM", vm) is { } byUuid) return byUuid.Ref;
        var named = db.All("VM").Where(v => v.GetString("name_label") == vm && !v.GetBool("is_a_template")).ToList();
        return named.Count == 1 ? named[0].Ref : throw new XapiException(XapiErrors.HandleInvalid, "VM", vm);
    }

    /// <summary>The store holding a VDI (its SR's) and the VDI's uuid there.</summary>
    private (Storage.CowDiskStore Store, string Uuid) Disk(string vdi)
    {
        lock (_host.Database.Sync)
        {
            var obj = _host.Database.Find("VDI", vdi) ?? _host.Database.FindByUuid("VDI", vdi)
                ?? throw new XapiException(XapiErrors.HandleInvalid, "VDI", vdi);
            return (_host.Pool.StoreOf(obj), obj.Uuid);
        }
    }

    /// <summary>A seed from the name that does not change between runs (string.GetHashCode does).</summary>
    private static int StableSeed(string name)
    {
        var hash = 17;
        foreach (var c in name) hash = unchecked((hash * 31) + c);
        return hash;
    }
}
