using System.Net.Sockets;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace XenMigrate.Infrastructure.Xapi;

/// <summary>
/// A logged-in XAPI session on one host over JSON-RPC 2.0 (<c>POST /jsonrpc</c>). Every call
/// passes the session ref first; a <c>SESSION_INVALID</c> is answered by logging in again once and
/// retrying. Disposing logs out (hosts cap sessions per user, so every session must end).
/// </summary>
public sealed class XapiSession : IAsyncDisposable
{
    /// <summary>
    /// Who opened the session, as xapi records it (xe session-list shows it): one originator per
    /// gateway process, so an operator — or the crash harness — can tell which process holds a session.
    /// </summary>
    public static readonly string Originator = $"XenMigrate/{Environment.ProcessId}";

    private readonly HttpClient _http;
    private readonly bool _ownsHttp;
    private readonly XapiHostOptions _host;
    private readonly TimeSpan _callTimeout;
    private readonly SemaphoreSlim _loginGate = new(1, 1);
    private string? _sessionRef;
    private long _nextId;

    private readonly Uri _baseUri;

    private XapiSession(HttpClient http, bool ownsHttp, XapiHostOptions host, TimeSpan callTimeout, Uri baseUri)
    {
        _http = http;
        _ownsHttp = ownsHttp;
        _host = host;
        _callTimeout = callTimeout;
        _baseUri = baseUri;
    }

    /// <summary>The configured endpoint this session belongs to (its name, credentials, pinned certificate).</summary>
    public XapiHostOptions Host => _host;

    /// <summary>The base URL of the host this session talks to (the pool master; also for the HTTP handlers).</summary>
    public Uri BaseUri => _baseUri;

    /// <summary>
    /// Kept by a pool connection and lent to every caller: disposing it does nothing (only the
    /// connection logs it out), so a busy gateway does not storm a host's serialized logins.
    /// </summary>
    internal bool Shared { get; set; }

    /// <summary>Set once a call could not reach the host: the connection looks for the master again.</summary>
    public bool Faulted { get; private set; }

    /// <summary>The current session ref (the transfer handlers pass it as session_id).</summary>
    public string SessionRef => _sessionRef ?? throw new InvalidOperationException("Not logged in.");

    /// <summary>
    /// Logs in to a host (at <paramref name="url"/>, else the configured URL). The HttpClient, when
    /// given, is not disposed with the session. A pool member refuses with HOST_IS_SLAVE, whose
    /// parameter is the master's address.
    /// </summary>
    public static async Task<XapiSession> OpenAsync(XapiHostOptions host, TimeSpan callTimeout, CancellationToken ct, HttpClient? http = null,
        Uri? url = null)
    {
        var session = new XapiSession(http ?? new HttpClient(XapiHttp.CreateHandler(host)) { Timeout = Timeout.InfiniteTimeSpan },
            http is null, host, callTimeout, url ?? new Uri(host.Url.TrimEnd('/') + "/"));
        try
        {
            await session.LoginAsync(null, ct);
            return session;
        }
        catch
        {
            await session.DisposeAsync();
            throw;
        }
    }

    /// <summary>Calls <paramref name="method"/> with the session ref prepended to <paramref name="args"/>.</summary>
    public async Task<JsonNode?> CallAsync(string method, CancellationToken ct, params object?[] args)
    {
        // A shared session its connection replaced (a fail-over) is closed: the caller's retry borrows the new one.
        var sessionRef = _sessionRef ?? throw new XapiTransportException(_host.Name, $"{method}: the session was closed (its pool moved to another master).");
        try
        {
            return await RawCallAsync(method, Params(sessionRef, args), ct);
        }
        catch (XapiException e) when (e.Code == XapiException.SessionInvalid)
        {
            await LoginAsync(sessionRef, ct);
            return await RawCallAsync(method, Params(SessionRef, args), ct);
        }
    }

    /// <summary>A call whose result is a string (refs, uuids, void as "").</summary>
    public async Task<string> CallForStringAsync(string method, CancellationToken ct, params object?[] args) =>
        XapiValues.String(await CallAsync(method, ct, args));

    /// <summary>
    /// Runs <c>Async.&lt;method&gt;</c> and waits for its task, returning the task's result decoded
    /// from XAPI's XML-RPC encoding (e.g. a ref). The task is destroyed afterwards.
    /// </summary>
    public async Task<string> CallAsyncTaskAsync(string method, TimeSpan timeout, CancellationToken ct, params object?[] args)
    {
        var task = await CallForStringAsync("Async." + method, ct, args);
        return await AwaitTaskAsync(task, method, timeout, ct);
    }

