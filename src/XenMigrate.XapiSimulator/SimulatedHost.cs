using XenMigrate.XapiSimulator.Control;
using XenMigrate.XapiSimulator.Http;
using XenMigrate.XapiSimulator.Model;

namespace XenMigrate.XapiSimulator;

/// <summary>
/// A simulated XenServer host serving the real XAPI protocol on a loopback address: JSON-RPC on
/// <c>/jsonrpc</c>, disk transfers on <c>/export_raw_vdi</c> and <c>/import_raw_vdi</c>, and
/// test controls on <c>/sim/</c> (also reachable in-process through <see cref="Control"/>). A
/// standalone host (<see cref="StartAsync"/>) is its own one-host pool; members of a
/// <see cref="SimulatedPool"/> share the pool's database. Many can run in one process.
/// </summary>
public sealed class SimulatedHost : IAsyncDisposable
{
    private readonly HostRuntime _runtime;
    private readonly SimulatorServer _server;
    private SimulatedPool? _ownedPool;

    internal SimulatedHost(HostRuntime runtime, SimulatorServer server, SimulatorControl control, SimulatedPool pool)
    {
        _runtime = runtime;
        _server = server;
        Pool = pool;
        Control = control;
    }

    public string Name => _runtime.Options.Name;

    /// <summary>What the host was started with (memory, storage, versions).</summary>
    public SimulatedHostOptions Options => _runtime.Options;

    /// <summary>The pool this host belongs to (its own, for a standalone host).</summary>
    public SimulatedPool Pool { get; }

    /// <summary>Base URL, e.g. <c>http://127.0.0.1:9401</c>; XAPI is at <c>{Url}/jsonrpc</c>.</summary>
    public string Url => _runtime.BaseUrl;

    /// <summary>host.address: where other members, 302 redirects and HOST_IS_SLAVE point.</summary>
    public string Address => _runtime.Address;

    public int Port => _server.Port;

    public string Username => _runtime.Options.Username;

    public string Password => _runtime.Options.Password;

    /// <summary>The pool's objects (read-only views; change them through XAPI or <see cref="Control"/>).</summary>
    public XapiDatabase Database => _runtime.Database;

    public SimulatorControl Control { get; }

    public FaultInjector Faults => _runtime.Faults;

    public string PoolRef => _runtime.PoolRef;

    public string HostRef => _runtime.HostRef;

    /// <summary>The host's local SR.</summary>
    public string SrRef => _runtime.SrRef;

    /// <summary>The host's legacy thick LVM SR (OpaqueRef:NULL unless <see cref="SimulatedHostOptions.LegacyLvmStorageBytes"/>).</summary>
    public string LvmSrRef => _runtime.LvmSrRef;

    /// <summary>Where the host's NBD server listens (on <see cref="Address"/>).</summary>
    public int NbdPort => _runtime.NbdPort;

    public string NetworkRef => _runtime.NetworkRef;

    public string ControlDomainRef => _runtime.ControlDomainRef;

    /// <summary>Whether the pool currently names this host as its master.</summary>
    public bool IsMaster
    {
        get
        {
            lock (_runtime.Database.Sync) return _runtime.IsMaster;
        }
    }

    /// <summary>Directory holding the local SR's layer files.</summary>
    public string StorageDirectory => _runtime.Storage.RootDirectory;

    internal HostRuntime Runtime => _runtime;

    /// <summary>Starts a standalone host: the only member of its own (nameless) pool, default SR its local SR.</summary>
    public static async Task<SimulatedHost> StartAsync(SimulatedHostOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        var pool = await SimulatedPool.StartAsync(new SimulatedPoolOptions
        {
            Name = string.Empty,
            Hosts = [options],
            Addresses = [options.ListenAddress],
            DataDirectory = options.DataDirectory,
            DeleteDataOnDispose = options.DeleteDataOnDispose,
        }, cancellationToken);
        var host = pool.Members[0];
        host._ownedPool = pool;
        return host;
    }

    internal async ValueTask StopServerAsync()
    {
        await _server.DisposeAsync();
        if (_runtime.Nbd is { } nbd) await nbd.DisposeAsync();
    }

    /// <summary>A standalone host stops with its pool; a pool member stops when its pool is disposed.</summary>
    public async ValueTask DisposeAsync()
    {
        var pool = Interlocked.Exchange(ref _ownedPool, null);
        if (pool is not null) await pool.DisposeAsync();
    }
}
