using System.Globalization;
using System.Text.Json.Nodes;
using XenMigrate.XapiSimulator.Control;
using XenMigrate.XapiSimulator.Model;
using XenMigrate.XapiSimulator.Operations;

namespace XenMigrate.XapiSimulator.Rpc;

/// <summary>
/// Serves one XAPI call the way xapi's generated server does: resolve the method (with its
/// <c>Async.</c> twin), check the parameter count against the data model (accepting the shortest
/// form and filling trailing defaults, rejecting extra parameters), unmarshal the arguments,
/// check the session, then run the implementation — inline, or in a task for <c>Async.</c>.
/// </summary>
internal sealed class XapiDispatcher
{
    private const string AsyncPrefix = "Async.";

    private readonly HostRuntime _host;

    public XapiDispatcher(HostRuntime host)
    {
        _host = host;
    }

    public async ValueTask<JsonNode?> CallAsync(string method, IReadOnlyList<JsonNode?> parameters, CancellationToken cancellation)
    {
        ArgumentNullException.ThrowIfNull(method);
        ArgumentNullException.ThrowIfNull(parameters);
        var isAsync = method.StartsWith(AsyncPrefix, StringComparison.Ordinal);
        var name = isAsync ? method[AsyncPrefix.Length..] : method;
        var message = _host.Model.FindMessage(name);
        if (message is null || (isAsync && !message.SupportsAsync))
            throw new XapiException(XapiErrors.MessageMethodUnknown, method);
        if (parameters.Count < message.RequiredCount || parameters.Count > message.Parameters.Count)
        {
            throw new XapiException(XapiErrors.MessageParameterCountMismatch, method,
                message.Parameters.Count.ToString(CultureInfo.InvariantCulture), parameters.Count.ToString(CultureInfo.InvariantCulture));
        }

        _host.CountCall(name);
        var arguments = Unmarshal(message, parameters);
        var session = message.TakesSession ? arguments[0]!.GetValue<string>() : null;
        if (session is not null)
        {
            lock (_host.Database.Sync)
            {
                if (_host.Database.Find("session", session) is null) throw new XapiException(XapiErrors.SessionInvalid, session);
            }
        }

        var handler = HandlerRegistry.Instance.Resolve(message) ?? throw new XapiException(XapiErrors.NotImplemented, method);
        if (!isAsync)
        {
            // A stopping host ends its calls (event.from long polls, simulated work) at once.
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellation, _host.Stopping);
            var call = new XapiCall(_host, message, arguments, session, asyncTask: null, linked.Token)
            {
                InjectedDelay = _host.Faults.TakeDelay(name),
            };
            try
            {
                RunHook(name, session, CallHookTiming.Before);
                if (_host.Faults.TakeFailure(name) is { } injected) throw injected;
                var result = await handler(call);
                if (!call.InjectedDelayConsumed) await call.SimulateWorkAsync(TimeSpan.Zero);
                RunHook(name, session, CallHookTiming.After);
                return result;
            }
            finally
            {
                call.ReleaseOperationTask();
            }
        }

        string taskRef;
        lock (_host.Database.Sync) taskRef = _host.Tasks.Create(method, string.Empty, session, _host.HostRef).Ref;
        _host.Tasks.Run(taskRef, async token =>
        {
            var call = new XapiCall(_host, message, arguments, session, taskRef, token)
            {
                InjectedDelay = _host.Faults.TakeDelay(name),
            };
            RunHook(name, session, CallHookTiming.Before);
            if (_host.Faults.TakeFailure(name) is { } injected) throw injected;
            var result = await handler(call);
            if (!call.InjectedDelayConsumed) await call.SimulateWorkAsync(TimeSpan.Zero);
            RunHook(name, session, CallHookTiming.After);
            return result;
        });
        return taskRef;
    }

    private void RunHook(string method, string? session, CallHookTiming timing)
    {
        if (_host.Faults.TakeHook(method, timing) is { } hook) hook.Action(_host.CallContext(method, session));
    }

    private JsonNode?[] Unmarshal(XapiMessage message, IReadOnlyList<JsonNode?> parameters)
    {
        var arguments = new JsonNode?[message.Parameters.Count];
        for (var i = 0; i < arguments.Length; i++)
        {
            var parameter = message.Parameters[i];
            if (i >= parameters.Count)
            {
                arguments[i] = parameter.Default!.DeepClone();
                continue;
            }

            if (!parameter.Type.Coerce(parameters[i], _host.Model, out var value))
                throw new XapiException(XapiErrors.FieldTypeError, parameter.Name);
            arguments[i] = value;
        }

        return arguments;
    }
}
