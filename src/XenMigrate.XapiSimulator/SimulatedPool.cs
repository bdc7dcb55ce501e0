using System.Net;
using System.Net.Sockets;
using XenMigrate.XapiSimulator.Control;
using XenMigrate.XapiSimulator.Http;
using XenMigrate.XapiSimulator.Model;

namespace XenMigrate.XapiSimulator;

/// <summary>
/// A simulated XenServer pool: one object database shared by every member, the master serving
/// it, a local SR on each member and optionally a shared SR that all of them see. Each member
/// listens on its own address and the same port, as real members do (443 on their management
/// IPs): a login on a member other than the master answers <c>HOST_IS_SLAVE [master address]</c>,
/// and an export or import sent to a member that cannot see the VDI's SR answers a 302 to one
/// that can. <see cref="DesignateMaster"/> moves the master role (xapi's pool.designate_new_master).
/// </summary>
public sealed class SimulatedPool : IAsyncDisposable
{
    private const int AddressAttempts = 20;

    private readonly PoolRuntime _runtime;
    private readonly List<SimulatedHost> _members = [];
    private readonly string _storageRoot;
    private readonly string? _temporaryRoot;
    private readonly bool _deleteData;
    private bool _disposed;

    private SimulatedPool(PoolRuntime runtime, string storageRoot, string? temporaryRoot, bool deleteData)
    {
        _runtime = runtime;
        _storageRoot = storageRoot;
        _temporaryRoot = temporaryRoot;
        _deleteData = deleteData;
    }

    public IReadOnlyList<SimulatedHost> Members => _members;

    /// <summary>The member the pool currently names as master.</summary>
    public SimulatedHost Master
    {
        get
        {
            lock (_runtime.Database.Sync)
            {
                var master = _runtime.Master;
                return _members.First(m => m.Runtime == master);
            }
        }
    }

    public string PoolRef => _runtime.PoolRef;

    /// <summary>The shared SR (OpaqueRef:NULL when the pool has none).</summary>
    public string SharedSrRef => _runtime.SharedSrRef;

    public XapiDatabase Database => _runtime.Database;

    internal PoolRuntime Runtime => _runtime;

    public static async Task<SimulatedPool> StartAsync(SimulatedPoolOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Hosts.Count == 0) throw new ArgumentException("A pool needs at least one host.", nameof(options));
        foreach (var host in options.Hosts)
        {
            ArgumentException.ThrowIfNullOrWhiteSpace(host.Name);
            ArgumentOutOfRangeException.ThrowIfNegative(host.Port);
            ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(host.MemoryBytes, host.ControlDomainMemoryBytes);
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(host.StorageBytes);
        }

        if (options.Addresses.Count is not 0 && options.Addresses.Count != options.Hosts.Count)
            throw new ArgumentException("Give one address per host, or none.", nameof(options));