    /// <summary>Polls a task until it finishes; its failure becomes the XapiException it carries.</summary>
    public async Task<string> AwaitTaskAsync(string taskRef, string method, TimeSpan timeout, CancellationToken ct)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
        deadline.CancelAfter(timeout);
        var delay = TimeSpan.FromMilliseconds(20);
        try
        {
            while (true)
            {
                var record = await CallAsync("task.get_record", deadline.Token, taskRef) as JsonObject
                             ?? throw new XapiTransportException(_host.Name, "task.get_record returned no record.");
                var status = XapiValues.String(record["status"]);
                switch (status)
                {
                    case "success":
                        await DestroyTaskQuietlyAsync(taskRef);
                        return XapiValues.DecodeTaskResult(XapiValues.String(record["result"]));
                    case "failure":
                    case "cancelled":
                        await DestroyTaskQuietlyAsync(taskRef);
                        var info = XapiValues.Strings(record["error_info"]);
                        throw info.Count > 0
                            ? new XapiException(method, info[0], info.Skip(1).ToList())
                            : new XapiException(method, status == "cancelled" ? XapiException.TaskCancelled : "INTERNAL_ERROR", [taskRef]);
                }

                await Task.Delay(delay, deadline.Token);
                delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, 100)); // downtime is counted in these waits
            }
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            await CancelTaskQuietlyAsync(taskRef);
            throw new TimeoutException($"{method} on {_host.Name} did not finish within {timeout}.");
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Shared) return;
        await CloseAsync();
    }

    /// <summary>Logs out and releases the session for good (what disposing does for a session that is not shared).</summary>
    internal async ValueTask CloseAsync()
    {
        if (_sessionRef is { } sessionRef)
        {
            _sessionRef = null;
            try
            {
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                await RawCallAsync("session.logout", [sessionRef], cts.Token);
            }
            catch (Exception e) when (e is XapiException or XapiTransportException or OperationCanceledException or TimeoutException)
            {
                // The host is gone or the session already expired: nothing left to end.
            }
        }

        // The login gate is left to the GC: a borrower of a replaced shared session may still be using it.
        if (_ownsHttp) _http.Dispose();
    }

    private async Task LoginAsync(string? staleRef, CancellationToken ct)
    {
        await _loginGate.WaitAsync(ct);
        try
        {
            if (_sessionRef is not null && _sessionRef != staleRef) return; // another caller already logged in again
            var result = await RawCallAsync("session.login_with_password",
                [_host.Username, _host.Password, "1.1", Originator], ct, isLogin: true);
            _sessionRef = XapiValues.String(result);
        }
        finally
        {
            _loginGate.Release();
        }
    }

    private static JsonArray Params(string sessionRef, object?[] args)
    {
        var array = new JsonArray(JsonValue.Create(sessionRef));
        foreach (var a in args) array.Add(XapiValues.ToJson(a));
        return array;
    }

    private async Task<JsonNode?> RawCallAsync(string method, JsonArray parameters, CancellationToken ct, bool isLogin = false)
    {
        var id = Interlocked.Increment(ref _nextId);
        var request = new JsonObject { ["jsonrpc"] = "2.0", ["method"] = method, ["params"] = parameters, ["id"] = id };
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(_callTimeout + (method == "event.from" ? TimeSpan.FromSeconds(60) : TimeSpan.Zero));

        JsonNode? reply;
        try
        {
            using var response = await _http.PostAsJsonAsync(new Uri(BaseUri, "jsonrpc"), request, timeout.Token);
            if (!response.IsSuccessStatusCode)
                throw new XapiTransportException(_host.Name, $"{method} answered HTTP {(int)response.StatusCode}.");
            reply = JsonNode.Parse(await response.Content.ReadAsStreamAsync(timeout.Token));
        }
        // A connection reset just after connect can escape HttpClient as a bare SocketException.
        catch (Exception e) when (e is HttpRequestException or SocketException or IOException)
        {
            Faulted = true;
            throw new XapiTransportException(_host.Name, $"{method}: {e.Message}", e);
        }
        catch (JsonException e)
        {
            throw new XapiTransportException(_host.Name, $"{method} answered something that is not JSON-RPC.", e);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            if (method != "event.from") Faulted = true;
            throw new TimeoutException($"{method} on {_host.Name} timed out.");
        }

        if (reply is not JsonObject obj)
            throw new XapiTransportException(_host.Name, $"{method} answered something that is not JSON-RPC.");
        if (obj["error"] is JsonObject error) throw ToException(method, error, isLogin);
        if (obj["error"] is not null && obj["error"]!.GetValueKind() != JsonValueKind.Null)
            throw new XapiTransportException(_host.Name, $"{method} answered a malformed error.");
        if (!obj.ContainsKey("result"))
            throw new XapiTransportException(_host.Name, $"{method} answered neither a result nor an error.");
        return obj["result"];
    }

    private XapiException ToException(string method, JsonObject error, bool isLogin)
    {
        if (error["message"] is not JsonValue m || m.GetValueKind() != JsonValueKind.String)
            throw new XapiTransportException(_host.Name, $"{method} answered a malformed error.");
        var code = m.GetValue<string>();
        // Never repeat what a login sent (the user name and password come back in its error params);
        // a member's HOST_IS_SLAVE carries only the master's address, which is what a client follows.
        var parameters = isLogin && code != XapiException.HostIsSlave ? [] : XapiValues.Strings(error["data"]);
        return new XapiException(method, code, parameters);
    }

    private async Task DestroyTaskQuietlyAsync(string taskRef)
    {
        try
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await CallAsync("task.destroy", cts.Token, taskRef);
        }
        catch (Exception e) when (e is XapiException or XapiTransportException or OperationCanceledException or TimeoutException)
        {
            // Finished tasks are garbage-collected by xapi anyway.
        }
    }

    private async Task CancelTaskQuietlyAsync(string taskRef)
    {
        try
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await CallAsync("task.cancel", cts.Token, taskRef);
        }
        catch (Exception e) when (e is XapiException or XapiTransportException or OperationCanceledException or TimeoutException)
        {
            // Best effort: the task may have finished meanwhile.
        }
    }

}
