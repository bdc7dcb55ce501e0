using System.Text.Json.Nodes;
using XenMigrate.XapiSimulator.Model;

namespace XenMigrate.XapiSimulator.Rpc;

/// <summary>Implements one XAPI message; returns the result value (null for void).</summary>
internal delegate ValueTask<JsonNode?> XapiHandler(XapiCall call);

/// <summary>
/// One call being served: the message, its arguments (checked against the data model and with
/// omitted trailing defaults filled in), the caller's session and, for <c>Async.</c> calls, the task.
/// </summary>
internal sealed class XapiCall
{
    private string? _operationTask;

    public XapiCall(HostRuntime host, XapiMessage message, IReadOnlyList<JsonNode?> arguments, string? session, string? asyncTask, CancellationToken cancellation)
    {
        Host = host;
        Message = message;
        Arguments = arguments;
        Session = session;
        AsyncTask = asyncTask;
        Cancellation = cancellation;
    }

    public HostRuntime Host { get; }

    public XapiDatabase Db => Host.Database;

    public XapiMessage Message { get; }

    public string Method => Message.FullName;

    public IReadOnlyList<JsonNode?> Arguments { get; }

    public string? Session { get; }

    public string? AsyncTask { get; }

    public CancellationToken Cancellation { get; }

    /// <summary>
    /// The task that stands for this call in <c>current_operations</c>: the Async task, or (as xapi
    /// does for synchronous calls) a task created for the duration of the call.
    /// </summary>
    public string OperationTask
    {
        get
        {
            if (AsyncTask is not null) return AsyncTask;
            lock (Db.Sync) return _operationTask ??= Host.Tasks.CreateUnlisted(Method, string.Empty, Host.HostRef).Ref;
        }
    }

    public void ReleaseOperationTask()
    {
        if (_operationTask is null) return;
        lock (Db.Sync)
        {
            if (Db.Find("task", _operationTask) is { } task) Host.Tasks.Destroy(task);
        }
    }

    /// <summary>Extra time injected for this call (<see cref="Control.FaultInjector.DelayNext"/>).</summary>
    public TimeSpan InjectedDelay { get; set; }

    public bool InjectedDelayConsumed { get; private set; }

    /// <summary>
    /// The time an operation takes while it holds its object (so that concurrent callers meet
    /// OTHER_OPERATION_IN_PROGRESS): the configured duration plus any injected delay.
    /// </summary>
    public Task SimulateWorkAsync(TimeSpan duration) => SimulateWorkUntilAsync(duration, Cancellation);

    /// <summary>As <see cref="SimulateWorkAsync"/>, ended by <paramref name="cancellation"/> (the call's, or one linked to it).</summary>
    public async Task SimulateWorkUntilAsync(TimeSpan duration, CancellationToken cancellation)
    {
        var total = duration + InjectedDelay;
        InjectedDelayConsumed = true;
        if (total > TimeSpan.Zero) await Task.Delay(total, Host.Clock, cancellation);
    }

    public JsonNode? Arg(int index) => Arguments[index];

    public string String(int index) => Arguments[index]!.GetValue<string>();

    public string Ref(int index) => String(index);

    public long Long(int index) => Arguments[index]!.GetValue<long>();

    public double Double(int index) => Arguments[index]!.GetValue<double>();

    public bool Bool(int index) => Arguments[index]!.GetValue<bool>();

    public JsonObject Object(int index) => Arguments[index]!.AsObject();

    public IReadOnlyList<string> Strings(int index) => Arguments[index]!.AsArray().Select(n => n!.GetValue<string>()).ToList();
}
