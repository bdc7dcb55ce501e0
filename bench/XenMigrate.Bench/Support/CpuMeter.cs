using System.Diagnostics;
using System.Globalization;

namespace XenMigrate.Bench.Support;

/// <summary>
/// CPU used between two readings: by this process (everything an in-process lab runs) and by the
/// whole machine (<c>/proc/stat</c>), to tell "waiting" from "out of cores".
/// </summary>
internal sealed class CpuMeter
{
    private readonly TimeSpan _processStart = Process.GetCurrentProcess().TotalProcessorTime;
    private readonly (long Busy, long Total) _machineStart = MachineTicks();
    private readonly Stopwatch _wall = Stopwatch.StartNew();

    public static CpuMeter Start() => new();

    /// <summary>Seconds of CPU this process used since the start.</summary>
    public double ProcessSeconds => (Process.GetCurrentProcess().TotalProcessorTime - _processStart).TotalSeconds;

    /// <summary>Cores this process kept busy on average: CPU seconds over wall seconds.</summary>
    public double ProcessCores => ProcessSeconds / _wall.Elapsed.TotalSeconds;

    /// <summary>Share of all the machine's cores that were busy (any process), 0 – 1.</summary>
    public double MachineBusy
    {
        get
        {
            var (busy, total) = MachineTicks();
            var dt = total - _machineStart.Total;
            return dt <= 0 ? double.NaN : (double)(busy - _machineStart.Busy) / dt;
        }
    }

    private static (long Busy, long Total) MachineTicks()
    {
        // "cpu  user nice system idle iowait irq softirq steal …" in clock ticks.
        var fields = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1)
            .Take(8).Select(f => long.Parse(f, CultureInfo.InvariantCulture)).ToArray();
        var idle = fields[3] + fields[4];
        var total = fields.Sum();
        return (total - idle, total);
    }
}
