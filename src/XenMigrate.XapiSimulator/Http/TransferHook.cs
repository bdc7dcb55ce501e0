using XenMigrate.XapiSimulator.Control;

namespace XenMigrate.XapiSimulator.Http;

/// <summary>A mid-transfer hook (<see cref="FaultInjector.OnNext"/>): fires once when its byte count has moved.</summary>
internal sealed class TransferHook
{
    private readonly CallHook? _hook;
    private readonly CallHookContext? _context;
    private int _fired;

    private TransferHook(CallHook? hook, CallHookContext? context)
    {
        _hook = hook;
        _context = context;
    }

    public static TransferHook Take(HostRuntime host, string method, string session)
    {
        var hook = host.Faults.TakeHook(method, CallHookTiming.DuringTransfer);
        return new TransferHook(hook, hook is null ? null : host.CallContext(method, session));
    }

    /// <summary>The progress callback, firing the hook on the way once enough bytes have moved.</summary>
    public Action<long> Wrap(Action<long> progress) => _hook is null
        ? progress
        : bytes =>
        {
            progress(bytes);
            if (bytes >= _hook.AfterBytes && Interlocked.Exchange(ref _fired, 1) == 0) _hook.Action(_context!);
        };
}
