using XenMigrate.XapiSimulator;

namespace XenMigrate.Tests.Support;

/// <summary>Simulated XenServer hosts on loopback for a test (standalone, or a pool and standalone hosts), and the gateway arguments that point at them.</summary>
public sealed class LabHosts : IAsyncDisposable
{
    private readonly List<(string Name, SimulatedHost Endpoint)> _endpoints;
    private readonly SimulatedPool? _pool;

    private LabHosts(List<SimulatedHost> hosts, List<(string Name, SimulatedHost Endpoint)>? endpoints = null, SimulatedPool? pool = null)
    {
        Hosts = hosts;
        _endpoints = endpoints ?? hosts.Select(h => (h.Name, h)).ToList();
        _pool = pool;
    }

    /// <summary>Every host: the pool's members first (when there is a pool), then the standalone ones.</summary>
    public IReadOnlyList<SimulatedHost> Hosts { get; }

    /// <summary>The pool, when the lab has one.</summary>
    public SimulatedPool Pool => _pool ?? throw new InvalidOperationException("This lab has no pool.");

    /// <summary>
    /// A pool of <paramref name="members"/> sharing an SR (its default SR) plus standalone hosts:
    /// the gateway is pointed at the pool by one member (<paramref name="configuredMember"/>) and at each standalone host.
    /// </summary>
    public static async Task<LabHosts> StartPoolAsync(string poolName, string[] members, string[] standalone, int configuredMember = 0,
        Action<SimulatedHostOptions>? configure = null, DefaultStorage defaultStorage = DefaultStorage.Shared)
    {
        SimulatedHostOptions Options(string name)
        {
            var options = new SimulatedHostOptions { Name = name, Password = "pw-" + poolName, StorageBytes = 64L << 30 };
            configure?.Invoke(options);
            return options;
        }

        var pool = await SimulatedPool.StartAsync(new SimulatedPoolOptions
        {
            Name = poolName, Hosts = members.Select(Options).ToList(), SharedStorageBytes = 64L << 30, DefaultStorage = defaultStorage,
        });
        var hosts = new List<SimulatedHost>(pool.Members);
        var endpoints = new List<(string, SimulatedHost)> { (poolName, pool.Members[configuredMember]) };
        foreach (var name in standalone)
        {
            var host = await SimulatedHost.StartAsync(Options(name));
            hosts.Add(host);
            endpoints.Add((name, host));
        }

        return new LabHosts(hosts, endpoints, pool);
    }

    public SimulatedHost this[int index] => Hosts[index];

    public static Task<LabHosts> StartAsync(params string[] names) => StartAsync(null, names);

    /// <summary>Hosts whose options a test may adjust (e.g. an older version on one of them).</summary>
    public static async Task<LabHosts> StartAsync(Action<SimulatedHostOptions>? configure, params string[] names)
    {
        var hosts = new List<SimulatedHost>();
        foreach (var name in names)
        {
            var options = new SimulatedHostOptions { Name = name, Password = "pw-" + name };
            configure?.Invoke(options);
            hosts.Add(await SimulatedHost.StartAsync(options));
        }

        return new LabHosts(hosts);
    }

    /// <summary>XenServer:Hosts configuration for a gateway, plus fast inventory timings for tests.</summary>
    public IEnumerable<string> GatewayArgs() =>
        _endpoints.SelectMany((e, i) => new[]
        {
            $"--XenServer:Hosts:{i}:Name={e.Name}", $"--XenServer:Hosts:{i}:Url={e.Endpoint.Url}",
            $"--XenServer:Hosts:{i}:Username={e.Endpoint.Username}", $"--XenServer:Hosts:{i}:Password={e.Endpoint.Password}",
        }).Concat(["--XenServer:EventTimeout=00:00:02", "--XenServer:RetryDelay=00:00:00.500", "--XenServer:VanishedGrace=00:00:02",
            "--XenServer:AdoptVms=All"]);

    public async ValueTask DisposeAsync()
    {
        foreach (var h in Hosts) await h.DisposeAsync(); // a pool member's is a no-op: the pool goes below
        if (_pool is not null) await _pool.DisposeAsync();
    }
}

public static class Eventually
{
    /// <summary>Polls until the condition holds or the time is up (the inventory works asynchronously).</summary>
    public static async Task<T> HoldsAsync<T>(Func<Task<T>> probe, Func<T, bool> condition, TimeSpan? within = null, string? what = null)
    {
        var deadline = DateTime.UtcNow + (within ?? TimeSpan.FromSeconds(15));
        T last;
        do
        {
            last = await probe();
            if (condition(last)) return last;
            await Task.Delay(100);
        }
        while (DateTime.UtcNow < deadline);

        Assert.Fail($"Condition not met in time{(what is null ? "" : ": " + what)}. Last value: {last}");
        return last;
    }
}
