using System.Globalization;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using XenMigrate.XapiSimulator.Control;

namespace XenMigrate.XapiSimulator;

/// <summary>
/// The simulator as a program (a named class rather than top-level statements, so that projects
/// referencing this one keep their own global <c>Program</c>):
/// <c>dotnet run --project src/XenMigrate.XapiSimulator -- --port 9401 --name xs1 --data-dir /tmp/xs1
/// --username root --password secret --memory-gib 16 [--storage-gib 512] [--demo-vms 3] [--verbose]</c>
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
          --verbose         log HTTP requests
        """;

    public static async Task<int> Main(string[] args)
    {
        if (args.Contains("--help") || args.Contains("-h"))
        {
            Console.WriteLine(Usage);
            return 0;
        }

        SimulatedHostOptions options;
        int demoVms;
        try
        {
            (options, demoVms) = Parse(args);
        }
        catch (Exception e) when (e is ArgumentException or FormatException or OverflowException)
        {
            await Console.Error.WriteLineAsync(e.Message);
            return 2;
        }

        await using var host = await SimulatedHost.StartAsync(options);
        for (var n = 1; n <= demoVms; n++)
        {
            await host.Control.SeedVmAsync(new SeedVmSpec
            {
                Name = $"demo-vm-{n}",
                MemoryBytes = 1024 * SeedVmSpec.MiB,
                DiskBytes = 256 * SeedVmSpec.MiB,
                DataBytes = 24 * SeedVmSpec.MiB,
            });
        }

        Console.WriteLine($"XAPI simulator '{host.Name}' listening on {host.Url}/jsonrpc (user '{host.Username}', password '{host.Password}')");
        Console.WriteLine($"Disks in {host.StorageDirectory}; controls under {host.Url}/sim/ (GET /sim/state). Ctrl+C stops.");

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

    private static (SimulatedHostOptions Options, int DemoVms) Parse(string[] args)
    {
        var options = new SimulatedHostOptions { Port = 9401, DeleteDataOnDispose = true };
        var demoVms = 0;
        for (var i = 0; i < args.Length; i++)
        {
            var option = args[i];
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{option} needs a value.");
            switch (option)
            {
                case "--port": options.Port = int.Parse(Value(), CultureInfo.InvariantCulture); break;
                case "--name": options.Name = Value(); break;
                case "--listen": options.ListenAddress = System.Net.IPAddress.Parse(Value()); break;
                case "--data-dir": options.DataDirectory = Value(); break;
                case "--username": options.Username = Value(); break;
                case "--password": options.Password = Value(); break;
                case "--memory-gib": options.MemoryBytes = (long)(double.Parse(Value(), CultureInfo.InvariantCulture) * SimulatedHostOptions.GiB); break;
                case "--storage-gib": options.StorageBytes = (long)(double.Parse(Value(), CultureInfo.InvariantCulture) * SimulatedHostOptions.GiB); break;
                case "--demo-vms": demoVms = int.Parse(Value(), CultureInfo.InvariantCulture); break;
                case "--verbose": options.ConfigureLogging = logging => logging.AddSimpleConsole().SetMinimumLevel(LogLevel.Information); break;
                default: throw new ArgumentException($"Unknown option {option} (see --help).");
            }
        }

        return (options, demoVms);
    }
}
