using System.Buffers;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using XenMigrate.XapiSimulator.Model;
using XenMigrate.XapiSimulator.Operations;

namespace XenMigrate.XapiSimulator.Control;

/// <summary>
/// The <c>/sim/</c> endpoints (outside XAPI, unauthenticated, loopback only) for tests and demos:
/// <list type="bullet">
/// <item><c>GET /sim/state</c></item>
/// <item><c>POST /sim/disks/write?vdi=|vm=[&amp;device=0]&amp;offset=N</c>, body = the bytes</item>
/// <item><c>GET /sim/disks/sha256?vdi=|vm=[&amp;device=0]</c></item>
/// <item><c>POST /sim/vms</c> with a <see cref="SeedVmSpec"/> as JSON</item>
/// <item><c>POST /sim/vms/guest-agent?vm=&amp;present=true|false</c></item>
/// <item><c>POST /sim/faults/fail</c> {method, code, params, times}; <c>/sim/faults/delay</c> {method, milliseconds, times};
/// <c>/sim/faults/cut-export</c> {afterBytes}; <c>/sim/faults/throttle</c> {megabytesPerSecond};
/// <c>/sim/faults/host-down</c> {seconds} (the host, /sim included, is unreachable until then); <c>/sim/faults/clear</c></item>
/// </list>
/// </summary>
internal static class SimControlEndpoints
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public static async Task HandleAsync(HttpContext context, SimulatorControl control)
    {
        var path = context.Request.Path.Value ?? string.Empty;
        var post = HttpMethods.IsPost(context.Request.Method);
        try
        {
            switch (path)
            {
                case "/sim/state" when HttpMethods.IsGet(context.Request.Method):
                    await WriteJsonAsync(context, control.DescribeState());
                    return;
                case "/sim/disks/write" when post:
                    await WriteDiskAsync(context, control);
                    return;
                case "/sim/disks/sha256" when HttpMethods.IsGet(context.Request.Method):
                {
                    var vdi = Disk(context, control);
                    await WriteJsonAsync(context, new JsonObject { ["vdi"] = vdi, ["sha256"] = control.GetDiskSha256(vdi) });
                    return;
                }

                case "/sim/vms" when post:
                {
                    var spec = await ReadAsync<SeedVmSpec>(context);
                    var seeded = await control.SeedVmAsync(spec, context.RequestAborted);
                    await WriteJsonAsync(context, JsonSerializer.SerializeToNode(seeded, Json));
                    return;
                }

                case "/sim/vms/guest-agent" when post:
                    control.SetGuestAgent(Required(context, "vm"), bool.Parse(Required(context, "present")));
                    context.Response.StatusCode = StatusCodes.Status204NoContent;
                    return;
                case "/sim/faults/fail" when post:
                {
                    var body = await ReadAsync<FailRequest>(context);
                    control.Faults.FailNext(body.Method, body.Code, body.Params, body.Times ?? 1);
                    break;
                }

                case "/sim/faults/delay" when post:
                {
                    var body = await ReadAsync<DelayRequest>(context);
                    control.Faults.DelayNext(body.Method, TimeSpan.FromMilliseconds(body.Milliseconds), body.Times ?? 1);
                    break;
                }

                case "/sim/faults/cut-export" when post:
                    control.Faults.CutNextExportAfter((await ReadAsync<CutRequest>(context)).AfterBytes);
                    break;
                case "/sim/faults/throttle" when post:
                    control.Faults.Throttle((await ReadAsync<ThrottleRequest>(context)).MegabytesPerSecond);
                    break;
                case "/sim/faults/host-down" when post:
                {
                    var seconds = (await ReadOptionalAsync<HostDownRequest>(context))?.Seconds;
                    context.Response.StatusCode = StatusCodes.Status202Accepted;
                    await context.Response.CompleteAsync();
                    // Going down drops this very connection: give the answer a moment to reach the caller.
                    _ = Task.Run(async () =>
                    {
                        await Task.Delay(100);
                        control.Faults.SetHostDown(seconds is > 0 ? TimeSpan.FromSeconds(seconds.Value) : null);
                    });
                    return;
                }

                case "/sim/faults/clear" when post:
                    control.Faults.Clear();
                    break;
                default:
                    context.Response.StatusCode = StatusCodes.Status404NotFound;
                    return;
            }

            context.Response.StatusCode = StatusCodes.Status204NoContent;
        }
        catch (Exception e) when (e is XapiException or ArgumentException or FormatException or JsonException or InvalidOperationException)
        {
            context.Response.StatusCode = e is XapiException { Code: XapiErrors.HandleInvalid } ? StatusCodes.Status404NotFound : StatusCodes.Status400BadRequest;
            var error = e is XapiException x ? new JsonArray(x.ErrorInfo.Select(s => (JsonNode?)s).ToArray()) : new JsonArray(e.Message);
            await WriteJsonAsync(context, new JsonObject { ["error"] = error });
        }
    }

    /// <summary>Streams the body into the disk a chunk at a time (never whole in memory).</summary>
    private static async Task WriteDiskAsync(HttpContext context, SimulatorControl control)
    {
        var vdi = Disk(context, control);
        var offset = long.Parse(Required(context, "offset"), NumberStyles.None, CultureInfo.InvariantCulture);
        var buffer = ArrayPool<byte>.Shared.Rent(1024 * 1024);
        long written = 0;
        try
        {
            int n;
            while ((n = await context.Request.Body.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false, context.RequestAborted)) > 0)
            {
                control.WriteDisk(vdi, offset + written, buffer.AsSpan(0, n));
                written += n;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        await WriteJsonAsync(context, new JsonObject { ["vdi"] = vdi, ["written"] = written });
    }

    private static string Disk(HttpContext context, SimulatorControl control)
    {
        var query = context.Request.Query;
        if (query["vdi"].FirstOrDefault() is { Length: > 0 } vdi) return vdi;
        if (query["vm"].FirstOrDefault() is { Length: > 0 } vm) return control.VmDisk(vm, query["device"].FirstOrDefault() ?? "0");
        throw new ArgumentException("Name the disk with vdi= (ref or uuid) or vm= (ref, uuid or name) [&device=].");
    }

    private static string Required(HttpContext context, string name) =>
        context.Request.Query[name].FirstOrDefault() is { Length: > 0 } value ? value : throw new ArgumentException($"Query parameter '{name}' is required.");

    private static async Task<T> ReadAsync<T>(HttpContext context) =>
        await JsonSerializer.DeserializeAsync<T>(context.Request.Body, Json, context.RequestAborted)
        ?? throw new ArgumentException("A JSON body is required.");

    /// <summary>The JSON body, or null when the request has none.</summary>
    private static async Task<T?> ReadOptionalAsync<T>(HttpContext context)
        where T : class
    {
        using var reader = new StreamReader(context.Request.Body);
        var text = await reader.ReadToEndAsync(context.RequestAborted);
        return string.IsNullOrWhiteSpace(text) ? null : JsonSerializer.Deserialize<T>(text, Json);
    }

    private static async Task WriteJsonAsync(HttpContext context, JsonNode? body)
    {
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(body?.ToJsonString(Json) ?? "null", context.RequestAborted);
    }

    private sealed record FailRequest(string Method, string Code, IReadOnlyList<string>? Params, int? Times);

    private sealed record DelayRequest(string Method, double Milliseconds, int? Times);

    private sealed record CutRequest(long AfterBytes);

    private sealed record ThrottleRequest(double? MegabytesPerSecond);

    private sealed record HostDownRequest(double? Seconds);
}
