using System.Diagnostics;
using System.Globalization;

namespace XenMigrate.Bench.Support;

/// <summary>
/// A program of the solution run as its own process (<c>dotnet X.dll</c> from the bench's output
/// folder), so its memory is its own: <see cref="PeakRssBytes"/> reads the kernel's high-water mark.
/// Its output goes to a log file, kept when the benchmark fails.
/// </summary>
internal sealed class ChildProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StreamWriter _log;
    private readonly CancellationTokenSource _stop = new();
    private long _peakAnon;

    private ChildProcess(Process process, StreamWriter log, string logPath, string baseUrl)
    {
        _process = process;
        _log = log;
        LogPath = logPath;
        BaseUrl = baseUrl;
        _ = SampleAnonymousAsync(_stop.Token);
    }

    public string LogPath { get; }

    public string BaseUrl { get; }

    public int Id => _process.Id;

    /// <summary>Starts <c>dotnet {dll} {args}</c> and waits until <paramref name="readyPath"/> answers 2xx on <paramref name="baseUrl"/>.</summary>
    public static async Task<ChildProcess> StartAsync(string dll, IEnumerable<string> args, string baseUrl, string readyPath, string logDirectory, string name)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, dll));
        foreach (var arg in args) start.ArgumentList.Add(arg);
        start.Environment["DOTNET_ENVIRONMENT"] = "Production";
        var logPath = Path.Combine(logDirectory, $"{name}.log");
        var log = new StreamWriter(logPath) { AutoFlush = true };
        var process = Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start.");
        process.OutputDataReceived += (_, e) => Write(log, e.Data);
        process.ErrorDataReceived += (_, e) => Write(log, e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var child = new ChildProcess(process, log, logPath, baseUrl);

        using var http = new HttpClient { BaseAddress = new Uri(baseUrl), Timeout = TimeSpan.FromSeconds(5) };
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(90);
        while (DateTime.UtcNow < deadline && !process.HasExited)
        {
            try
            {
                using var response = await http.GetAsync(readyPath);
                if (response.IsSuccessStatusCode) return child;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                // not listening yet
            }

            await Task.Delay(100);
        }

        await child.DisposeAsync();
        throw new InvalidOperationException($"{name} did not become ready; its log: {logPath}");
    }

    /// <summary>Peak resident set size so far (VmHWM).</summary>
    public long PeakRssBytes => ReadStatus("VmHWM:");

    public long RssBytes => ReadStatus("VmRSS:");

    /// <summary>
    /// Peak of the anonymous part of the RSS (the process's own heap and stacks), sampled every 20 ms:
    /// the rest of VmHWM is mapped files (runtime, assemblies) and shared memory, which the kernel
    /// counts per process but which are not the process's own allocations.
    /// </summary>
    public long PeakAnonymousBytes => Interlocked.Read(ref _peakAnon);

    public void ResetPeakAnonymous() => Interlocked.Exchange(ref _peakAnon, 0);

    private async Task SampleAnonymousAsync(CancellationToken stop)
    {
        try
        {
            while (!stop.IsCancellationRequested && !_process.HasExited)
            {
                var anon = ReadStatus("RssAnon:");
                if (anon > Interlocked.Read(ref _peakAnon)) Interlocked.Exchange(ref _peakAnon, anon);
                await Task.Delay(20, stop);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or InvalidOperationException)
        {
            // The process ended.
        }
    }

    /// <summary>Resets the peak RSS to the current RSS (Linux: <c>echo 5 &gt; /proc/pid/clear_refs</c>).</summary>
    public void ResetPeakRss() => File.WriteAllText($"/proc/{_process.Id}/clear_refs", "5");

    public string ReadLog()
    {
        using var stream = new FileStream(LogPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        return new StreamReader(stream).ReadToEnd();
    }

    private long ReadStatus(string field)
    {
        var line = File.ReadLines($"/proc/{_process.Id}/status").First(l => l.StartsWith(field, StringComparison.Ordinal));
        return long.Parse(line[field.Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        if (!_process.HasExited)
        {
            // SIGTERM: the simulator deletes its disk files on a clean stop.
            Process.Start("kill", ["-TERM", _process.Id.ToString(CultureInfo.InvariantCulture)])?.WaitForExit();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            try
            {
                await _process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync();
            }
        }

        _process.Dispose();
        _stop.Dispose();
        lock (_log) _log.Dispose();
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
