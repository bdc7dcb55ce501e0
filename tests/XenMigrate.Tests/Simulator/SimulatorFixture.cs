using XenMigrate.XapiSimulator;

namespace XenMigrate.Tests.Simulator;

/// <summary>One simulated host per test class, on a free loopback port, with a logged-in raw client.</summary>
public abstract class SimulatorFixture
{
    public const long MiB = 1024L * 1024;
    public const long GiB = 1024 * MiB;

    protected SimulatedHost Host { get; private set; } = null!;

    protected XapiTestClient Xapi { get; private set; } = null!;

    protected virtual SimulatedHostOptions CreateOptions() => new()
    {
        Name = GetType().Name,
        MemoryBytes = 16 * GiB,
        StorageBytes = 4 * GiB,
    };

    [OneTimeSetUp]
    public async Task StartHost()
    {
        Host = await SimulatedHost.StartAsync(CreateOptions());
        Xapi = await XapiTestClient.LoginAsync(Host);
    }

    [OneTimeTearDown]
    public async Task StopHost()
    {
        Xapi?.Dispose();
        if (Host is not null) await Host.DisposeAsync();
    }

    [TearDown]
    public void ClearFaults() => Host.Faults.Clear();

    /// <summary>A VM seeded through the simulator's controls (a disk with data, a VIF), by default running.</summary>
    protected Task<XenMigrate.XapiSimulator.Control.SeededVm> SeedVmAsync(string name, string powerState = "Running", long diskBytes = 8 * MiB, long dataBytes = 3 * MiB, bool guestAgent = true, long memoryBytes = 512 * MiB) =>
        Host.Control.SeedVmAsync(new XenMigrate.XapiSimulator.Control.SeedVmSpec
        {
            Name = name,
            PowerState = powerState,
            DiskBytes = diskBytes,
            DataBytes = dataBytes,
            GuestAgent = guestAgent,
            MemoryBytes = memoryBytes,
        });

    protected static string UniqueName(string prefix) => $"{prefix}-{Guid.NewGuid():N}"[..(prefix.Length + 9)];
}
