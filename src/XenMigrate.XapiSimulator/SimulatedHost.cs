using XenMigrate.XapiSimulator.Control;
using XenMigrate.XapiSimulator.Http;
using XenMigrate.XapiSimulator.Model;

namespace XenMigrate.XapiSimulator;

/// <summary>
/// A simulated standalone XenServer host (a one-host pool with local storage) serving the real
/// XAPI protocol on a loopback port: JSON-RPC on <c>/jsonrpc</c>, disk transfers on
/// <c>/export_raw_vdi</c> and <c>/import_raw_vdi</c>, and test controls on <c>/sim/</c>
/// (also reachable in-process through <see cref="Control"/>). Many can run in one process.
/// </summary>
public sealed class SimulatedHost : IAsyncDisposable
{
    private readonly HostRuntime _runtime;
    private readonly SimulatorServer _server;
    private readonly string _storageDirectory;
    private readonly string? _temporaryRoot;
    private bool _disposed;

    private SimulatedHost(HostRuntime runtime, SimulatorServer server, SimulatorControl control, string storageDirectory, string? temporaryRoot)
    {
        _runtime = runtime;
        _server = server;
        _storageDirectory = storageDirectory;
        _temporaryRoot = temporaryRoot;
        Control = control;
    }

    public string Name => _runtime.Options.Name;

    /// <summary>What the host was started with (memory, storage, versions).</summary>
    public SimulatedHostOptions Options => _runtime.Options;

    /// <summary>Base URL, e.g. <c>http://127.0.0.1:9401</c>; XAPI is at <c>{Url}/jsonrpc</c>.</summary>
    public string Url => $"http://127.0.0.1:{Port}";

    public int Port => _server.Port;

    public string Username => _runtime.Options.Username;

    public string Password => _runtime.Options.Password;

    /// <summary>The host's objects (read-only views; change them through XAPI or <see cref="Control"/>).</summary>
    public XapiDatabase Database => _runtime.Database;

    public SimulatorControl Control { get; }

    public FaultInjector Faults => _runtime.Faults;

    public string PoolRef => _runtime.PoolRef;

    public string HostRef => _runtime.HostRef;

    public string SrRef => _runtime.SrRef;

    public string NetworkRef => _runtime.NetworkRef;

    public string ControlDomainRef => _runtime.ControlDomainRef;

    /// <summary>Directory holding the SR's layer files.</summary>
    public string StorageDirectory => _storageDirectory;

    public static async Task<SimulatedHost> StartAsync(SimulatedHostOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrWhiteSpace(options.Name);
        ArgumentOutOfRangeException.ThrowIfNegative(options.Port);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(options.MemoryBytes, options.ControlDomainMemoryBytes);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(options.StorageBytes);
        var temporaryRoot = options.DataDirectory is null
            ? Path.Combine(Path.GetTempPath(), "xenmigrate-xapi-sim", Guid.NewGuid().ToString("N"))
            : null;
        var storageDirectory = Path.Combine(options.DataDirectory ?? temporaryRoot!, $"{options.Name}-sr-{Guid.NewGuid():N}");
        var runtime = new HostRuntime(options, storageDirectory);
        var control = new SimulatorControl(runtime);
        try
        {
            var server = await SimulatorServer.StartAsync(runtime, control, cancellationToken);
            runtime.BaseUrl = $"http://127.0.0.1:{server.Port}";
            return new SimulatedHost(runtime, server, control, storageDirectory, temporaryRoot);
        }
        catch
        {
            runtime.Dispose();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_disposed) return;
        _disposed = true;
        _runtime.Stop();
        await _server.DisposeAsync();
        // Let background tasks see the stop before their files go.
        for (var i = 0; i < 50 && _runtime.Tasks.Outstanding > 0; i++) await Task.Delay(20);
        _runtime.Dispose();
        if (_runtime.Options.DeleteDataOnDispose)
        {
            TryDelete(_storageDirectory);
            if (_temporaryRoot is not null) TryDelete(_temporaryRoot);
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
