using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using XenMigrate.Bench.Support;

namespace XenMigrate.Bench.Benchmarks;

/// <summary>
/// API: requests per second and p99 of <c>GET /v2.1/servers/{id}</c> and <c>GET /v2.1/servers/detail</c>
/// (100 servers) under wrk, against <c>GET /bench/static-json</c> in the same gateway process (mapped
/// only with <c>Bench:StaticEndpoint=true</c>; it goes through the same middleware, asked without a
/// token, so it costs neither token check nor database). The endpoints take turns, several rounds, so each sees the same machine load.
/// </summary>
internal static partial class ApiBenchmark
{
    private const int Servers = 100;
    private const int Connections = 16;
    private static readonly int Rounds = Knobs.Int("XENMIGRATE_BENCH_API_ROUNDS", 3);
    private static readonly int Seconds = Knobs.Int("XENMIGRATE_BENCH_API_SECONDS", 8);
    private const string StaticPath = "/bench/static-json";
    private const string StaticBehindToken = "static JSON behind a token";

    public static async Task RunAsync()
    {
        Console.WriteLine("## API");
        Console.WriteLine();
        if (!File.Exists("/usr/bin/wrk")) throw new InvalidOperationException("wrk is needed (Debian: apt-get install wrk).");
        await using var lab = new ProcessLab();
        var host = await lab.StartSimulatorAsync("api-a");
        var names = Enumerable.Range(0, Servers).Select(i => $"api-{i:000}").ToList();
        foreach (var name in names) await lab.SeedVmAsync(host, name, 1L << 20, 1L << 20);
        // Rate limiting off: the load comes from one client, which the product would (rightly) throttle.
        var gateway = await lab.StartGatewayAsync("gateway-api", [host], ["--Bench:StaticEndpoint=true", "--RateLimit:Enabled=false"]);
        using var nova = await NovaClient.LoginAsync(gateway.BaseUrl);
        var ids = await nova.WaitForServersAsync(names, TimeSpan.FromMinutes(2));
        var oneId = ids[names[0]];

        // The static body asked with a token too: what the token check alone costs.
        var targets = new (string Name, string Path)[]
        {
            ("static JSON (baseline)", StaticPath),
            (StaticBehindToken, StaticPath),
            ("static JSON (baseline)", StaticPath),
            ("GET /v2.1/servers/{id}", $"/v2.1/servers/{oneId}"),
            ("static JSON (baseline)", StaticPath),
            ("GET /v2.1/servers/detail (100 servers)", "/v2.1/servers/detail"),
        };
        var sizes = new Dictionary<string, long>();
        foreach (var (name, path) in targets)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, path);
            request.Headers.Add("X-Auth-Token", nova.Token);
            using var response = await nova.Http.SendAsync(request);
            response.EnsureSuccessStatusCode();
            sizes[name] = (await response.Content.ReadAsByteArrayAsync()).Length;
        }

        foreach (var (_, path) in targets) await RunWrkAsync(gateway.BaseUrl + path, nova.Token, 2); // warm-up
        var results = targets.Select(t => t.Name).Distinct().ToDictionary(n => n, _ => new List<(double Rps, double P99)>());
        var ratios = new Dictionary<string, List<double>>();
        for (var round = 0; round < Rounds; round++)
        {
            (double Rps, double P99) baseline = default;
            foreach (var (name, path) in targets)
            {
                // The baseline is anonymous: a token would make it pay for the token check the Nova routes are measured for.
                var isBaseline = path == StaticPath && name != StaticBehindToken;
                var r = await RunWrkAsync(gateway.BaseUrl + path, isBaseline ? null : nova.Token, Seconds);
                results[name].Add(r);
                if (isBaseline) baseline = r;
                else (ratios.TryGetValue(name, out var list) ? list : ratios[name] = []).Add(r.Rps / baseline.Rps);
            }
        }

        Console.WriteLine($"wrk, 1 thread, {Connections} connections, {Seconds} s per measurement, {Rounds} rounds, each endpoint measured right after the baseline; medians.");
        Console.WriteLine();
        Console.WriteLine("| endpoint | body (bytes) | requests/s | p99 (ms) | rps ratio to static JSON |");
        Console.WriteLine("|---|---:|---:|---:|---:|");
        foreach (var (name, runs) in results)
        {
            var ratio = ratios.TryGetValue(name, out var list) ? Stats.F(Stats.Median(list)) : "1";
            Console.WriteLine($"| {name} | {sizes[name]} | {Stats.F(Stats.Median(runs.Select(r => r.Rps)), "0")} | {Stats.F(Stats.Median(runs.Select(r => r.P99)), "0.0")} | {ratio} |");
        }

        Console.WriteLine();
        Console.WriteLine($"Gateway peak RSS during the API run: {Stats.MiB(gateway.PeakRssBytes)} MiB.");
        Console.WriteLine();
    }

    private static async Task<(double Rps, double P99)> RunWrkAsync(string url, string? token, int seconds)
    {
        var start = new ProcessStartInfo("wrk") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { "-t1", $"-c{Connections}", $"-d{seconds}s", "--latency" }) start.ArgumentList.Add(arg);
        if (token is not null) foreach (var arg in new[] { "-H", $"X-Auth-Token: {token}" }) start.ArgumentList.Add(arg);
        start.ArgumentList.Add(url);
        using var process = Process.Start(start)!;
        var output = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0 || Non2xx().IsMatch(output)) throw new InvalidOperationException($"wrk {url}: {output}");
        var rps = double.Parse(Rps().Match(output).Groups[1].Value, CultureInfo.InvariantCulture);
        var p99 = P99().Match(output);
        var value = double.Parse(p99.Groups[1].Value, CultureInfo.InvariantCulture);
        var ms = p99.Groups[2].Value switch { "us" => value / 1000, "ms" => value, "s" => value * 1000, _ => value * 60000 };
        return (rps, ms);
    }

    [GeneratedRegex(@"Requests/sec:\s+([\d.]+)")]
    private static partial Regex Rps();

    [GeneratedRegex(@"99%\s+([\d.]+)(us|ms|s|m)\b")]
    private static partial Regex P99();

    [GeneratedRegex(@"Non-2xx or 3xx responses")]
    private static partial Regex Non2xx();
}
