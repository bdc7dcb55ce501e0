using System.Diagnostics;
using System.Text.Json.Nodes;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using XenMigrate.Bench.Support;
using XenMigrate.Infrastructure.Inventory;
using XenMigrate.Infrastructure.Persistence;
using XenMigrate.Infrastructure.Transfer;
using XenMigrate.Infrastructure.Xapi;
using XenMigrate.XapiSimulator;
using XenMigrate.XapiSimulator.Control;

namespace XenMigrate.Bench.Benchmarks;

/// <summary>
/// Downtime: a running VM with a fully written 2 GiB disk is cold-migrated while its guest writes
/// 1 %, 5 % or 20 % of the disk's blocks during the base copy. Downtime (source halted →
/// destination running) is what the workflow records on the migration. Baseline, in each run: a
/// single-pass cold copy of the same disk (the whole disk through the same VdiTransfer at full
/// speed), which is what a VM would be down for without the base copy.
/// </summary>
internal static class DowntimeBenchmark
{
    private const long MiB = 1024L * 1024;
    private const long DiskBytes = 2048 * MiB;
    private const int Repeats = 3;

    public static async Task RunAsync()
    {
        await using var lab = await InProcessLab.StartAsync(2);
        Console.WriteLine("## Downtime");
        Console.WriteLine();
        Console.WriteLine($"2 GiB disk, fully written; median of {Repeats} runs per case after a warm-up; baseline: a single-pass cold copy of the same disk in the same run.");
        Console.WriteLine();
        Console.WriteLine("| blocks written during the base copy | base copy (s) | downtime (ms) | cold copy (ms) | downtime / cold copy |");
        Console.WriteLine("|---|---:|---:|---:|---:|");
        var n = 0;
        foreach (var percent in new[] { 0.0, 1, 5, 20 })
        {
            var runs = new List<(double BaseCopy, double Downtime, double ColdCopy)>();
            var warmUp = percent == 0;
            for (var repeat = 0; repeat < (warmUp ? 1 : Repeats); repeat++)
                runs.Add(await RunOnceAsync(lab, $"down-{n++}", warmUp ? 64 * MiB : DiskBytes, warmUp ? 1 : percent));
            if (warmUp) continue;
            var baseCopy = Stats.Median(runs.Select(r => r.BaseCopy));
            var downtime = Stats.Median(runs.Select(r => r.Downtime));
            var cold = Stats.Median(runs.Select(r => r.ColdCopy));
            var ratio = Stats.Median(runs.Select(r => r.Downtime / r.ColdCopy));
            var blocks = Blocks(DiskBytes, percent).Count;
            Console.WriteLine($"| {Stats.F(percent, "0")} % ({blocks} of {DiskBytes / (2 * MiB)}) | {Stats.F(baseCopy, "0.0")} | {Stats.F(downtime, "0")} | {Stats.F(cold, "0")} | {Stats.F(ratio * 100, "0.0")} % |");
        }

        Console.WriteLine();
        Console.WriteLine("Downtime / cold copy: median of the per-run ratios (≤ 5 % wanted at 1 %). The base copy is throttled to 400 MB/s so the writes land while it runs; the throttle is lifted before the cut-over.");
        Console.WriteLine();
    }

    private static async Task<(double BaseCopy, double Downtime, double ColdCopy)> RunOnceAsync(InProcessLab lab, string vmName, long diskBytes, double percent)
    {
        var seedHost = lab.Hosts[0];
        await seedHost.Control.SeedVmAsync(new SeedVmSpec
        {
            Name = vmName, MemoryBytes = 512 * MiB, Vcpus = 1, DiskBytes = diskBytes, DataBytes = diskBytes,
            OtherConfig = new Dictionary<string, string> { [InventoryKeys.Project] = "admin" },
        });
        var id = await lab.Nova.WaitForServerAsync(vmName);
        var from = lab.Host(await lab.Nova.HostOfAsync(id));
        var to = lab.Hosts.First(h => h != from);
        var coldCopy = await ColdCopyAsync(from, to, vmName);

        from.Faults.Throttle(400);
        var clock = Stopwatch.StartNew();
        await lab.Nova.ActionAsync(id, """{"migrate":null}""");
        await lab.Nova.WaitForAsync(id, s => s["OS-EXT-STS:task_state"]?.GetValue<string>() == "resize_migrating", TimeSpan.FromMilliseconds(20));
        var disk = from.Control.VmDisk(vmName);
        var data = new byte[4096];
        foreach (var block in Blocks(diskBytes, percent))
        {
            Random.Shared.NextBytes(data);
            from.Control.WriteDisk(disk, block * 2 * MiB, data); // one page dirties the whole 2 MiB block
        }

        await WhenBaseCopiedAsync(lab, id);
        from.Faults.Throttle(null);
        var baseCopy = clock.Elapsed.TotalSeconds;
        await lab.Nova.WaitForStatusAsync(id, "VERIFY_RESIZE");
        var downtime = await DowntimeAsync(lab, id);
        await lab.Nova.ActionAsync(id, """{"confirmResize":null}""");
        await lab.Nova.WaitForStatusAsync(id, "ACTIVE");
        return (baseCopy, downtime, coldCopy);
    }

