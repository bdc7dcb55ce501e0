using System.Diagnostics;
using System.Globalization;
using XenMigrate.Bench.Support;
using XenMigrate.Infrastructure.Inventory;
using XenMigrate.XapiSimulator.Control;

namespace XenMigrate.Bench.Benchmarks;

/// <summary>
/// Control plane: how long the workflow itself takes when there is (almost) nothing to copy.
/// (1) POST resize → VERIFY_RESIZE on 1 MiB disks, 50 runs one after another, with the time spent
/// inside the steps (the instance action's events) and between them (job hand-over, polling).
/// (2) 100 migrations posted at once across three hosts, all awaited, against one migration alone
/// in the same run.
/// </summary>
internal static class ControlPlaneBenchmark
{
    private const long MiB = 1024L * 1024;
    private static readonly int Runs = Knobs.Int("XENMIGRATE_BENCH_RESIZE_RUNS", 50);
    private const int Concurrent = 100;

    // The client's poll (servers/detail of ~300 servers) costs CPU the migrations need: not too often.
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(250);

    public static async Task RunAsync()
    {
        await using var lab = await InProcessLab.StartAsync(3);
        Console.WriteLine("## Control plane");
        Console.WriteLine();
        await ResizeLatencyAsync(lab);
        await ConcurrentMigrationsAsync(lab);
    }

    private static async Task ResizeLatencyAsync(InProcessLab lab)
    {
        var names = Enumerable.Range(0, Runs + 2).Select(i => $"cp-{i}").ToList();
        foreach (var (name, i) in names.Select((n, i) => (n, i))) await SeedAsync(lab, lab.Hosts[i % lab.Hosts.Count], name);
        var ids = await lab.Nova.WaitForServersAsync(names, TimeSpan.FromMinutes(2));

        var totals = new List<double>();
        var inSteps = new List<double>();
        foreach (var (name, i) in names.Select((n, i) => (n, i)))
        {
            var id = ids[name];
            var clock = Stopwatch.StartNew();
            var requestId = await lab.Nova.ActionAsync(id, """{"resize":{"flavorRef":"2"}}""");
            await lab.Nova.WaitForStatusAsync(id, "VERIFY_RESIZE", TimeSpan.FromMilliseconds(10));
            var total = clock.Elapsed.TotalMilliseconds;
            var events = (await lab.Nova.GetAsync($"/v2.1/servers/{id}/os-instance-actions/{requestId}", "2.51"))["instanceAction"]!["events"]!.AsArray();
            var steps = events.Where(e => e!["finish_time"] is not null && e["start_time"] is not null)
                .Sum(e => (Time(e!["finish_time"]) - Time(e["start_time"])).TotalMilliseconds);
            await lab.Nova.ActionAsync(id, """{"confirmResize":null}""");
            await lab.Nova.WaitForStatusAsync(id, "ACTIVE", TimeSpan.FromMilliseconds(20));
            if (i < 2) continue; // warm-up
            totals.Add(total);
            inSteps.Add(steps);
        }

        var median = Stats.Median(totals);
        Console.WriteLine($"POST resize → VERIFY_RESIZE, 1 MiB disk, {Runs} runs one at a time (after 2 warm-up runs); the client polls every 10 ms:");
        Console.WriteLine();
        Console.WriteLine("| median (ms) | p95 (ms) | median inside the steps (ms) | median between the steps (ms) | median / 1 s target |");
        Console.WriteLine("|---:|---:|---:|---:|---:|");
        Console.WriteLine($"| {Stats.F(median, "0")} | {Stats.F(Stats.Percentile(totals, 95), "0")} | {Stats.F(Stats.Median(inSteps), "0")} | {Stats.F(Stats.Median(totals.Zip(inSteps, (t, s) => t - s)), "0")} | {Stats.F(median / 1000)} |");
        Console.WriteLine();
    }

