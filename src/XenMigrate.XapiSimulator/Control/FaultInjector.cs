using XenMigrate.XapiSimulator.Model;

namespace XenMigrate.XapiSimulator.Control;

/// <summary>
/// Faults a test (or the demo) can inject into one simulated host: failing or slowing chosen calls,
/// cutting or throttling disk transfers, and taking the host off the network. Method names are
/// XAPI names without <c>Async.</c> ("VM.start"); the HTTP transfers are "export_raw_vdi" and
/// "import_raw_vdi". A Storage XenMotion can be failed mid-way: on the source with
/// <see cref="OnNext"/>("VM.migrate_send", DuringTransfer, throwing action, afterBytes) or
/// <see cref="Throttle"/> plus task.cancel; on the destination with <see cref="FailNext"/> on
/// "import_raw_vdi" (a disk copy) or "xenops_receive" (the hand-over), or <see cref="SetHostDown"/>.
/// </summary>
public sealed class FaultInjector
{
    public const string ExportMethod = "export_raw_vdi";
    public const string ImportMethod = "import_raw_vdi";

    /// <summary>The destination's hand-over of a migrated VM (POST /services/xenops/receive).</summary>
    public const string XenopsReceiveMethod = "xenops_receive";

    private readonly Lock _sync = new();
    private readonly Dictionary<string, Queue<XapiException>> _failures = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Queue<TimeSpan>> _delays = new(StringComparer.Ordinal);
    private readonly Queue<long> _exportCuts = new();
    private readonly List<CallHook> _hooks = [];
    private double? _throttle;
    private bool _hostDown;
    private CancellationTokenSource? _restore;

    /// <summary>Raised when the host goes down (true) or comes back (false).</summary>
    public event EventHandler<bool>? HostDownChanged;

    /// <summary>Raised by <see cref="ExpireSessions"/>; the host destroys every session it holds.</summary>
    internal event EventHandler? SessionsExpired;

    /// <summary>Transfer rate limit in MB/s (10^6 bytes), or null for full speed.</summary>
    public double? ThrottleMegabytesPerSecond
    {
        get
        {
            lock (_sync) return _throttle;
        }
    }

    public bool IsHostDown
    {
        get
        {
            lock (_sync) return _hostDown;
        }
    }

    /// <summary>The next <paramref name="times"/> calls of <paramref name="method"/> fail with this error.</summary>
    public void FailNext(string method, string code, IEnumerable<string>? parameters = null, int times = 1)
    {
        ArgumentException.ThrowIfNullOrEmpty(method);
        ArgumentException.ThrowIfNullOrEmpty(code);
        lock (_sync)
        {
            var queue = QueueFor(_failures, method);
            for (var i = 0; i < times; i++) queue.Enqueue(new XapiException(code, parameters ?? []));
        }
    }

    /// <summary>The next <paramref name="times"/> calls of <paramref name="method"/> take this much longer (while holding their operation).</summary>
    public void DelayNext(string method, TimeSpan delay, int times = 1)
    {
        ArgumentException.ThrowIfNullOrEmpty(method);
        lock (_sync)
        {
            var queue = QueueFor(_delays, method);
            for (var i = 0; i < times; i++) queue.Enqueue(delay);
        }
    }

    /// <summary>The next export stops after this many bytes and its connection is dropped.</summary>
    public void CutNextExportAfter(long bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        lock (_sync) _exportCuts.Enqueue(bytes);
    }

    /// <summary>
    /// Runs <paramref name="action"/> on the next call of <paramref name="method"/>, before it
    /// executes or after it executed but before its answer leaves (the crash harness kills the
    /// caller there). For "export_raw_vdi"/"import_raw_vdi", <paramref name="afterBytes"/> fires
    /// the hook mid-transfer once that many bytes have moved.
    /// </summary>
    public void OnNext(string method, CallHookTiming timing, Action<CallHookContext> action, long afterBytes = 0)
    {
        ArgumentException.ThrowIfNullOrEmpty(method);
        ArgumentNullException.ThrowIfNull(action);
        if (method.StartsWith("Async.", StringComparison.Ordinal)) method = method[6..];
        lock (_sync) _hooks.Add(new CallHook(method, timing, action, afterBytes));
    }

    /// <summary>Limits disk transfers (both directions) to this many MB/s; null or 0 lifts the limit.</summary>
    public void Throttle(double? megabytesPerSecond)
    {
        lock (_sync) _throttle = megabytesPerSecond is > 0 ? megabytesPerSecond : null;
    }

