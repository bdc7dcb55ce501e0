using XenMigrate.XapiSimulator.Model;
using XenMigrate.XapiSimulator.Operations;
using XenMigrate.XapiSimulator.Storage;

namespace XenMigrate.XapiSimulator;

/// <summary>
/// What a XenServer pool shares: one object database (xapi's pool database, held by the master
/// and seen by every member), the tasks, the guest agents of its VMs and the disk stores of its
/// SRs — each member's local SR and the pool's shared SRs. A standalone host is a pool of one.
/// </summary>
internal sealed class PoolRuntime : IDisposable
{
    private readonly CancellationTokenSource _stopping = new();
    private readonly Dictionary<string, bool> _guestAgents = new(StringComparer.Ordinal);
    private readonly Dictionary<string, SrStorage> _stores = new(StringComparer.Ordinal);
    private readonly List<HostRuntime> _members = [];

    public PoolRuntime(TimeProvider clock, bool guestAgentsByDefault)
    {
        Clock = clock;
        GuestAgentsByDefault = guestAgentsByDefault;
        Model = XapiDataModel.Instance;
        Database = new XapiDatabase(Model, Clock);
        Tasks = new TaskManager(this);
    }

    public TimeProvider Clock { get; }

    public XapiDataModel Model { get; }

    public XapiDatabase Database { get; }

    public TaskManager Tasks { get; }

    public bool GuestAgentsByDefault { get; }

    /// <summary>Each VTPM's state (xapi keeps it as a secret, read through VTPM.get_contents); call under the database lock.</summary>
    public Dictionary<string, string> VtpmContents { get; } = new(StringComparer.Ordinal);

    public CancellationToken Stopping => _stopping.Token;

    public string PoolRef { get; set; } = XapiType.NullRef;

    /// <summary>The pool's shared SR (NFS-like, plugged on every member), or NULL when it has none.</summary>
    public string SharedSrRef { get; set; } = XapiType.NullRef;

    /// <summary>The ISO SRs every member sees: the guest tools, and a shared ISO library.</summary>
    public string ToolsSrRef { get; set; } = XapiType.NullRef;

    public string IsoLibrarySrRef { get; set; } = XapiType.NullRef;

    /// <summary>The management network (xenbr0): every member has a PIF on it.</summary>
    public string ManagementNetworkRef { get; set; } = XapiType.NullRef;

    /// <summary>Pool-wide networks created at bootstrap (each member gets its PIFs on them as it joins).</summary>
    public List<PoolNetwork> Networks { get; } = [];

    public IReadOnlyList<HostRuntime> Members
    {
        get
        {
            lock (_members) return _members.ToList();
        }
    }

    public void AddMember(HostRuntime host)
    {
        lock (_members) _members.Add(host);
    }

    /// <summary>The member whose host object this is; null for a ref of no member.</summary>
    public HostRuntime? Member(string hostRef)
    {
        lock (_members) return _members.FirstOrDefault(m => m.HostRef == hostRef);
    }

    /// <summary>The member the pool record names as master. Call under the database lock.</summary>
    public HostRuntime Master => Member(Database.Require("pool", PoolRef).GetString("master")) ?? Members[0];

    public string Now() => XapiDateTime.Now(Clock);

    /// <summary>Registers the disk store behind an SR.</summary>
    public void AddStore(string srRef, CowDiskStore store, string mountPath) => _stores[srRef] = new SrStorage(store, mountPath);

    public bool HasStore(string srRef) => _stores.ContainsKey(srRef);

    /// <summary>The disk store of an SR (local or shared); SR_BACKEND_FAILURE when the SR holds no disks here (an ISO library).</summary>
    public CowDiskStore StoreFor(string srRef) =>
        _stores.TryGetValue(srRef, out var s) ? s.Store : throw new XapiException(XapiErrors.OperationNotAllowed, $"SR {srRef} holds no disks here.");

    /// <summary>The store holding a VDI's bytes (its SR's). Call under the database lock.</summary>
    public CowDiskStore StoreOf(XapiObject vdi) => StoreFor(vdi.GetString("SR"));

    /// <summary>Where a file SR keeps its VHDs (a differencing export names its parent there).</summary>
    public string MountPathOf(string srRef) => _stores.TryGetValue(srRef, out var s) ? s.MountPath : string.Empty;

    public IEnumerable<CowDiskStore> Stores => _stores.Values.Select(s => s.Store);

    /// <summary>Whether a host has the SR plugged (an attached PBD): what xapi's assert_can_see_SRs checks. Call under the lock.</summary>
    public bool HostSeesSr(string hostRef, string srRef) =>
        Database.All("PBD").Any(p => p.GetString("host") == hostRef && p.GetString("SR") == srRef && p.GetBool("currently_attached"));

    /// <summary>Whether the guest of a VM runs PV drivers (an agent); call under the database lock.</summary>
    public bool HasGuestAgent(string vmRef) => _guestAgents.GetValueOrDefault(vmRef, GuestAgentsByDefault);

    public void SetGuestAgent(string vmRef, bool present) => _guestAgents[vmRef] = present;

    public void ForgetGuestAgent(string vmRef) => _guestAgents.Remove(vmRef);

    /// <summary>
    /// Copies what the disk stores hold into the SR and VDI records (physical_utilisation,
    /// virtual_allocation). Call under the database lock.
    /// </summary>
    public void RefreshStorageUsage()
    {
        foreach (var (srRef, storage) in _stores)
        {
            if (Database.Find("SR", srRef) is not { } sr) continue;
            long virtualAllocation = 0;
            foreach (var vdi in Database.All("VDI").Where(v => v.GetString("SR") == srRef))
            {
                virtualAllocation += vdi.GetLong("virtual_size");
                if (!storage.Store.Exists(vdi.Uuid)) continue;
                var used = storage.Store.PrivateBytes(vdi.Uuid);
                if (vdi.GetLong("physical_utilisation") != used) vdi.Set("physical_utilisation", used);
            }

            var utilisation = storage.Store.AllocatedBytes;
            if (sr.GetLong("physical_utilisation") != utilisation) sr.Set("physical_utilisation", utilisation);
            if (sr.GetLong("virtual_allocation") != virtualAllocation) sr.Set("virtual_allocation", virtualAllocation);
        }
    }

    /// <summary>Brings every member's host_metrics.memory_free up to date; call under the database lock.</summary>
    public void RefreshMemory()
    {
        foreach (var member in Members) member.RefreshMemory();
    }

    public void Stop() => _stopping.Cancel();

    public void Dispose()
    {
        _stopping.Cancel();
        _stopping.Dispose();
        foreach (var storage in _stores.Values) storage.Store.Dispose();
    }

    private sealed record SrStorage(CowDiskStore Store, string MountPath);
}

/// <summary>A pool-wide network and what each member's PIF on it looks like (device, VLAN; none for a PIF-less network).</summary>
internal sealed record PoolNetwork(string NetworkRef, string? Device, long Vlan, bool Management);