    private static async Task ConcurrentMigrationsAsync(InProcessLab lab)
    {
        var names = Enumerable.Range(0, Concurrent + 1).Select(i => $"cc-{i}").ToList();
        foreach (var (name, i) in names.Select((n, i) => (n, i))) await SeedAsync(lab, lab.Hosts[i % lab.Hosts.Count], name);
        var ids = await lab.Nova.WaitForServersAsync(names, TimeSpan.FromMinutes(5));

        // Baseline: one migration alone.
        var single = Stopwatch.StartNew();
        var singleCpu = CpuMeter.Start();
        await lab.Nova.ActionAsync(ids[names[^1]], """{"migrate":null}""");
        await lab.Nova.WaitForStatusAsync(ids[names[^1]], "VERIFY_RESIZE", TimeSpan.FromMilliseconds(10));
        var alone = single.Elapsed.TotalSeconds;
        var aloneCpu = singleCpu.ProcessSeconds;

        var batch = names.Take(Concurrent).Select(n => ids[n]).ToList();
        var clock = Stopwatch.StartNew();
        var batchCpu = CpuMeter.Start();
        await Task.WhenAll(batch.Select(id => lab.Nova.ActionAsync(id, """{"migrate":null}""")));
        var posted = clock.Elapsed.TotalSeconds;
        var done = 0;
        var errors = 0;
        var lastDone = TimeSpan.Zero;
        while (clock.Elapsed < TimeSpan.FromMinutes(15))
        {
            var servers = (await lab.Nova.GetAsync("/v2.1/servers/detail?all_tenants=1&limit=1000"))["servers"]!.AsArray()
                .Where(s => batch.Contains(s!["id"]!.GetValue<string>())).ToList();
            done = servers.Count(s => NovaClient.Status(s!) == "VERIFY_RESIZE");
            errors = servers.Count(s => NovaClient.Status(s!) == "ERROR");
            lastDone = clock.Elapsed;
            if (done + errors == Concurrent) break;
            await Task.Delay(PollInterval);
        }

        var (cpuPerMigration, cores, machine) = (batchCpu.ProcessSeconds / Concurrent, batchCpu.ProcessCores, batchCpu.MachineBusy);

        Console.WriteLine($"{Concurrent} cold migrations (1 MiB disks) posted at once across 3 hosts; baseline: one migration alone in the same run:");
        Console.WriteLine();
        Console.WriteLine("| finished | error | all posted (s) | all finished (s) | one alone (s) | total / one alone | migrations per second |");
        Console.WriteLine("|---:|---:|---:|---:|---:|---:|---:|");
        Console.WriteLine($"| {done} | {errors} | {Stats.F(posted, "0.0")} | {Stats.F(lastDone.TotalSeconds, "0.0")} | {Stats.F(alone)} | {Stats.F(lastDone.TotalSeconds / alone, "0.0")} | {Stats.F(Concurrent / lastDone.TotalSeconds, "0.0")} |");
        Console.WriteLine();
        Console.WriteLine("Where the time went: CPU of the bench's process (hosts, gateway, workers and client), per migration, and how busy the cores were:");
        Console.WriteLine();
        Console.WriteLine("| CPU, one alone (s) | CPU per migration, 100 at once (s) | cores this process kept busy | machine's cores busy (all processes) |");
        Console.WriteLine("|---:|---:|---:|---:|");
        Console.WriteLine($"| {Stats.F(aloneCpu)} | {Stats.F(cpuPerMigration)} | {Stats.F(cores)} of {Environment.ProcessorCount} | {Stats.F(100 * machine, "0")} % |");
        Console.WriteLine();
    }

    private static Task SeedAsync(InProcessLab lab, XenMigrate.XapiSimulator.SimulatedHost host, string name) =>
        host.Control.SeedVmAsync(new SeedVmSpec
        {
            Name = name, MemoryBytes = 512 * MiB, Vcpus = 1, DiskBytes = MiB, DataBytes = MiB,
            OtherConfig = new Dictionary<string, string> { [InventoryKeys.Project] = "admin" },
        });

    private static DateTime Time(System.Text.Json.Nodes.JsonNode? node) => DateTime.Parse(node!.GetValue<string>(), CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal);
}
