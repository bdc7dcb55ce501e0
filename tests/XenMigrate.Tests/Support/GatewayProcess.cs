using System.Diagnostics;
using System.Net;

namespace XenMigrate.Tests.Support;

/// <summary>
/// The gateway as a separate operating-system process (<c>dotnet XenMigrate.Api.dll</c>), so a test
/// can kill it with SIGKILL — no shutdown hooks, no flushing — and start another on the same database.
/// Its output goes to a log file the test prints when something fails.
/// </summary>
public sealed class GatewayProcess : GatewayEndpoint, IAsyncDisposable
{
    private readonly Process _process;
    private readonly StreamWriter _log;

    private GatewayProcess(Process process, string baseUrl, StreamWriter log, string logPath) : base(baseUrl)
    {
        _process = process;
        _log = log;
        LogPath = logPath;
    }

    public int ProcessId => _process.Id;
    public string LogPath { get; }
    public bool HasExited => _process.HasExited;

    public static async Task<GatewayProcess> StartAsync(TestDatabase database, IEnumerable<string> extraArgs, string name = "gateway")
    {
        var baseUrl = $"http://127.0.0.1:{FreePort()}";
        var dll = Path.Combine(AppContext.BaseDirectory, "XenMigrate.Api.dll");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(dll);
        foreach (var arg in CommonArgs(database, baseUrl).Concat(extraArgs)) start.ArgumentList.Add(arg);
        start.Environment["DOTNET_ENVIRONMENT"] = "Production";

        var logPath = Path.Combine(Path.GetTempPath(), $"xenmigrate-{name}-{Guid.NewGuid():N}.log");
        var log = new StreamWriter(logPath) { AutoFlush = true };
        var process = Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start.");
        process.OutputDataReceived += (_, e) => Write(log, e.Data);
        process.ErrorDataReceived += (_, e) => Write(log, e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        var gateway = new GatewayProcess(process, baseUrl, log, logPath);
        await gateway.WaitUntilHealthyAsync(TimeSpan.FromSeconds(60));
        return gateway;
    }

    /// <summary>SIGKILL: the process ends at once, whatever it was doing.</summary>
    public void Kill()
    {
        if (!_process.HasExited) _process.Kill(entireProcessTree: true);
    }

    public async Task WaitForExitAsync(TimeSpan within)
    {
        using var timeout = new CancellationTokenSource(within);
        await _process.WaitForExitAsync(timeout.Token);
    }

    public string ReadLog()
    {
        using var stream = new FileStream(LogPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        return new StreamReader(stream).ReadToEnd();
    }

    public async ValueTask DisposeAsync()
    {
        Kill();
        await _process.WaitForExitAsync();
        _process.Dispose();
        Http.Dispose();
        lock (_log) _log.Dispose();
    }

    private async Task WaitUntilHealthyAsync(TimeSpan within)
    {
        var deadline = DateTime.UtcNow + within;
        while (DateTime.UtcNow < deadline)
        {
            if (_process.HasExited) break;
            try
            {
                using var response = await Http.GetAsync("/healthz");
                if (response.StatusCode == HttpStatusCode.OK) return;
            }
            catch (HttpRequestException)
            {
                // not listening yet
            }

            await Task.Delay(100);
        }

        Assert.Fail($"The gateway process did not become healthy. Its log:\n{ReadLog()}");
    }

    private static void Write(StreamWriter log, string? line)
    {
        if (line is null) return;
        lock (log)
        {
            if (log.BaseStream.CanWrite) log.WriteLine(line);
        }
    }
}
