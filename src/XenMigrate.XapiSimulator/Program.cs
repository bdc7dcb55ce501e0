using System.Globalization;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using XenMigrate.XapiSimulator.Control;

namespace XenMigrate.XapiSimulator;

/// <summary>
/// The simulator as a program (a named class rather than top-level statements, so that projects
/// referencing this one keep their own global <c>Program</c>):
/// <c>dotnet run --project src/XenMigrate.XapiSimulator -- --port 9401 --name xs1 --data-dir /tmp/xs1
/// --username root --password secret --memory-gib 16 [--storage-gib 512] [--demo-vms 3]
/// [--pool-members 2 [--shared-storage-gib 256] [--pool-name lab]] [--verbose]</c>
/// </summary>
internal static class SimulatorProgram
{
    private const string Usage = """
        XenMigrate XAPI simulator: a standalone XenServer host speaking XAPI (on 127.0.0.1 unless --listen says otherwise).
          --port N          port to listen on (default 9401; 0 picks a free one)
          --listen ADDR     address to listen on (default 127.0.0.1; 0.0.0.0 in a container)
          --name NAME       host name (default xs-sim)
          --data-dir DIR    where the SR keeps its disk files (default: a temporary directory)
          --username USER   login user (default root)
          --password PASS   login password (default password)
          --memory-gib N    host memory in GiB (default 16)
          --storage-gib N   local SR size in GiB (default 512)
          --demo-vms N      create N running demo VMs with data on their disks (default 0)
          --login-latency-ms N  how long a login's password check takes, holding an auth slot (default 0)
          --pool-members N  start a pool of N hosts instead (NAME-1 the master, NAME-2 …), each on
                            127.0.0.K (K = 1..N) at the same port, sharing an NFS-like SR (the pool's default)
          --shared-storage-gib N  the pool's shared SR size in GiB (default 256)
          --pool-name NAME  the pool's name_label (default: NAME)
          --verbose         log HTTP requests
        """;

