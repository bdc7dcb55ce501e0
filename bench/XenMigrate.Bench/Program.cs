using XenMigrate.Bench.Benchmarks;

// XenMigrate's benchmarks (bench/README.md): they measure, they do not assert; every figure is a
// ratio against a baseline measured in the same run.
var benchmarks = new Dictionary<string, Func<Task>>(StringComparer.Ordinal)
{
    ["transfer"] = TransferBenchmark.RunAsync,
    ["downtime"] = DowntimeBenchmark.RunAsync,
    ["control-plane"] = ControlPlaneBenchmark.RunAsync,
    ["api"] = ApiBenchmark.RunAsync,
};

var chosen = args.Length == 0 || args is ["all"] ? benchmarks.Keys.ToList() : args.ToList();
if (chosen.FirstOrDefault(c => !benchmarks.ContainsKey(c)) is { } unknown)
{
    Console.Error.WriteLine($"Unknown benchmark '{unknown}'. Usage: XenMigrate.Bench [all | {string.Join(" | ", benchmarks.Keys)} ...]");
    return 2;
}

Console.WriteLine($"# XenMigrate benchmarks — {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {Environment.ProcessorCount} cores, load average {File.ReadAllText("/proc/loadavg").Split(' ')[0]}");
Console.WriteLine();
foreach (var name in chosen) await benchmarks[name]();
return 0;
