using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using XenMigrate.Api.Hosting;
using XenMigrate.Infrastructure.Inventory;
using XenMigrate.Infrastructure.Persistence;
using XenMigrate.XapiSimulator;
using XenMigrate.XapiSimulator.Control;

// Downtime benchmark: a running VM is resized to another host while its guest writes a given
// amount of data during the base copy. Downtime (source halted -> destination running) is read
// from the migration record. It should follow the data written during the copy, not the disk size.
const long MiB = 1024L * 1024;
const int Repeats = 3;
var cases = new (string Name, long DataMiB, long DeltaMiB)[]
{
    ("warm-up (not reported)", 64, 1),
    ("256 MiB disk, 1 MiB written during the copy", 256, 1),
    ("1 GiB disk, 1 MiB written during the copy", 1024, 1),
    ("1 GiB disk, 16 MiB written during the copy", 1024, 16),
    ("1 GiB disk, 64 MiB written during the copy", 1024, 64),
};

var workDir = Directory.CreateTempSubdirectory("xenmigrate-bench-");
await using var source = await SimulatedHost.StartAsync(new SimulatedHostOptions { Name = "bench-a", Password = "pw" });
await using var dest = await SimulatedHost.StartAsync(new SimulatedHostOptions { Name = "bench-b", Password = "pw" });
var port = FreePort();
var args2 = new List<string>
{
    $"--urls=http://127.0.0.1:{port}", $"--contentRoot={workDir.FullName}",
    $"--Database:ConnectionString=Data Source={Path.Combine(workDir.FullName, "bench.db")}",
    "--Logging:LogLevel:Default=Warning", "--XenServer:EventTimeout=00:00:01",
    "--Identity:Users:0:Name=admin", "--Identity:Users:0:Password=bench-admin-pw",
    "--Identity:Users:0:Roles:0:Project=admin", "--Identity:Users:0:Roles:0:Role=admin",
};
foreach (var (h, i) in new[] { source, dest }.Select((h, i) => (h, i)))
    args2.AddRange([$"--XenServer:Hosts:{i}:Name={h.Name}", $"--XenServer:Hosts:{i}:Url={h.Url}", $"--XenServer:Hosts:{i}:Password={h.Password}"]);

await using var app = await Gateway.BuildAsync(args2.ToArray());
await app.StartAsync();
using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
var token = await LoginAsync(http);

Console.WriteLine($"XenMigrate downtime benchmark — {Environment.ProcessorCount} cores, {DateTime.UtcNow:yyyy-MM-dd}");
Console.WriteLine();
Console.WriteLine($"Median of {Repeats} runs per case; ratios against the 1 GiB disk with 1 MiB written.");
Console.WriteLine();
Console.WriteLine("| case | base copy (s) | downtime (ms) | downtime ratio |");
Console.WriteLine("|---|---:|---:|---:|");
var results = new List<(string Name, double BaseCopy, double Downtime)>();
var n = 0;
foreach (var (name, dataMiB, deltaMiB) in cases)
{
  var runs = new List<(double BaseCopy, double Downtime)>();
  for (var repeat = 0; repeat < (name.StartsWith("warm-up", StringComparison.Ordinal) ? 1 : Repeats); repeat++)
  {
    var vmName = $"bench-{n++}";
    await source.Control.SeedVmAsync(new SeedVmSpec
    {
        Name = vmName, MemoryBytes = 512 * MiB, Vcpus = 1, DiskBytes = 1024 * MiB, DataBytes = dataMiB * MiB,
        OtherConfig = new Dictionary<string, string> { [InventoryKeys.Project] = "admin" },
    });
    var id = await WaitForServerAsync(http, token, vmName);
    var home = await HostOfAsync(http, token, id);
    var (from, to) = home == source.Name ? (source, dest) : (dest, source);

    // Slow the base copy so the guest's writes land while it runs, then let the cut-over run at full speed.
    from.Faults.Throttle(200);
    var clock = Stopwatch.StartNew();
    await ActionAsync(http, token, id, """{"migrate":null}""");
    await WaitForAsync(http, token, id, s => s["OS-EXT-STS:task_state"]?.GetValue<string>() == "resize_migrating");
    await from.Control.FillDiskAsync(from.Control.VmDisk(vmName), 512 * MiB, deltaMiB * MiB, seed: n);
    await WaitForMigrationStatusAsync(app, id, "post-migrating", "finished", () => from.Faults.Throttle(null));
    var baseCopy = clock.Elapsed.TotalSeconds;
    await WaitForAsync(http, token, id, s => s["status"]!.GetValue<string>() == "VERIFY_RESIZE");
    var downtime = await DowntimeAsync(app, id);
    runs.Add((baseCopy, downtime));
    await ActionAsync(http, token, id, """{"confirmResize":null}""");
    await WaitForAsync(http, token, id, s => s["status"]!.GetValue<string>() == "ACTIVE");
    _ = to;
  }

  if (!name.StartsWith("warm-up", StringComparison.Ordinal))
      results.Add((name, Median(runs.Select(r => r.BaseCopy)), Median(runs.Select(r => r.Downtime))));
}

