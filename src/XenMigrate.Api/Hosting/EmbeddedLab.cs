using System.Security.Cryptography;
using System.Text;
using XenMigrate.Infrastructure.Inventory;
using XenMigrate.Infrastructure.Xapi;
using XenMigrate.XapiSimulator;
using XenMigrate.XapiSimulator.Control;

namespace XenMigrate.Api.Hosting;

/// <summary>
/// The embedded default's XenServer lab, both topologies a site runs: a pool of two hosts
/// (<c>xs-sim-1</c>, master, and <c>xs-sim-2</c>) sharing an NFS-like SR besides their local ones,
/// and a standalone host <c>xs-sim-3</c>, all on loopback, with a handful of demo VMs whose disks
/// hold real data (one with a CD, a vTPM, BIOS strings and a user snapshot). The inventory watches
/// them like configured hosts: the pool through its master. Lab state lives in memory and
/// temporary files: a restart seeds it afresh (the demo VMs keep their server ids, so the
/// database's rows and history stay attached).
/// </summary>
public sealed class EmbeddedLab : IXenServerHostSource, IAsyncDisposable
{
    public const int HostCount = 3;
    public const string PoolName = "xs-sim-pool";
    private const long MiB = 1024L * 1024;
    private const long GiB = 1024 * MiB;

    private readonly SimulatedPool _pool;
    private readonly SimulatedHost _standalone;
    private readonly string _password;

    private EmbeddedLab(SimulatedPool pool, SimulatedHost standalone, string password)
    {
        _pool = pool;
        _standalone = standalone;
        _password = password;
    }

    /// <summary>xs-sim-1, xs-sim-2 (the pool) and xs-sim-3 (standalone).</summary>
    public IReadOnlyList<SimulatedHost> Hosts => [.. _pool.Members, _standalone];

    public SimulatedPool Pool => _pool;

    /// <summary>A demo VM: where it runs, who owns it, its size (a standard flavor's), its data, whether its disk is on the pool's shared SR.</summary>
    private sealed record DemoVm(string Name, int Host, string Project, int MemoryMb, int Vcpus, int DiskGb, int DataMib, string Power,
        bool Shared = false, bool Identity = false);

    private static readonly DemoVm[] DemoVms =
    [
        new("web1", 1, "demo", 2048, 1, 20, 48, "Running", Identity: true),
        new("db1", 1, "demo", 4096, 2, 40, 64, "Running", Shared: true),
        new("web2", 2, "demo", 512, 1, 1, 24, "Running"),
        new("build1", 2, "admin", 2048, 1, 20, 32, "Halted", Shared: true),
        new("infra1", 3, "admin", 512, 1, 1, 16, "Running"),
    ];

    public static async Task<EmbeddedLab> StartAsync(CancellationToken ct)
    {
        var password = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));
        SimulatedHostOptions Host(int i) => new()
        {
            Name = $"xs-sim-{i}", Username = "root", Password = password, MemoryBytes = 16 * GiB, DeleteDataOnDispose = true,
        };

        var pool = await SimulatedPool.StartAsync(new SimulatedPoolOptions
        {
            Name = PoolName, Hosts = [Host(1), Host(2)], SharedStorageBytes = 512 * GiB, DefaultStorage = DefaultStorage.Shared,
        }, ct);
        SimulatedHost? standalone = null;
        try
        {
            standalone = await SimulatedHost.StartAsync(Host(3), ct);
            var hosts = new[] { pool.Members[0], pool.Members[1], standalone };
            foreach (var vm in DemoVms)
            {
                await hosts[vm.Host - 1].Control.SeedVmAsync(new SeedVmSpec
                {
                    Name = vm.Name,
                    MemoryBytes = vm.MemoryMb * MiB,
                    Vcpus = vm.Vcpus,
                    DiskBytes = vm.DiskGb * GiB,
                    DataBytes = vm.DataMib * MiB,
                    PowerState = vm.Power,
                    StorageRepository = vm.Shared ? pool.SharedSrRef : null,
                    CdIso = vm.Identity ? "guest-tools.iso" : null,
                    VtpmContents = vm.Identity ? Convert.ToBase64String(SHA256.HashData(Encoding.UTF8.GetBytes("vtpm:" + vm.Name))) : null,
                    BiosStrings = vm.Identity ? new Dictionary<string, string> { ["bios-vendor"] = "Xen", ["system-serial-number"] = "XM-" + vm.Name } : null,
                    Snapshots = vm.Identity ? ["before-upgrade"] : [],
                    OtherConfig = new Dictionary<string, string>
                    {
                        [InventoryKeys.ServerId] = StableServerId(vm.Name).ToString(),
                        [InventoryKeys.Project] = vm.Project,
                    },
                }, ct);
            }

            return new EmbeddedLab(pool, standalone, password);
        }
        catch
        {
            if (standalone is not null) await standalone.DisposeAsync();
            await pool.DisposeAsync();
            throw;
        }
    }

    /// <summary>Two endpoints, as an operator would configure them: the pool (by any member; here the master) and the standalone host.</summary>
    public Task<IReadOnlyList<XapiHostOptions>> GetHostsAsync(CancellationToken ct) =>
        Task.FromResult<IReadOnlyList<XapiHostOptions>>(
        [
            new XapiHostOptions { Name = PoolName, Url = _pool.Members[0].Url, Username = "root", Password = _password },
            new XapiHostOptions { Name = _standalone.Name, Url = _standalone.Url, Username = _standalone.Username, Password = _standalone.Password },
        ]);

    /// <summary>Lines for the start-up banner: each host's XAPI endpoint and login (loopback only).</summary>
    public IEnumerable<string> Describe() =>
        Hosts.Select(h => $"  {h.Name,-10} {h.Url}/jsonrpc   user {h.Username} password {h.Password}" +
                          (h.Pool.Members.Count > 1 ? $"   (pool {PoolName}{(h.IsMaster ? ", master" : "")})" : "   (standalone)"));

    public async ValueTask DisposeAsync()
    {
        await _standalone.DisposeAsync();
        await _pool.DisposeAsync();
    }

    /// <summary>The same demo VM gets the same server id on every start.</summary>
    private static Guid StableServerId(string name)
    {
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes("xenmigrate-demo-lab:" + name));
        hash[6] = (byte)((hash[6] & 0x0F) | 0x50); // version 5-style (name-based)
        hash[8] = (byte)((hash[8] & 0x3F) | 0x80);
        return new Guid(hash.AsSpan(0, 16), bigEndian: true);
    }
}
