using System.Security.Cryptography;
using System.Text;
using XenMigrate.Infrastructure.Inventory;
using XenMigrate.Infrastructure.Xapi;
using XenMigrate.XapiSimulator;
using XenMigrate.XapiSimulator.Control;

namespace XenMigrate.Api.Hosting;

/// <summary>
/// The embedded default's XenServer lab: three simulated standalone hosts on loopback, each with a
/// local SR, and a handful of demo VMs whose disks hold real data. The inventory watches them like
/// any configured host. Lab state lives in memory and temporary files: a restart seeds it afresh
/// (the demo VMs keep their server ids, so the database's rows and history stay attached).
/// </summary>
public sealed class EmbeddedLab : IXenServerHostSource, IAsyncDisposable
{
    public const int HostCount = 3;
    private const long MiB = 1024L * 1024;
    private const long GiB = 1024 * MiB;

    private readonly List<SimulatedHost> _hosts;

    private EmbeddedLab(List<SimulatedHost> hosts) => _hosts = hosts;

    public IReadOnlyList<SimulatedHost> Hosts => _hosts;

    /// <summary>A demo VM: where it runs, who owns it, its size (a standard flavor's) and how much data its disk holds.</summary>
    private sealed record DemoVm(string Name, int Host, string Project, int MemoryMb, int Vcpus, int DiskGb, int DataMib, string Power);

    private static readonly DemoVm[] DemoVms =
    [
        new("web1", 1, "demo", 2048, 1, 20, 48, "Running"),
        new("db1", 1, "demo", 4096, 2, 40, 64, "Running"),
        new("web2", 2, "demo", 512, 1, 1, 24, "Running"),
        new("build1", 2, "admin", 2048, 1, 20, 32, "Halted"),
        new("infra1", 3, "admin", 512, 1, 1, 16, "Running"),
    ];

    public static async Task<EmbeddedLab> StartAsync(CancellationToken ct)
    {
        var hosts = new List<SimulatedHost>();
        try
        {
            for (var i = 1; i <= HostCount; i++)
            {
                hosts.Add(await SimulatedHost.StartAsync(new SimulatedHostOptions
                {
                    Name = $"xs-sim-{i}",
                    Username = "root",
                    Password = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8)),
                    MemoryBytes = 16 * GiB,
                    DeleteDataOnDispose = true,
                }, ct));
            }

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
                    OtherConfig = new Dictionary<string, string>
                    {
                        [InventoryKeys.ServerId] = StableServerId(vm.Name).ToString(),
                        [InventoryKeys.Project] = vm.Project,
                    },
                }, ct);
            }

            return new EmbeddedLab(hosts);
        }
        catch
        {
            foreach (var h in hosts) await h.DisposeAsync();
            throw;
        }
    }

    public Task<IReadOnlyList<XapiHostOptions>> GetHostsAsync(CancellationToken ct) =>
        Task.FromResult<IReadOnlyList<XapiHostOptions>>(_hosts
            .Select(h => new XapiHostOptions { Name = h.Name, Url = h.Url, Username = h.Username, Password = h.Password })
            .ToList());

    /// <summary>Lines for the start-up banner: each host's XAPI endpoint and login (loopback only).</summary>
    public IEnumerable<string> Describe() =>
        _hosts.Select(h => $"  {h.Name,-10} {h.Url}/jsonrpc   user {h.Username} password {h.Password}");

    public async ValueTask DisposeAsync()
    {
        foreach (var h in _hosts) await h.DisposeAsync();
        _hosts.Clear();
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