    public static async Task<int> Main(string[] args)
    {
        if (args.Contains("--help") || args.Contains("-h"))
        {
            Console.WriteLine(Usage);
            return 0;
        }

        CommandLine command;
        try
        {
            command = Parse(args);
        }
        catch (Exception e) when (e is ArgumentException or FormatException or OverflowException)
        {
            await Console.Error.WriteLineAsync(e.Message);
            return 2;
        }

        await using var running = await StartAsync(command);
        await SeedDemoVmsAsync(running.Master, command.DemoVms);
        running.Describe();

        var stop = new TaskCompletionSource();
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            stop.TrySetResult();
        };
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
        {
            context.Cancel = true;
            stop.TrySetResult();
        });
        await stop.Task;
        return 0;
    }

    /// <summary>What the command line asked for: one host, or a pool of <see cref="PoolMembers"/>.</summary>
    private sealed record CommandLine(SimulatedHostOptions Host, int DemoVms, int PoolMembers, long SharedStorageBytes, string? PoolName, bool ListenGiven);

    /// <summary>A started standalone host or pool, disposed as one.</summary>
    private sealed class Running(SimulatedHost? host, SimulatedPool? pool, string? poolName = null) : IAsyncDisposable
    {
        public SimulatedHost Master => host ?? pool!.Master;

        public void Describe()
        {
            var members = pool?.Members ?? [host!];
            if (pool is not null) Console.WriteLine($"XAPI simulator pool '{poolName}' of {members.Count} hosts (log in on the master; members answer HOST_IS_SLAVE):");
            foreach (var member in members)
            {
                var role = pool is null ? "" : member == pool.Master ? " [master]" : " [member]";
                Console.WriteLine($"XAPI simulator '{member.Name}'{role} listening on {member.Url}/jsonrpc (user '{member.Username}', password '{member.Password}')");
            }

            Console.WriteLine($"Disks in {Master.StorageDirectory}; controls under {Master.Url}/sim/ (GET /sim/state). Ctrl+C stops.");
        }

        public async ValueTask DisposeAsync()
        {
            if (host is not null) await host.DisposeAsync();
            if (pool is not null) await pool.DisposeAsync();
        }
    }

    private static async Task<Running> StartAsync(CommandLine command)
    {
        if (command.PoolMembers == 0) return new Running(await SimulatedHost.StartAsync(command.Host), null);

        var baseName = command.Host.Name;
        var options = new SimulatedPoolOptions
        {
            Name = command.PoolName ?? baseName,
            SharedStorageBytes = command.SharedStorageBytes,
            DefaultStorage = DefaultStorage.Shared,
            DataDirectory = command.Host.DataDirectory,
            DeleteDataOnDispose = command.Host.DeleteDataOnDispose,
        };
        for (var k = 1; k <= command.PoolMembers; k++)
        {
            var member = command.Host.Clone();
            member.Name = $"{baseName}-{k}";
            options.Hosts.Add(member);
            // Real members each have an address and all answer on one port: 127.0.0.K here.
            options.Addresses.Add(new System.Net.IPAddress([127, 0, 0, (byte)k]));
        }

        return new Running(null, await SimulatedPool.StartAsync(options), options.Name);
    }

    private static async Task SeedDemoVmsAsync(SimulatedHost host, int count)
    {
        for (var n = 1; n <= count; n++)
        {
            await host.Control.SeedVmAsync(new SeedVmSpec
            {
                Name = $"demo-vm-{n}",
                MemoryBytes = 1024 * SeedVmSpec.MiB,
                DiskBytes = 256 * SeedVmSpec.MiB,
                DataBytes = 24 * SeedVmSpec.MiB,
            });
        }
    }

    private static CommandLine Parse(string[] args)
    {
        var options = new SimulatedHostOptions { Port = 9401, DeleteDataOnDispose = true };
        var demoVms = 0;
        var poolMembers = 0;
        var sharedStorageBytes = 256 * SimulatedHostOptions.GiB;
        string? poolName = null;
        var listenGiven = false;
        for (var i = 0; i < args.Length; i++)
        {
            var option = args[i];
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{option} needs a value.");
            switch (option)
            {
                case "--port": options.Port = int.Parse(Value(), CultureInfo.InvariantCulture); break;
                case "--name": options.Name = Value(); break;
                case "--listen": options.ListenAddress = System.Net.IPAddress.Parse(Value()); listenGiven = true; break;
                case "--data-dir": options.DataDirectory = Value(); break;
                case "--username": options.Username = Value(); break;
                case "--password": options.Password = Value(); break;
                case "--memory-gib": options.MemoryBytes = (long)(double.Parse(Value(), CultureInfo.InvariantCulture) * SimulatedHostOptions.GiB); break;
                case "--storage-gib": options.StorageBytes = (long)(double.Parse(Value(), CultureInfo.InvariantCulture) * SimulatedHostOptions.GiB); break;
                case "--demo-vms": demoVms = int.Parse(Value(), CultureInfo.InvariantCulture); break;
                case "--login-latency-ms": options.LoginLatency = TimeSpan.FromMilliseconds(int.Parse(Value(), CultureInfo.InvariantCulture)); break;
                case "--pool-members": poolMembers = int.Parse(Value(), CultureInfo.InvariantCulture); break;
                case "--shared-storage-gib": sharedStorageBytes = (long)(double.Parse(Value(), CultureInfo.InvariantCulture) * SimulatedHostOptions.GiB); break;
                case "--pool-name": poolName = Value(); break;
                case "--verbose": options.ConfigureLogging = logging => logging.AddSimpleConsole().SetMinimumLevel(LogLevel.Information); break;
                default: throw new ArgumentException($"Unknown option {option} (see --help).");
            }
        }

        if (poolMembers is 1 or < 0 or > 254) throw new ArgumentException("--pool-members takes 2 to 254 hosts.");
        if (poolMembers > 0 && listenGiven) throw new ArgumentException("--pool-members listens on 127.0.0.1 … 127.0.0.N; it cannot be combined with --listen.");
        if (poolMembers > 0 && sharedStorageBytes <= 0) throw new ArgumentException("--shared-storage-gib must be positive.");
        return new CommandLine(options, demoVms, poolMembers, sharedStorageBytes, poolName, listenGiven);
    }
}
