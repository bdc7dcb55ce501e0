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
    private const string ListMethods = "system.listMethods";
    private const string IsAlivePrefix = "system.isAlive:";

    private static readonly XapiType StringSet = XapiType.Parse("string set");
    private static readonly XapiType UntypedString = XapiType.Parse("string");
    private static readonly XapiType TaskRef = XapiType.Parse("task ref");

    private readonly HostRuntime _host;

    public XapiDispatcher(HostRuntime host)
    {
        _host = host;
    }

    public ValueTask<JsonNode?> CallAsync(string method, IReadOnlyList<JsonNode?> parameters, CancellationToken cancellation) =>
        CallAsync(method, parameters, cancellation, out _);

    /// <summary>
    /// Serves a call; <paramref name="resultType"/> is what the answer is (the message's result, a
    /// task ref for <c>Async.</c>, a string set for system.listMethods), for encoders that need it (XML-RPC).
    /// </summary>
    public ValueTask<JsonNode?> CallAsync(string method, IReadOnlyList<JsonNode?> parameters, CancellationToken cancellation, out XapiType resultType)
    {
        ArgumentNullException.ThrowIfNull(method);
        ArgumentNullException.ThrowIfNull(parameters);
        // server_helpers.ml sync_ty_and_maybe_remove_prefix: the generated dispatcher matches (and
        // names in its errors) the call without its "Async." prefix.
        var isAsync = method.StartsWith(AsyncPrefix, StringComparison.Ordinal);
        var name = isAsync ? method[AsyncPrefix.Length..] : method;
        resultType = UntypedString;
        // gen_server.ml ~497: system.listMethods takes no session and lists every sync wire name.
        if (name == ListMethods)
        {
            resultType = StringSet;
            return ValueTask.FromResult<JsonNode?>(new JsonArray(_host.Model.WireNames.Select(n => (JsonNode?)n).ToArray()));
        }

        // gen_server.ml ~518: "system.isAlive:<anything>" echoes its first parameter.
        if (name.StartsWith(IsAlivePrefix, StringComparison.Ordinal))
        {
            return parameters.Count > 0
                ? ValueTask.FromResult(parameters[0]?.DeepClone())
                : throw new XapiException(XapiErrors.InternalError, "Failure(\"hd\")");
        }

        var message = _host.Model.FindMessage(name);
        if (message is null)
        {
            // gen_server.ml ~521-540: an unknown call whose first parameter is a session is checked
            // (SESSION_INVALID) and offered to host extensions, which know none (MESSAGE_METHOD_UNKNOWN).
            if (parameters.Count > 0 && parameters[0] is JsonValue first && first.TryGetValue<string>(out var sessionRef))
                AssertSession(sessionRef);
            throw new XapiException(XapiErrors.MessageMethodUnknown, name);
        }

        // gen_server.ml ~412-430: a message with defaulted parameters matches "required :: rest" (any
        // longer list, the extra ones unused); one without matches its exact list. The counts in the
        // error leave out the session.
        var hasDefaults = message.RequiredCount < message.Parameters.Count;
        if (parameters.Count < message.RequiredCount || (!hasDefaults && parameters.Count > message.Parameters.Count))
        {
            var session = message.TakesSession ? 1 : 0;
            throw new XapiException(XapiErrors.MessageParameterCountMismatch, name,
                (message.RequiredCount - session).ToString(CultureInfo.InvariantCulture),
                (parameters.Count - session).ToString(CultureInfo.InvariantCulture));
        }

        resultType = isAsync ? TaskRef : message.Result;
        return DispatchAsync(message, name, isAsync, parameters.Count > message.Parameters.Count ? parameters.Take(message.Parameters.Count).ToList() : parameters, cancellation);
    }

    private async ValueTask<JsonNode?> DispatchAsync(XapiMessage message, string name, bool isAsync, IReadOnlyList<JsonNode?> parameters, CancellationToken cancellation)
    {
        _host.CountCall(name);
        var arguments = Unmarshal(message, parameters);
        var session = message.TakesSession ? arguments[0]!.GetValue<string>() : null;
        if (session is not null) AssertSession(session);
        // server_helpers.ml do_dispatch: Async. of a call without an async mode is a fault.
        if (isAsync && !message.SupportsAsync)
            throw new XapiException(XapiErrors.Fault, $"No async mode for this operation (rpc: {name})");

        var handler = HandlerRegistry.Instance.Resolve(message) ?? throw new XapiException(XapiErrors.NotImplemented, message.FullName);
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
        lock (_host.Database.Sync) taskRef = _host.Tasks.Create(AsyncPrefix + name, string.Empty, session, _host.HostRef).Ref;
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

    private void AssertSession(string session)
    {
        lock (_host.Database.Sync)
        {
            if (_host.Database.Find("session", session) is null) throw new XapiException(XapiErrors.SessionInvalid, session);
        }
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
