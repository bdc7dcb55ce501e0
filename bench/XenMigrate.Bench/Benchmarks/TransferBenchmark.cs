using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using XenMigrate.Bench.Support;
using XenMigrate.Infrastructure.Transfer;
using XenMigrate.Infrastructure.Xapi;

namespace XenMigrate.Bench.Benchmarks;

/// <summary>
/// Transfer: a fully written disk migrated between two simulator processes by the gateway (its own
/// process), against <c>curl | curl</c> piping the same disk's export into an import on the same
/// destination with the same Content-Length. Rounds alternate direction (the VM comes back), and
/// each round runs the baseline right before the migration, so both see the same machine load.
/// </summary>
internal static partial class TransferBenchmark
{
    private const long GiB = 1024L * 1024 * 1024;
    private static readonly int Rounds = Knobs.Int("XENMIGRATE_BENCH_ROUNDS", 3);

    public static async Task RunAsync()
    {
        Console.WriteLine("## Transfer");
        Console.WriteLine();
        Console.WriteLine($"Fully written disk, {Rounds} rounds per size (baseline then migration in each); medians.");
        Console.WriteLine();
        Console.WriteLine("| disk | stream (MiB) | curl→curl (MiB/s) | gateway copy (MiB/s) | throughput ratio | whole migration (s) | gateway RSS idle (MiB) | peak RSS after a 64 MiB warm-up migration (MiB) | peak RSS after the copies (MiB) | of which anonymous, warm-up → copies (MiB) |");
        Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");

        await using var lab = new ProcessLab();
        var a = await lab.StartSimulatorAsync("xfer-a");
        var b = await lab.StartSimulatorAsync("xfer-b");
        foreach (var size in Knobs.Longs("XENMIGRATE_BENCH_SIZES_GIB", [1, 4]))
        {
            var vmName = $"xfer-{size}g";
            await lab.SeedVmAsync(a, vmName, size * GiB, size * GiB);
            await lab.SeedVmAsync(a, $"{vmName}-warm-up", 64L << 20, 64L << 20);
            // A fresh gateway per size: its peak RSS is that size's alone.
            var gateway = await lab.StartGatewayAsync($"gateway-{size}g", [a, b],
            [
                "--Logging:LogLevel:XenMigrate.Infrastructure.Transfer=Information", "--Logging:Console:FormatterName=simple",
                "--Logging:Console:FormatterOptions:SingleLine=true", "--Logging:Console:FormatterOptions:UseUtcTimestamp=true",
                "--Logging:Console:FormatterOptions:TimestampFormat=HH:mm:ss.fff ",
            ]);
            using var nova = await NovaClient.LoginAsync(gateway.BaseUrl);
            var id = await nova.WaitForServerAsync(vmName);
            await Task.Delay(1000); // let start-up settle before reading the idle RSS
            var idleRss = gateway.RssBytes;
            // One small migration first, so every code path has run once (JIT, EF models, Hangfire
            // server): what the big copies add on top of that is what the copy itself costs.
            var warmUp = await nova.WaitForServerAsync($"{vmName}-warm-up");
            await nova.ActionAsync(warmUp, """{"migrate":null}""");
            await nova.WaitForStatusAsync(warmUp, "VERIFY_RESIZE", TimeSpan.FromMilliseconds(200));
            await nova.ActionAsync(warmUp, """{"confirmResize":null}""");
            await nova.WaitForStatusAsync(warmUp, "ACTIVE", TimeSpan.FromMilliseconds(200));
            var warmPeak = gateway.PeakRssBytes;
            var warmAnon = gateway.PeakAnonymousBytes;

            var baseline = new List<double>();
            var copies = new List<double>();
            var migrations = new List<double>();
            long stream = 0;
            for (var round = 0; round < Rounds; round++)
            {
                var from = await nova.HostOfAsync(id) == a.Name ? a : b;
                var to = from == a ? b : a;
                var (length, curlSeconds) = await CurlCopyAsync(from, to, vmName);
                stream = length;
                baseline.Add(curlSeconds);

                var logBefore = gateway.ReadLog().Length;
                var clock = Stopwatch.StartNew();
                await nova.ActionAsync(id, """{"migrate":null}""");
                await nova.WaitForStatusAsync(id, "VERIFY_RESIZE", TimeSpan.FromMilliseconds(200));
                migrations.Add(clock.Elapsed.TotalSeconds);
                var (bytes, seconds) = BaseCopy(gateway.ReadLog()[logBefore..]);
                if (bytes != length) throw new InvalidOperationException($"The gateway copied {bytes} bytes, the baseline {length}.");
                copies.Add(seconds);
                await nova.ActionAsync(id, """{"confirmResize":null}""");
                await nova.WaitForStatusAsync(id, "ACTIVE", TimeSpan.FromMilliseconds(200));
            }

            var peak = gateway.PeakRssBytes;
            var peakAnon = gateway.PeakAnonymousBytes;
            await lab.StopAsync(gateway);
            var mib = stream / 1024.0 / 1024.0;
            var ratio = Stats.Median(baseline.Zip(copies, (curl, ours) => curl / ours));
            Console.WriteLine($"| {size} GiB | {Stats.F(mib, "0")} | {Stats.F(mib / Stats.Median(baseline), "0")} | {Stats.F(mib / Stats.Median(copies), "0")} | {Stats.F(ratio)} | {Stats.F(Stats.Median(migrations), "0.0")} | {Stats.MiB(idleRss)} | {Stats.MiB(warmPeak)} | {Stats.MiB(peak)} | {Stats.MiB(warmAnon)} → {Stats.MiB(peakAnon)} |");
        }

        Console.WriteLine();
        Console.WriteLine("Peak RSS: the kernel's VmHWM of the gateway process (a fresh one per size). Anonymous: RssAnon sampled every 20 ms (heap, stacks; VmHWM also counts mapped runtime files and shared code pages).");
        Console.WriteLine("Throughput ratio: median over rounds of curl→curl time / gateway copy time for the same bytes (≥ 0.95 wanted). " +
                          "Gateway copy: VdiTransfer's own start and end log lines (tasks created → both hosts' tasks finished).");
        Console.WriteLine();
    }