    /// <summary>
    /// Takes the host off the network: open connections are dropped and new ones are closed at once,
    /// until <see cref="SetHostUp"/> or until <paramref name="restoreAfter"/> has passed.
    /// </summary>
    public void SetHostDown(TimeSpan? restoreAfter = null)
    {
        CancellationTokenSource? previous;
        CancellationTokenSource? restore = null;
        lock (_sync)
        {
            previous = _restore;
            _hostDown = true;
            if (restoreAfter is { } delay)
            {
                restore = new CancellationTokenSource();
                _restore = restore;
            }
            else
            {
                _restore = null;
            }
        }

        previous?.Cancel();
        previous?.Dispose();
        HostDownChanged?.Invoke(this, true);
        if (restore is not null) _ = RestoreLaterAsync(restoreAfter!.Value, restore.Token);
    }

    public void SetHostUp()
    {
        CancellationTokenSource? restore;
        lock (_sync)
        {
            restore = _restore;
            _restore = null;
            _hostDown = false;
        }

        restore?.Cancel();
        restore?.Dispose();
        HostDownChanged?.Invoke(this, false);
    }

    /// <summary>
    /// Ends every live session at once (as an xapi restart or session timeout does): the next call
    /// with an old session ref fails with SESSION_INVALID, and transfers with it get 401.
    /// </summary>
    public void ExpireSessions() => SessionsExpired?.Invoke(this, EventArgs.Empty);

    /// <summary>Removes every injected fault and brings the host back up.</summary>
    public void Clear()
    {
        lock (_sync)
        {
            _failures.Clear();
            _delays.Clear();
            _exportCuts.Clear();
            _hooks.Clear();
            _throttle = null;
        }

        if (IsHostDown) SetHostUp();
    }

    internal XapiException? TakeFailure(string method)
    {
        lock (_sync) return _failures.TryGetValue(method, out var queue) && queue.TryDequeue(out var error) ? error : null;
    }

    internal TimeSpan TakeDelay(string method)
    {
        lock (_sync) return _delays.TryGetValue(method, out var queue) && queue.TryDequeue(out var delay) ? delay : TimeSpan.Zero;
    }

    internal CallHook? TakeHook(string method, CallHookTiming timing)
    {
        lock (_sync)
        {
            var index = _hooks.FindIndex(h => h.Method == method && h.Timing == timing);
            if (index < 0) return null;
            var hook = _hooks[index];
            _hooks.RemoveAt(index);
            return hook;
        }
    }

    internal long? TakeExportCut()
    {
        lock (_sync) return _exportCuts.TryDequeue(out var bytes) ? bytes : null;
    }

    internal object Describe()
    {
        lock (_sync)
        {
            return new
            {
                failures = _failures.Where(p => p.Value.Count > 0).ToDictionary(p => p.Key, p => p.Value.Select(e => e.ErrorInfo).ToList()),
                delays = _delays.Where(p => p.Value.Count > 0).ToDictionary(p => p.Key, p => p.Value.Select(d => d.TotalMilliseconds).ToList()),
                exportCuts = _exportCuts.ToList(),
                hooks = _hooks.Select(h => $"{h.Timing} {h.Method}").ToList(),
                throttleMegabytesPerSecond = _throttle,
                hostDown = _hostDown,
            };
        }
    }

    private async Task RestoreLaterAsync(TimeSpan delay, CancellationToken cancellation)
    {
        try
        {
            await Task.Delay(delay, cancellation);
        }
        catch (OperationCanceledException)
        {
            return;
        }

        SetHostUp();
    }

    private static Queue<T> QueueFor<T>(Dictionary<string, Queue<T>> table, string method)
    {
        if (method.StartsWith("Async.", StringComparison.Ordinal)) method = method[6..];
        if (!table.TryGetValue(method, out var queue))
        {
            queue = new Queue<T>();
            table[method] = queue;
        }

        return queue;
    }
}

/// <summary>When a call hook runs: before the call executes, after it (answer not yet sent), or mid-transfer.</summary>
public enum CallHookTiming
{
    Before,
    After,
    DuringTransfer,
}

/// <summary>What a hook learns about the call: the host, the method, and the caller's session originator.</summary>
public sealed record CallHookContext(string Host, string Method, string? Originator);

internal sealed record CallHook(string Method, CallHookTiming Timing, Action<CallHookContext> Action, long AfterBytes);