var reference = results.Single(r => r.Name.StartsWith("1 GiB disk, 1 MiB", StringComparison.Ordinal)).Downtime;
foreach (var r in results)
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {r.Name} | {r.BaseCopy:0.0} | {r.Downtime:0} | {r.Downtime / reference:0.00} |"));

await app.StopAsync();
workDir.Delete(recursive: true);
return 0;

static double Median(IEnumerable<double> values)
{
    var sorted = values.OrderBy(v => v).ToList();
    return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
}

static async Task<string> LoginAsync(HttpClient http)
{
    var body = JsonNode.Parse("""{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"admin","domain":{"name":"Default"},"password":"bench-admin-pw"}}},"scope":{"project":{"name":"admin","domain":{"name":"Default"}}}}}""");
    using var r = await http.PostAsJsonAsync("/identity/v3/auth/tokens", body);
    r.EnsureSuccessStatusCode();
    return r.Headers.GetValues("X-Subject-Token").Single();
}

static async Task<JsonNode?> GetAsync(HttpClient http, string token, string path)
{
    using var request = new HttpRequestMessage(HttpMethod.Get, path);
    request.Headers.Add("X-Auth-Token", token);
    using var r = await http.SendAsync(request);
    return JsonNode.Parse(await r.Content.ReadAsStringAsync());
}

static async Task ActionAsync(HttpClient http, string token, string id, string body)
{
    using var request = new HttpRequestMessage(HttpMethod.Post, $"/v2.1/servers/{id}/action") { Content = new StringContent(body, System.Text.Encoding.UTF8, "application/json") };
    request.Headers.Add("X-Auth-Token", token);
    using var r = await http.SendAsync(request);
    if (!r.IsSuccessStatusCode) throw new InvalidOperationException($"{body}: {(int)r.StatusCode} {await r.Content.ReadAsStringAsync()}");
}

static async Task<string> WaitForServerAsync(HttpClient http, string token, string name)
{
    for (var i = 0; i < 600; i++)
    {
        var list = (await GetAsync(http, token, "/v2.1/servers/detail?all_tenants=1"))!["servers"]!.AsArray();
        var s = list.FirstOrDefault(x => x!["name"]!.GetValue<string>() == name && x["status"]!.GetValue<string>() == "ACTIVE");
        if (s is not null) return s["id"]!.GetValue<string>();
        await Task.Delay(100);
    }

    throw new TimeoutException(name);
}

static async Task<string> HostOfAsync(HttpClient http, string token, string id) =>
    (await GetAsync(http, token, $"/v2.1/servers/{id}"))!["server"]!["OS-EXT-SRV-ATTR:host"]!.GetValue<string>();

static async Task WaitForAsync(HttpClient http, string token, string id, Func<JsonNode, bool> condition)
{
    for (var i = 0; i < 6000; i++)
    {
        var s = (await GetAsync(http, token, $"/v2.1/servers/{id}"))!["server"]!;
        if (condition(s)) return;
        await Task.Delay(50);
    }

    throw new TimeoutException(id);
}

static async Task WaitForMigrationStatusAsync(Microsoft.AspNetCore.Builder.WebApplication app, string id, string status, string orLater, Action then)
{
    var uuid = Guid.Parse(id);
    for (var i = 0; i < 60000; i++)
    {
        await using var scope = app.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<XenMigrateDbContext>();
        var checkpoint = await db.MigrationCheckpoints.AsNoTracking()
            .Join(db.Migrations.Where(m => m.InstanceUuid == uuid), c => c.MigrationId, m => m.Id, (c, m) => c)
            .OrderByDescending(c => c.MigrationId).FirstOrDefaultAsync();
        if (checkpoint?.Disks.Count > 0 && checkpoint.Disks.All(d => d.BaseCopied))
        {
            then(); // base copied: lift the throttle before the cut-over
            return;
        }

        await Task.Delay(10);
    }

    throw new TimeoutException($"{status}/{orLater}");
}

static async Task<double> DowntimeAsync(Microsoft.AspNetCore.Builder.WebApplication app, string id)
{
    await using var scope = app.Services.CreateAsyncScope();
    var db = scope.ServiceProvider.GetRequiredService<XenMigrateDbContext>();
    var uuid = Guid.Parse(id);
    return (await db.Migrations.AsNoTracking().Where(m => m.InstanceUuid == uuid).OrderByDescending(m => m.Id).FirstAsync()).DowntimeMilliseconds ?? double.NaN;
}

static int FreePort()
{
    using var l = new TcpListener(IPAddress.Loopback, 0);
    l.Start();
    return ((IPEndPoint)l.LocalEndpoint).Port;
}
