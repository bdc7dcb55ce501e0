using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using XenMigrate.Api.Hosting;
using XenMigrate.Infrastructure.Inventory;
using XenMigrate.XapiSimulator;

namespace XenMigrate.Bench.Support;

/// <summary>A simulated XenServer host, in this process or its own.</summary>
internal sealed record HostInfo(string Name, string Url, string Password);

/// <summary>The gateway configuration every benchmark shares: SQLite in the work folder, the given hosts, one admin.</summary>
internal static class GatewayArgs
{
    public static List<string> For(int port, string workDir, string dbName, IEnumerable<HostInfo> hosts, IEnumerable<string>? extra = null)
    {
        var args = new List<string>
        {
            $"--urls=http://127.0.0.1:{port}", $"--contentRoot={workDir}",
            $"--Database:ConnectionString=Data Source={Path.Combine(workDir, dbName + ".db")}", "--Database:MigrateOnStartup=true",
            "--Logging:LogLevel:Default=Warning", "--XenServer:EmbeddedLab=false", "--XenServer:EventTimeout=00:00:01",
            // One project holds every benchmark VM (up to ~150): Nova's default quotas would refuse its resizes.
            "--Quota:Instances=-1", "--Quota:Cores=-1", "--Quota:Ram=-1", "--XenServer:AdoptVms=All",
        };
        args.AddRange(NovaClient.UserArgs());
        foreach (var (h, i) in hosts.Select((h, i) => (h, i)))
            args.AddRange([$"--XenServer:Hosts:{i}:Name={h.Name}", $"--XenServer:Hosts:{i}:Url={h.Url}", $"--XenServer:Hosts:{i}:Password={h.Password}"]);
        if (extra is not null) args.AddRange(extra);
        return args;
    }
}

/// <summary>
/// Simulated hosts and the gateway as separate processes (transfer and API benchmarks): each has
/// its own memory and its own threads, as in production, and the gateway's peak RSS is its own.
/// </summary>
internal sealed class ProcessLab : IAsyncDisposable
{
    private readonly List<ChildProcess> _processes = [];
    private readonly HttpClient _sim = new() { Timeout = TimeSpan.FromMinutes(10) };

    public ProcessLab() => WorkDir = Directory.CreateTempSubdirectory("xenmigrate-bench-").FullName;

    public string WorkDir { get; }

    public async Task<HostInfo> StartSimulatorAsync(string name)
    {
        var port = Ports.Free();
        var url = $"http://127.0.0.1:{port}";
        var process = await ChildProcess.StartAsync("XenMigrate.XapiSimulator.dll",
            ["--port", $"{port}", "--name", name, "--password", "pw", "--memory-gib", "4096", "--storage-gib", "1024", "--data-dir", Path.Combine(WorkDir, name)],
            url, "/sim/state", WorkDir, name);
        _processes.Add(process);
        return new HostInfo(name, url, "pw");
    }

    public async Task<ChildProcess> StartGatewayAsync(string name, IEnumerable<HostInfo> hosts, IEnumerable<string>? extra = null)
    {
        var port = Ports.Free();
        var process = await ChildProcess.StartAsync("XenMigrate.Api.dll", GatewayArgs.For(port, WorkDir, name, hosts, extra),
            $"http://127.0.0.1:{port}", "/healthz", WorkDir, name);
        _processes.Add(process);
        return process;
    }

    public async Task StopAsync(ChildProcess process)
    {
        _processes.Remove(process);
        await process.DisposeAsync();
    }

    /// <summary>Seeds a running VM of project admin through the simulator's control endpoint.</summary>
    public async Task SeedVmAsync(HostInfo host, string name, long diskBytes, long dataBytes, long memoryBytes = 256L << 20)
    {
        var spec = new JsonObject
        {
            ["name"] = name, ["memoryBytes"] = memoryBytes, ["vcpus"] = 1, ["diskBytes"] = diskBytes, ["dataBytes"] = dataBytes,
            ["otherConfig"] = new JsonObject { [InventoryKeys.Project] = "admin" },
        };
        using var response = await _sim.PostAsJsonAsync($"{host.Url}/sim/vms", spec);
        if (!response.IsSuccessStatusCode) throw new InvalidOperationException($"Seeding {name}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var process in _processes) await process.DisposeAsync();
        _sim.Dispose();
        try
        {
            Directory.Delete(WorkDir, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: a temporary folder.
        }
    }
}

/// <summary>
/// Simulated hosts and the gateway in this process (downtime and control-plane benchmarks): the
/// benchmark can throttle a host and read the migration records the workflow writes.
/// </summary>
internal sealed class InProcessLab : IAsyncDisposable
{
    private readonly DirectoryInfo _workDir;

    private InProcessLab(DirectoryInfo workDir, List<SimulatedHost> hosts, WebApplication app, NovaClient nova)
    {
        _workDir = workDir;
        Hosts = hosts;
        App = app;
        Nova = nova;
    }

    public IReadOnlyList<SimulatedHost> Hosts { get; }

    public WebApplication App { get; }

    public NovaClient Nova { get; }

    public SimulatedHost Host(string name) => Hosts.Single(h => h.Name == name);

    public static async Task<InProcessLab> StartAsync(int hostCount, IEnumerable<string>? extra = null)
    {
        var workDir = Directory.CreateTempSubdirectory("xenmigrate-bench-");
        var hosts = new List<SimulatedHost>();
        for (var i = 0; i < hostCount; i++)
        {
            hosts.Add(await SimulatedHost.StartAsync(new SimulatedHostOptions
            {
                Name = $"bench-{(char)('a' + i)}", Password = "pw", MemoryBytes = 4096 * SimulatedHostOptions.GiB,
                StorageBytes = 1024 * SimulatedHostOptions.GiB,
            }));
        }

        var port = Ports.Free();
        var args = GatewayArgs.For(port, workDir.FullName, "bench", hosts.Select(h => new HostInfo(h.Name, h.Url, h.Password)), extra);
        var app = await Gateway.BuildAsync(args.ToArray());
        await app.StartAsync();
        return new InProcessLab(workDir, hosts, app, await NovaClient.LoginAsync($"http://127.0.0.1:{port}"));
    }

    public async ValueTask DisposeAsync()
    {
        Nova.Dispose();
        await App.StopAsync();
        await App.DisposeAsync();
        foreach (var host in Hosts) await host.DisposeAsync();
        _workDir.Delete(recursive: true);
    }
}