    /// <summary>Evenly spread block indexes: <paramref name="percent"/> % of the disk's 2 MiB blocks.</summary>
    private static List<long> Blocks(long diskBytes, double percent)
    {
        var total = diskBytes / (2 * MiB);
        var count = Math.Max(1, (long)Math.Round(total * percent / 100));
        return Enumerable.Range(0, (int)count).Select(i => i * total / count).ToList();
    }

    /// <summary>The baseline: the whole disk copied once to a new VDI on the other host, at full speed; the copy is destroyed after.</summary>
    private static async Task<double> ColdCopyAsync(SimulatedHost from, SimulatedHost to, string vmName)
    {
        var ct = CancellationToken.None;
        await using var source = await XapiSession.OpenAsync(new XapiHostOptions { Name = from.Name, Url = from.Url, Password = from.Password }, TimeSpan.FromMinutes(1), ct);
        await using var dest = await XapiSession.OpenAsync(new XapiHostOptions { Name = to.Name, Url = to.Url, Password = to.Password }, TimeSpan.FromMinutes(1), ct);
        var vdi = from.Control.VmDisk(vmName);
        var size = long.Parse((await source.CallAsync("VDI.get_virtual_size", ct, vdi))!.ToString(), System.Globalization.CultureInfo.InvariantCulture);
        var pool = (await dest.CallAsync("pool.get_all", ct))!.AsArray().Single()!.GetValue<string>();
        var target = await dest.CallForStringAsync("VDI.create", ct, new JsonObject
        {
            ["name_label"] = "bench cold copy", ["name_description"] = "", ["SR"] = await dest.CallForStringAsync("pool.get_default_SR", ct, pool),
            ["virtual_size"] = size, ["type"] = "user", ["sharable"] = false, ["read_only"] = false, ["xenstore_data"] = new JsonObject(),
            ["sm_config"] = new JsonObject(), ["tags"] = new JsonArray(), ["other_config"] = new JsonObject(),
        });
        using var transfer = new VdiTransfer();
        var clock = Stopwatch.StartNew();
        await transfer.CopyAsync(source, vdi, null, dest, target, null, ct);
        var elapsed = clock.Elapsed.TotalMilliseconds;
        await dest.CallAsync("VDI.destroy", ct, target);
        return elapsed;
    }

    private static async Task WhenBaseCopiedAsync(InProcessLab lab, string id)
    {
        var uuid = Guid.Parse(id);
        for (var i = 0; i < 60000; i++)
        {
            await using var scope = lab.App.Services.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<XenMigrateDbContext>();
            var checkpoint = await db.MigrationCheckpoints.AsNoTracking()
                .Join(db.Migrations.Where(m => m.InstanceUuid == uuid), c => c.MigrationId, m => m.Id, (c, m) => c)
                .OrderByDescending(c => c.MigrationId).FirstOrDefaultAsync();
            if (checkpoint?.Disks.Count > 0 && checkpoint.Disks.All(d => d.BaseCopied)) return;
            await Task.Delay(10);
        }

        throw new TimeoutException($"The base copy of {id} did not finish.");
    }

    private static async Task<double> DowntimeAsync(InProcessLab lab, string id)
    {
        await using var scope = lab.App.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<XenMigrateDbContext>();
        var uuid = Guid.Parse(id);
        return (await db.Migrations.AsNoTracking().Where(m => m.InstanceUuid == uuid).OrderByDescending(m => m.Id).FirstAsync()).DowntimeMilliseconds ?? double.NaN;
    }
}
