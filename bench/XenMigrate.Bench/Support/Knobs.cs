using System.Globalization;

namespace XenMigrate.Bench.Support;

/// <summary>Optional environment variables for shorter runs while profiling (bench/README.md); the defaults give the published figures.</summary>
internal static class Knobs
{
    public static int Int(string name, int fallback) =>
        int.TryParse(Environment.GetEnvironmentVariable(name), NumberStyles.None, CultureInfo.InvariantCulture, out var value) ? value : fallback;

    public static long[] Longs(string name, long[] fallback) =>
        Environment.GetEnvironmentVariable(name) is { Length: > 0 } text
            ? text.Split(',').Select(t => long.Parse(t, CultureInfo.InvariantCulture)).ToArray()
            : fallback;
}
