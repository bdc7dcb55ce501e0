using System.Net.Http.Json;
using System.Text.Json.Nodes;
using XenMigrate.XapiSimulator.Model;

namespace XenMigrate.XapiSimulator.Migration;

/// <summary>
/// The destination of a Storage XenMotion as the source sees it: its XAPI (JSON-RPC on the
/// <c>master</c> URL of the migrate_receive token, with the token's one-time session) and its
/// HTTP handlers. A remote XAPI error comes back as the same <see cref="XapiException"/>.
/// </summary>
internal sealed class RemoteHost : IDisposable
{
    // Redirects are not followed: disks go straight to the receiving host, which sees the SRs they are mapped to.
    private readonly HttpClient _http = new(new HttpClientHandler { AllowAutoRedirect = false }) { Timeout = Timeout.InfiniteTimeSpan };
    private long _nextId;

    private readonly string _vmRef;
    private readonly string _sourceHostRef;

    public RemoteHost(IReadOnlyDictionary<string, string> token, string vmRef, string sourceHostRef)
    {
        _vmRef = vmRef;
        _sourceHostRef = sourceHostRef;
        string Need(string key) => token.TryGetValue(key, out var value) && value.Length > 0
            ? value
            : throw new XapiException(XapiErrors.InvalidValue, "dest", $"The migrate_receive token has no '{key}'.");

        Master = new Uri(Need(MigrationToken.Master).TrimEnd('/') + "/");
        Xenops = new Uri(Need(MigrationToken.Xenops).TrimEnd('/') + "/");
        Session = Need(MigrationToken.SessionId);
        HostRef = Need(MigrationToken.Host);
    }

    public Uri Master { get; }

    public Uri Xenops { get; }

    /// <summary>The receiving host's own base URL (its xenops URL's authority).</summary>
    public Uri Receiver => new(Xenops.GetLeftPart(UriPartial.Authority) + "/");

    public string Session { get; }

    public string HostRef { get; }

    /// <summary>Calls a method with the token's session as first parameter.</summary>
    public async Task<JsonNode?> CallAsync(string method, CancellationToken ct, params JsonNode?[] args)
    {
        var parameters = new JsonArray(JsonValue.Create(Session));
        foreach (var a in args) parameters.Add(a);
        var request = new JsonObject { ["jsonrpc"] = "2.0", ["method"] = method, ["params"] = parameters, ["id"] = Interlocked.Increment(ref _nextId) };
        JsonNode? reply;
        try
        {
            using var response = await _http.PostAsJsonAsync(new Uri(Master, "jsonrpc"), request, ct);
            response.EnsureSuccessStatusCode();
            reply = JsonNode.Parse(await response.Content.ReadAsStreamAsync(ct));
        }
        catch (Exception e) when (e is HttpRequestException or IOException or System.Text.Json.JsonException)
        {
            throw Unreachable(e.Message);
        }

        if (reply?["error"] is JsonObject error)
        {
            var data = error["data"] as JsonArray ?? [];
            throw new XapiException(error["message"]?.GetValue<string>() ?? XapiErrors.InternalError, data.Select(d => d?.ToString() ?? string.Empty));
        }

        return reply?["result"];
    }

    /// <summary>
    /// Sends a VHD stream into an existing VDI (<c>PUT /import_raw_vdi?format=vhd</c>) and checks
    /// the import task's outcome: the HTTP answer only says the upload was taken.
    /// </summary>
    public async Task ImportVhdAsync(string vdiRef, long length, Func<Stream, CancellationToken, Task> write, CancellationToken ct)
    {
        var uri = new Uri(Receiver, $"import_raw_vdi?session_id={Uri.EscapeDataString(Session)}&vdi={Uri.EscapeDataString(vdiRef)}&format=vhd");
        using var request = new HttpRequestMessage(HttpMethod.Put, uri) { Content = new StreamingContent(length, write) };
        string? task;
        try
        {
            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
            if (!response.IsSuccessStatusCode) throw Unreachable($"import_raw_vdi answered HTTP {(int)response.StatusCode}.");
            task = response.Headers.TryGetValues("task-id", out var values) ? values.FirstOrDefault() : null;
            await response.Content.CopyToAsync(Stream.Null, ct);
        }
        catch (Exception e) when (e is HttpRequestException or IOException)
        {
            throw Unreachable(e.Message);
        }

        if (task is null) return;
        var record = await CallAsync("task.get_record", ct, task) as JsonObject;
        await CallAsync("task.destroy", ct, task);
        if (record?["status"]?.GetValue<string>() is "success") return;
        var info = (record?["error_info"] as JsonArray ?? []).Select(n => n?.ToString() ?? string.Empty).ToList();
        throw info.Count > 0 ? new XapiException(info[0], info.Skip(1)) : Unreachable("import_raw_vdi did not finish.");
    }

    /// <summary>Imports the VM's metadata there (<c>POST {xenops}/import</c>): the Halted VM record; returns its ref.</summary>
    public Task<string> ImportVmAsync(JsonObject metadata, CancellationToken ct) =>
        PostAsync($"import?session_id={Uri.EscapeDataString(Session)}", metadata, ct);

    /// <summary>Hands the domain over (<c>POST {xenops}/receive</c>): the imported VM runs there from now.</summary>
    public Task<string> ReceiveDomainAsync(string vm, string powerState, bool guestAgent, CancellationToken ct) =>
        PostAsync($"receive?session_id={Uri.EscapeDataString(Session)}&vm={Uri.EscapeDataString(vm)}&power_state={powerState}&guest_agent={(guestAgent ? "true" : "false")}",
            new JsonObject(), ct);

    private async Task<string> PostAsync(string relative, JsonObject body, CancellationToken ct)
    {
        JsonNode? reply;
        try
        {
            using var response = await _http.PostAsJsonAsync(new Uri(Xenops, relative), body, ct);
            reply = JsonNode.Parse(await response.Content.ReadAsStreamAsync(ct));
        }
        catch (Exception e) when (e is HttpRequestException or IOException or System.Text.Json.JsonException)
        {
            throw Unreachable(e.Message);
        }

        if (reply?["error"] is JsonArray error && error.Count > 0)
            throw new XapiException(error[0]!.GetValue<string>(), error.Skip(1).Select(n => n?.ToString() ?? string.Empty));
        return reply?["vm"]?.GetValue<string>() ?? throw Unreachable("The destination answered no VM.");
    }

    private XapiException Unreachable(string detail) =>
        new(XapiErrors.VmMigrateFailed, _vmRef, _sourceHostRef, HostRef, $"The destination could not be reached: {detail}");

    public void Dispose() => _http.Dispose();

    /// <summary>A request body of known length written by a callback (the import needs Content-Length).</summary>
    private sealed class StreamingContent(long length, Func<Stream, CancellationToken, Task> write) : HttpContent
    {
        protected override Task SerializeToStreamAsync(Stream stream, System.Net.TransportContext? context) =>
            write(stream, CancellationToken.None);

        protected override Task SerializeToStreamAsync(Stream stream, System.Net.TransportContext? context, CancellationToken cancellationToken) =>
            write(stream, cancellationToken);

        protected override bool TryComputeLength(out long result)
        {
            result = length;
            return true;
        }
    }
}

/// <summary>The keys of the host.migrate_receive token, as xapi names them (xapi_vm_migrate.ml).</summary>
internal static class MigrationToken
{
    public const string Sm = "SM";
    public const string Host = "host";
    public const string Xenops = "xenops";
    public const string SessionId = "session_id";
    public const string Master = "master";

}