    /// <summary>
    /// The baseline: the VM's disk exported from <paramref name="from"/> with curl, piped into a second
    /// curl importing it into a new VDI on <paramref name="to"/>, with the Content-Length the VHD
    /// stream will have (read off its header first, as any importer must). The new VDI is destroyed after.
    /// </summary>
    private static async Task<(long Length, double Seconds)> CurlCopyAsync(HostInfo from, HostInfo to, string vmName)
    {
        var ct = CancellationToken.None;
        await using var source = await XapiSession.OpenAsync(new XapiHostOptions { Name = from.Name, Url = from.Url, Password = from.Password }, TimeSpan.FromMinutes(1), ct);
        await using var dest = await XapiSession.OpenAsync(new XapiHostOptions { Name = to.Name, Url = to.Url, Password = to.Password }, TimeSpan.FromMinutes(1), ct);
        var vm = ((await source.CallAsync("VM.get_by_name_label", ct, vmName))!.AsArray()).Single()!.GetValue<string>();
        var vbd = ((await source.CallAsync("VM.get_VBDs", ct, vm))!.AsArray()).Single()!.GetValue<string>();
        var vdi = await source.CallForStringAsync("VBD.get_VDI", ct, vbd);
        var size = long.Parse((await source.CallAsync("VDI.get_virtual_size", ct, vdi))!.ToString(), CultureInfo.InvariantCulture);
        var pool = ((await dest.CallAsync("pool.get_all", ct))!.AsArray()).Single()!.GetValue<string>();
        var sr = await dest.CallForStringAsync("pool.get_default_SR", ct, pool);
        var target = await dest.CallForStringAsync("VDI.create", ct, new JsonObject
        {
            ["name_label"] = "bench baseline", ["name_description"] = "", ["SR"] = sr, ["virtual_size"] = size, ["type"] = "user",
            ["sharable"] = false, ["read_only"] = false, ["xenstore_data"] = new JsonObject(), ["sm_config"] = new JsonObject(),
            ["tags"] = new JsonArray(), ["other_config"] = new JsonObject(),
        });
        var export = $"{from.Url}/export_raw_vdi?session_id={Uri.EscapeDataString(source.SessionRef)}&vdi={Uri.EscapeDataString(vdi)}&format=vhd";
        var import = $"{to.Url}/import_raw_vdi?session_id={Uri.EscapeDataString(dest.SessionRef)}&vdi={Uri.EscapeDataString(target)}&format=vhd";

        long length;
        using (var http = new HttpClient())
        using (var response = await http.GetAsync(export, HttpCompletionOption.ResponseHeadersRead))
        await using (var body = await response.Content.ReadAsStreamAsync())
            length = (await VhdStreamPrefix.ReadAsync(body, ct)).StreamLength;

        var curl = new ProcessStartInfo("bash") { UseShellExecute = false, RedirectStandardError = true };
        foreach (var arg in new[]
                 {
                     "-c", """set -o pipefail; curl -sS --fail "$1" | curl -sS --fail -T - -H "Content-Length: $3" -H "Transfer-Encoding:" -H "Expect:" -o /dev/null "$2" """,
                     "bench", export, import, length.ToString(CultureInfo.InvariantCulture),
                 })
            curl.ArgumentList.Add(arg);
        var clock = Stopwatch.StartNew();
        using var process = Process.Start(curl)!;
        var errors = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        var seconds = clock.Elapsed.TotalSeconds;
        if (process.ExitCode != 0) throw new InvalidOperationException($"curl | curl failed ({process.ExitCode}): {errors}");
        await dest.CallAsync("VDI.destroy", ct, target);
        return (length, seconds);
    }

    /// <summary>The largest copy in this log excerpt (the base copy; the delta is a few blocks): its bytes and seconds.</summary>
    private static (long Bytes, double Seconds) BaseCopy(string log)
    {
        var starts = new Dictionary<string, TimeSpan>(StringComparer.Ordinal);
        (long Bytes, double Seconds) best = (-1, 0);
        foreach (var line in log.Split('\n'))
        {
            if (StartLine().Match(line) is { Success: true } s) starts[s.Groups["vdi"].Value] = Time(s);
            else if (EndLine().Match(line) is { Success: true } e && starts.TryGetValue(e.Groups["vdi"].Value, out var start))
            {
                var bytes = long.Parse(e.Groups["bytes"].Value, CultureInfo.InvariantCulture);
                if (bytes > best.Bytes) best = (bytes, (Time(e) - start).TotalSeconds);
            }
        }

        return best.Bytes >= 0 ? best : throw new InvalidOperationException("No copy in the gateway's log.");
    }

    private static TimeSpan Time(Match m) => TimeSpan.ParseExact(m.Groups["time"].Value, @"hh\:mm\:ss\.fff", CultureInfo.InvariantCulture);

    [GeneratedRegex(@"^(?<time>\d\d:\d\d:\d\d\.\d{3}) .*Copying VDI (?<vdi>\S+) from ")]
    private static partial Regex StartLine();

    [GeneratedRegex(@"^(?<time>\d\d:\d\d:\d\d\.\d{3}) .*Copied VDI (?<vdi>\S+) to \S+: (?<bytes>\d+) bytes")]
    private static partial Regex EndLine();
}
