using System.Diagnostics;
using System.Text.Json.Nodes;

namespace XenMigrate.Tests.Support;

/// <summary>Runs a third-party client's script (node, python) with a clean environment and a time limit.</summary>
internal static class ConformanceProcess
{
    public static async Task<(int ExitCode, List<JsonObject> Lines, string Stdout, string Stderr)> RunAsync(
        string executable, string workingDirectory, IEnumerable<string> args, IReadOnlyDictionary<string, string> environment, TimeSpan timeout)
    {
        var start = new ProcessStartInfo(executable)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory,
        };
        foreach (var a in args) start.ArgumentList.Add(a);
        start.Environment.Clear();
        start.Environment["PATH"] = Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin";
        start.Environment["HOME"] = Path.Combine(Path.GetTempPath(), "xenmigrate-conformance-home");
        start.Environment["LANG"] = "C.UTF-8";
        // Loopback only: no proxy may be taken from the machine's environment.
        start.Environment["NO_PROXY"] = "*";
        foreach (var (key, value) in environment) start.Environment[key] = value;

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {executable}.");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var limit = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(limit.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"{executable} {string.Join(' ', args)} did not finish in {timeout.TotalSeconds} s.\n{await stderr}\n{await stdout}");
        }

        var output = await stdout;
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(l => l.StartsWith('{'))
            .Select(l => JsonNode.Parse(l)!.AsObject())
            .ToList();
        return (process.ExitCode, lines, output, await stderr);
    }

    /// <summary>The one line of a step, failing with everything the script said when it is missing.</summary>
    public static JsonObject Step(List<JsonObject> lines, string step, string stdout, string stderr) =>
        lines.FirstOrDefault(l => (string?)l["step"] == step)
        ?? throw new AssertionException($"No '{step}' step in the output.\nstdout:\n{stdout}\nstderr:\n{stderr}");
}
