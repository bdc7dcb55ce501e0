using XenMigrate.XapiSimulator.Control;
using XenMigrate.XapiSimulator.Model;
using XenMigrate.XapiSimulator.Operations;
using XenMigrate.XapiSimulator.Rpc;
using XenMigrate.XapiSimulator.Storage;

namespace XenMigrate.XapiSimulator;

/// <summary>
/// Everything one simulated host is made of: its object database, its SR's disk store, tasks,
/// injected faults and the refs of its fixed objects (pool, host, dom0, SR, network).
/// </summary>
internal sealed class HostRuntime : IDisposable
{
    private readonly CancellationTokenSource _stopping = new();
    private readonly Dictionary<string, bool> _guestAgents = new(StringComparer.Ordinal);
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, int> _calls = new(StringComparer.Ordinal);

    public HostRuntime(SimulatedHostOptions options, string storageDirectory)
    {
        Options = options;
        Clock = options.Clock;
        Model = XapiDataModel.Instance;
        Database = new XapiDatabase(Model, Clock);
        Storage = new CowDiskStore(storageDirectory, options.StorageBytes);
        Faults = new FaultInjector();
        Faults.SessionsExpired += (_, _) => ExpireSessions();
        Tasks = new TaskManager(this);
        Dispatcher = new XapiDispatcher(this);
        lock (Database.Sync) HostBootstrap.Populate(this);
    }

    public SimulatedHostOptions Options { get; }

    public TimeProvider Clock { get; }

    public XapiDataModel Model { get; }

    public XapiDatabase Database { get; }

    public CowDiskStore Storage { get; }

    public FaultInjector Faults { get; }

    public TaskManager Tasks { get; }

    public XapiDispatcher Dispatcher { get; }

    public CancellationToken Stopping => _stopping.Token;

    public string PoolRef { get; set; } = XapiType.NullRef;

    public string HostRef { get; set; } = XapiType.NullRef;

    public string HostMetricsRef { get; set; } = XapiType.NullRef;

    public string ControlDomainRef { get; set; } = XapiType.NullRef;

    public string SrRef { get; set; } = XapiType.NullRef;

    public string NetworkRef { get; set; } = XapiType.NullRef;

    /// <summary>Where the host serves HTTP (set once its server listens); migrate_receive hands it out.</summary>
    public string BaseUrl { get; set; } = string.Empty;

    /// <summary>Mount path of the SR as a file SR would have it (VHD parent names point into it).</summary>
    public string SrMountPath { get; set; } = string.Empty;

    public string Now() => XapiDateTime.Now(Clock);

    /// <summary>Counts a call that reached the host (methods without <c>Async.</c>; transfers by their handler name).</summary>
    public void CountCall(string method) => _calls.AddOrUpdate(method, 1, (_, n) => n + 1);

    public int CallCount(string method) => _calls.GetValueOrDefault(method);

    /// <summary>What a fault hook is told about a call: which host, which method, whose session.</summary>
    public CallHookContext CallContext(string method, string? session)
    {
        string? originator = null;
        if (session is not null)
            lock (Database.Sync) originator = Database.Find("session", session)?.GetString("originator");
        return new CallHookContext(Options.Name, method, originator);
    }

    /// <summary>Whether the guest of a VM runs PV drivers (an agent); call under the database lock.</summary>
    public bool HasGuestAgent(string vmRef) => _guestAgents.GetValueOrDefault(vmRef, Options.GuestAgentsByDefault);

    public void SetGuestAgent(string vmRef, bool present) => _guestAgents[vmRef] = present;

    public void ForgetGuestAgent(string vmRef) => _guestAgents.Remove(vmRef);

    /// <summary>
    /// Free memory as xapi's host.compute_free_memory sees it: total minus dom0 minus the static
    /// maximum of every other VM resident here (running or paused). Call under the database lock.
    /// </summary>
    public long FreeMemory()
    {
        var used = Database.All("VM")
            .Where(vm => vm.GetString("resident_on") == HostRef && vm.GetString("power_state") is "Running" or "Paused")
            .Sum(vm => vm.GetLong("memory_static_max"));
        return Math.Max(0, Options.MemoryBytes - used);
    }

    /// <summary>Brings host_metrics.memory_free up to date; call under the database lock.</summary>
    public void RefreshMemory()
    {
        if (Database.Find("host_metrics", HostMetricsRef) is { } metrics)
        {
            var free = FreeMemory();
            if (metrics.GetLong("memory_free") != free) metrics.Set("memory_free", free);
        }
    }

    /// <summary>
    /// Copies what the disk store holds into the SR and VDI records (physical_utilisation,
    /// virtual_allocation). Call under the database lock.
    /// </summary>
    public void RefreshStorageUsage()
    {
        var sr = Database.Require("SR", SrRef);
        long virtualAllocation = 0;
        foreach (var vdi in Database.All("VDI").Where(v => v.GetString("SR") == SrRef))
        {
            virtualAllocation += vdi.GetLong("virtual_size");
            if (!Storage.Exists(vdi.Uuid)) continue;
            var used = Storage.PrivateBytes(vdi.Uuid);
            if (vdi.GetLong("physical_utilisation") != used) vdi.Set("physical_utilisation", used);
        }

        var utilisation = Storage.AllocatedBytes;
        if (sr.GetLong("physical_utilisation") != utilisation) sr.Set("physical_utilisation", utilisation);
        if (sr.GetLong("virtual_allocation") != virtualAllocation) sr.Set("virtual_allocation", virtualAllocation);
    }

    public void Stop() => _stopping.Cancel();

    private void ExpireSessions()
    {
        lock (Database.Sync)
        {
            foreach (var session in Database.All("session").ToList()) Database.Destroy(session);
        }
    }

    public void Dispose()
    {
        _stopping.Cancel();
        _stopping.Dispose();
        Storage.Dispose();
    }
}