        var temporaryRoot = options.DataDirectory is null
            ? Path.Combine(Path.GetTempPath(), "xenmigrate-xapi-sim", Guid.NewGuid().ToString("N"))
            : null;
        var storageRoot = options.DataDirectory ?? temporaryRoot!;
        var first = options.Hosts[0];
        var runtime = new PoolRuntime(first.Clock, first.GuestAgentsByDefault);
        var pool = new SimulatedPool(runtime, storageRoot, temporaryRoot, options.DeleteDataOnDispose);
        try
        {
            lock (runtime.Database.Sync) HostBootstrap.CreatePool(runtime, options, storageRoot);
            await pool.StartMembersAsync(options, cancellationToken);
            return pool;
        }
        catch
        {
            await pool.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// Makes another member master, as pool.designate_new_master does: from now on logins on the
    /// old master answer HOST_IS_SLAVE with the new master's address. Existing sessions stay valid.
    /// </summary>
    public void DesignateMaster(SimulatedHost member)
    {
        ArgumentNullException.ThrowIfNull(member);
        if (!_members.Contains(member)) throw new ArgumentException($"{member.Name} is not a member of this pool.", nameof(member));
        lock (_runtime.Database.Sync) Operations.PoolHandlers.MakeMaster(_runtime, member.Runtime);
    }

    private async Task StartMembersAsync(SimulatedPoolOptions options, CancellationToken cancellationToken)
    {
        for (var attempt = 0; ; attempt++)
        {
            var addresses = options.Addresses.Count > 0 ? options.Addresses : RandomLoopbackAddresses(options.Hosts.Count);
            var started = new List<(HostRuntime Runtime, SimulatorControl Control, SimulatorServer Server)>();
            try
            {
                var port = options.Hosts[0].Port;
                for (var i = 0; i < options.Hosts.Count; i++)
                {
                    var hostOptions = options.Hosts[i];
                    var runtime = new HostRuntime(_runtime, hostOptions, Path.Combine(_storageRoot, $"{hostOptions.Name}-sr-{Guid.NewGuid():N}"));
                    var control = new SimulatorControl(runtime);
                    var server = await SimulatorServer.StartAsync(runtime, control, addresses[i], port, cancellationToken);
                    port = server.Port;
                    var advertised = addresses[i].Equals(IPAddress.Any) || addresses[i].Equals(IPAddress.IPv6Any) ? "127.0.0.1" : addresses[i].ToString();
                    runtime.Address = advertised;
                    runtime.Port = server.Port;
                    runtime.BaseUrl = $"http://{advertised}:{server.Port}";
                    runtime.Nbd = Nbd.NbdServer.Start(runtime, addresses[i], hostOptions.NbdPort);
                    started.Add((runtime, control, server));
                }
            }
            catch (IOException) when (options.Addresses.Count == 0 && attempt < AddressAttempts)
            {
                // Another pool holds that port on one of these addresses: try others.
                foreach (var (started1, _, server) in started)
                {
                    await server.DisposeAsync();
                    if (started1.Nbd is { } nbd) await nbd.DisposeAsync();
                }

                continue;
            }
            catch
            {
                foreach (var (started1, _, server) in started)
                {
                    await server.DisposeAsync();
                    if (started1.Nbd is { } nbd) await nbd.DisposeAsync();
                }

                throw;
            }

            lock (_runtime.Database.Sync)
            {
                for (var i = 0; i < started.Count; i++)
                {
                    _runtime.AddMember(started[i].Runtime);
                    HostBootstrap.Join(started[i].Runtime, options, i);
                }

                HostBootstrap.CreateTemplates(_runtime, started[0].Runtime);
                _runtime.RefreshMemory();
            }

            foreach (var (runtime, control, server) in started) _members.Add(new SimulatedHost(runtime, server, control, this));
            return;
        }
    }

    /// <summary>Distinct addresses in 127.0.0.0/8 other than 127.0.0.1 (the standalone hosts' default).</summary>
    private static List<IPAddress> RandomLoopbackAddresses(int count)
    {
        var picked = new HashSet<IPAddress>();
        while (picked.Count < count)
            picked.Add(new IPAddress([127, (byte)Random.Shared.Next(1, 255), (byte)Random.Shared.Next(0, 256), (byte)Random.Shared.Next(1, 255)]));
        return picked.ToList();
    }

    public async ValueTask DisposeAsync()
    {
        if (_disposed) return;
        _disposed = true;
        _runtime.Stop();
        foreach (var member in _members) await member.StopServerAsync();
        // Let background tasks see the stop before their files go.
        for (var i = 0; i < 50 && _runtime.Tasks.Outstanding > 0; i++) await Task.Delay(20);
        _runtime.Dispose();
        if (_deleteData)
        {
            if (_temporaryRoot is not null) TryDelete(_temporaryRoot);
            else foreach (var store in _runtime.Stores) TryDelete(store.RootDirectory);
        }
    }

    private static void TryDelete(string directory)
    {
        try
        {
            if (Directory.Exists(directory)) Directory.Delete(directory, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: a file still open elsewhere is left behind in the temp directory.
        }
        catch (UnauthorizedAccessException)
        {
            // Same.
        }
    }
}
