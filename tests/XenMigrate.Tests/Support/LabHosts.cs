using XenMigrate.XapiSimulator;

namespace XenMigrate.Tests.Support;

/// <summary>Simulated XenServer hosts on loopback for a test, and the gateway arguments that point at them.</summary>
public sealed class LabHosts : IAsyncDisposable
{
    private LabHosts(List<SimulatedHost> hosts) => Hosts = hosts;

    public IReadOnlyList<SimulatedHost> Hosts { get; }

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
        Hosts.SelectMany((h, i) => new[]
        {
            $"--XenServer:Hosts:{i}:Name={h.Name}", $"--XenServer:Hosts:{i}:Url={h.Url}",
            $"--XenServer:Hosts:{i}:Username={h.Username}", $"--XenServer:Hosts:{i}:Password={h.Password}",
        }).Concat(["--XenServer:EventTimeout=00:00:02", "--XenServer:RetryDelay=00:00:00.500", "--XenServer:VanishedGrace=00:00:02",
            "--XenServer:AdoptVms=All"]);

    public async ValueTask DisposeAsync()
    {
        foreach (var h in Hosts) await h.DisposeAsync();
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
