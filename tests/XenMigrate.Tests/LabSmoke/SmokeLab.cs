using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.RegularExpressions;
using XenMigrate.Infrastructure.Inventory;
using XenMigrate.Infrastructure.Xapi;
using XenMigrate.Infrastructure.XenServer;

namespace XenMigrate.Tests.LabSmoke;

/// <summary>
/// The hosts the lab smoke suite runs against. A user names theirs in the environment:
/// <list type="bullet">
/// <item><c>XENMIGRATE_LAB_URL</c> — any member of a pool, or a standalone host (comma-separated for several);</item>
/// <item><c>XENMIGRATE_LAB_USERNAME</c> (default root), <c>XENMIGRATE_LAB_PASSWORD</c>;</item>
/// <item><c>XENMIGRATE_LAB_THUMBPRINT</c> — the pinned certificate(s) when the hosts' are self-signed;</item>
/// <item><c>XENMIGRATE_LAB_TEMPLATE</c> — the template (image name) the suite creates its server from;</item>
/// <item><c>XENMIGRATE_LAB_MEMORY_MB</c> (default 1024) and <c>XENMIGRATE_LAB_DISK_GB</c> (default 10): the smaller flavor.</item>
/// </list>
/// With no URL named, the simulator's pool mode is started as a program of its own
/// (<c>XenMigrate.XapiSimulator --pool-members 2</c>), so our CI runs the very same suite.
/// </summary>
public sealed partial class SmokeLab : IAsyncDisposable
{
    private readonly Process? _simulator;

    private SmokeLab(IReadOnlyList<XapiHostOptions> endpoints, string template, long memoryMb, int diskGb, Process? simulator)
    {
        Endpoints = endpoints;
        Template = template;
        MemoryMb = memoryMb;
        DiskGb = diskGb;
        _simulator = simulator;
    }

    public IReadOnlyList<XapiHostOptions> Endpoints { get; }

    /// <summary>The name of the image (a template) the server is created from.</summary>
    public string Template { get; }

    public long MemoryMb { get; }

    public int DiskGb { get; }

    public bool IsSimulated => _simulator is not null;

    public static async Task<SmokeLab> StartAsync()
    {
        var memory = long.TryParse(Environment.GetEnvironmentVariable("XENMIGRATE_LAB_MEMORY_MB"), out var m) ? m : 1024;
        var disk = int.TryParse(Environment.GetEnvironmentVariable("XENMIGRATE_LAB_DISK_GB"), out var d) ? d : 10;
        var urls = Environment.GetEnvironmentVariable("XENMIGRATE_LAB_URL");
        if (!string.IsNullOrWhiteSpace(urls))
        {
            var password = Environment.GetEnvironmentVariable("XENMIGRATE_LAB_PASSWORD") ?? "";
            var user = Environment.GetEnvironmentVariable("XENMIGRATE_LAB_USERNAME") is { Length: > 0 } u ? u : "root";
            var thumbprint = Environment.GetEnvironmentVariable("XENMIGRATE_LAB_THUMBPRINT");
            var template = Environment.GetEnvironmentVariable("XENMIGRATE_LAB_TEMPLATE");
            if (string.IsNullOrWhiteSpace(template))
                Assert.Fail("XENMIGRATE_LAB_TEMPLATE must name the template (image) the smoke suite creates its server from.");
            var endpoints = urls.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select((url, i) => new XapiHostOptions { Name = $"lab-{i + 1}", Url = url, Username = user, Password = password, Thumbprint = thumbprint })
                .ToList();
            return new SmokeLab(endpoints, template!, memory, disk, simulator: null);
        }

        return await StartSimulatedPoolAsync(memory, disk);
    }

    /// <summary>Every guest VM of the lab carrying this server's id (the gateway tags the VMs it creates), wherever it runs.</summary>
    public async Task<List<XapiVm>> VmsOfServerAsync(string serverId)
    {
        var found = new List<XapiVm>();
        foreach (var endpoint in Endpoints)
        {
            await using var pool = new XapiPoolConnection(endpoint, TimeSpan.FromSeconds(30));
            var session = await pool.SessionAsync(CancellationToken.None);
            found.AddRange((await session.VmsAsync(CancellationToken.None)).Values
                .Where(v => v.IsGuest && v.OtherConfig.GetValueOrDefault(InventoryKeys.ServerId) == serverId));
        }

        return found;
    }

    private static async Task<SmokeLab> StartSimulatedPoolAsync(long memoryMb, int diskGb)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "XenMigrate.XapiSimulator.dll");
        var password = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in new[] { dll, "--port", "0", "--name", "smoke", "--pool-members", "2", "--password", password, "--memory-gib", "16" })
            start.ArgumentList.Add(arg);
        var process = Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start.");
        try
        {
            // The first line names the pool; the next the master, which is what a user would configure.
            string? master = null;
            for (var line = 0; line < 3 && master is null; line++)
            {
                var text = await process.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(30));
                if (text is null) break;
                if (text.Contains("[master]", StringComparison.Ordinal)) master = ListeningUrl().Match(text).Groups[1].Value;
            }

            if (string.IsNullOrEmpty(master)) Assert.Fail("The simulator's pool mode did not print its master's URL: " + await process.StandardError.ReadToEndAsync());
            _ = process.StandardOutput.ReadToEndAsync(); // keep its pipe drained
            var endpoint = new XapiHostOptions { Name = "smoke", Url = master!, Username = "root", Password = password };
            return new SmokeLab([endpoint], "Debian Bookworm 12", memoryMb, diskGb, process);
        }
        catch
        {
            process.Kill(entireProcessTree: true);
            process.Dispose();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_simulator is null) return;
        _simulator.Kill(entireProcessTree: true);
        await _simulator.WaitForExitAsync();
        _simulator.Dispose();
    }

    [GeneratedRegex(@"listening on (\S+)/jsonrpc")]
    private static partial Regex ListeningUrl();
}
