using XenMigrate.XapiSimulator.Control;
using XenMigrate.XapiSimulator.Model;
using XenMigrate.XapiSimulator.Operations;
using XenMigrate.XapiSimulator.Rpc;
using XenMigrate.XapiSimulator.Storage;

namespace XenMigrate.XapiSimulator;

/// <summary>
/// One simulated host, a member of its <see cref="PoolRuntime"/> (a standalone host is a pool of
/// one): its own objects' refs (host, metrics, dom0, local SR), its local SR's disk store, the
/// faults injected into it, where it serves HTTP, and the dispatcher of the XAPI calls it
/// receives. The database, tasks and guest agents are the pool's.
/// </summary>
internal sealed class HostRuntime
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, int> _calls = new(StringComparer.Ordinal);

    public HostRuntime(PoolRuntime pool, SimulatedHostOptions options, string storageDirectory)
    {
        Pool = pool;
        Options = options;
        Storage = new CowDiskStore(storageDirectory, options.StorageBytes);
        Faults = new FaultInjector();
        Faults.SessionsExpired += (_, _) => ExpireSessions();
        Dispatcher = new XapiDispatcher(this);
    }

    public PoolRuntime Pool { get; }

    public SimulatedHostOptions Options { get; }

    public TimeProvider Clock => Pool.Clock;

    public XapiDataModel Model => Pool.Model;

    public XapiDatabase Database => Pool.Database;

    /// <summary>The disk store of this host's local SR.</summary>
    public CowDiskStore Storage { get; }

    public FaultInjector Faults { get; }

    /// <summary>The host's local authentication slots (logins are throttled per host).</summary>
    public AuthThrottle AuthThrottle { get; } = new();

    public TaskManager Tasks => Pool.Tasks;

    public XapiDispatcher Dispatcher { get; }

    public CancellationToken Stopping => Pool.Stopping;

    public string PoolRef => Pool.PoolRef;

    public string HostRef { get; set; } = XapiType.NullRef;

    public string HostMetricsRef { get; set; } = XapiType.NullRef;

    public string ControlDomainRef { get; set; } = XapiType.NullRef;

    /// <summary>The host's local SR (its own disk).</summary>
    public string SrRef { get; set; } = XapiType.NullRef;

    /// <summary>The host's legacy (thick, non-VHD) LVM SR, or NULL (<see cref="SimulatedHostOptions.LegacyLvmStorageBytes"/>).</summary>
    public string LvmSrRef { get; set; } = XapiType.NullRef;

    /// <summary>The host's NBD server (null until it runs).</summary>
    public Nbd.NbdServer? Nbd { get; set; }

    /// <summary>Where the host's NBD server listens (0 until it runs).</summary>
    public int NbdPort => Nbd?.Port ?? 0;

    /// <summary>The host's TLS server certificate (PEM), as host.get_server_certificate and VDI.get_nbd_info give it.</summary>
    public string ServerCertificatePem { get; set; } = string.Empty;

    /// <summary>The management network (xenbr0), where seeded guests get their VIF.</summary>
    public string NetworkRef => Pool.ManagementNetworkRef;

    /// <summary>The address other hosts and clients reach this host at (host.address; a 302 names it).</summary>
    public string Address { get; set; } = "127.0.0.1";

    /// <summary>Where the host serves HTTP (set once its server listens); migrate_receive hands it out.</summary>
    public string BaseUrl { get; set; } = string.Empty;

    /// <summary>The port every member of the pool listens on.</summary>
    public int Port { get; set; }

    /// <summary>Mount path of the local SR as a file SR would have it (VHD parent names point into it).</summary>
    public string SrMountPath => Pool.MountPathOf(SrRef);

    /// <summary>Whether the pool record names this host as master. Call under the database lock.</summary>
    public bool IsMaster => Database.Find("pool", Pool.PoolRef)?.GetString("master") == HostRef;

    public string Now() => Pool.Now();

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

    public bool HasGuestAgent(string vmRef) => Pool.HasGuestAgent(vmRef);

    public void SetGuestAgent(string vmRef, bool present) => Pool.SetGuestAgent(vmRef, present);

    public void ForgetGuestAgent(string vmRef) => Pool.ForgetGuestAgent(vmRef);

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

    /// <summary>See <see cref="PoolRuntime.RefreshStorageUsage"/>; call under the database lock.</summary>
    public void RefreshStorageUsage() => Pool.RefreshStorageUsage();

    /// <summary>Ends the sessions made on this host (an xapi restart here); the pool's other sessions stay.</summary>
    private void ExpireSessions()
    {
        lock (Database.Sync)
        {
            foreach (var session in Database.All("session").Where(s => s.GetString("this_host") == HostRef).ToList())
                Database.Destroy(session);
        }
    }
}
