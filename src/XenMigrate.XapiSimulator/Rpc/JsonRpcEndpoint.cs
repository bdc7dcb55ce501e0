using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using XenMigrate.XapiSimulator.Model;
using XenMigrate.XapiSimulator.Operations;

namespace XenMigrate.XapiSimulator.Rpc;

/// <summary>
/// <c>POST /jsonrpc</c> as xapi serves it: the version is detected per request (no "jsonrpc"
/// member = 1.0, "2.0" = 2.0, anything else is malformed) and mirrored in the reply; errors are
/// <c>{"code":1,"message":CODE,"data":[params]}</c> in 2.0 and <c>[CODE, params…]</c> in 1.0;
/// a malformed request gets HTTP 500 with an HTML body.
/// </summary>
internal static class JsonRpcEndpoint
{
    private const int MaxRequestBytes = 64 * 1024 * 1024;

    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static async Task HandleAsync(HttpContext context, HostRuntime host)
    {
        JsonObject request;
        try
        {
            request = await ReadRequestAsync(context);
        }
        catch (MalformedRequestException e)
        {
            await WriteInternalErrorAsync(context, e.Message);
            return;
        }

        var version2 = request.ContainsKey("jsonrpc");
        var id = request["id"]!.DeepClone();
        var method = request["method"]!.GetValue<string>();
        var parameters = request["params"] is JsonArray array ? array.Select(p => p?.DeepClone()).ToList() : [];
        JsonObject response;
        try
        {
            var result = await host.Dispatcher.CallAsync(method, parameters, context.RequestAborted);
            response = version2
                ? new JsonObject { ["jsonrpc"] = "2.0", ["result"] = result ?? string.Empty, ["id"] = id }
                : new JsonObject { ["result"] = result ?? string.Empty, ["error"] = null, ["id"] = id };
        }
        catch (Exception e) when (e is not OperationCanceledException || !context.RequestAborted.IsCancellationRequested)
        {
            var failure = XapiFailures.From(e);
            response = version2
                ? new JsonObject
                {
                    ["jsonrpc"] = "2.0",
                    ["error"] = new JsonObject
                    {
                        ["code"] = 1,
                        ["message"] = failure.Code,
                        ["data"] = new JsonArray(failure.Parameters.Select(p => (JsonNode?)p).ToArray()),
                    },
                    ["id"] = id,
                }
                : new JsonObject
                {
                    ["result"] = null,
                    ["error"] = new JsonArray(failure.ErrorInfo.Select(p => (JsonNode?)p).ToArray()),
                    ["id"] = id,
                };
        }

        // api_server.ml jsoncallback: the whole answer with its Content-Length, and CORS headers.
        using var body = new MemoryStream();
        await using (var writer = new Utf8JsonWriter(body, WriterOptions)) response.WriteTo(writer);
        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.ContentType = "application/json";
        context.Response.Headers.AccessControlAllowOrigin = "*";
        context.Response.Headers.AccessControlAllowHeaders = "X-Requested-With";
        context.Response.ContentLength = body.Length;
        await context.Response.Body.WriteAsync(body.GetBuffer().AsMemory(0, (int)body.Length), context.RequestAborted);
    }

    private static async Task<JsonObject> ReadRequestAsync(HttpContext context)
    {
        if (context.Request.ContentLength > MaxRequestBytes) throw new MalformedRequestException("Request too large");
        JsonNode? body;
        try
        {
            using var buffer = new MemoryStream();
            await context.Request.Body.CopyToAsync(buffer, context.RequestAborted);
            if (buffer.Length > MaxRequestBytes) throw new MalformedRequestException("Request too large");
            body = JsonNode.Parse(buffer.ToArray());
        }
        catch (JsonException e)
        {
            throw new MalformedRequestException($"Jsonrpc.Malformed_method_request(\"{e.Message}\")");
        }

        if (body is not JsonObject request) throw new MalformedRequestException("Jsonrpc.Malformed_method_request(\"not an object\")");
        if (request.TryGetPropertyValue("jsonrpc", out var version) &&
            !(version is JsonValue v && v.TryGetValue<string>(out var text) && text == "2.0"))
            throw new MalformedRequestException("Jsonrpc.Malformed_method_request(\"unsupported jsonrpc version\")");
        if (request["method"] is not JsonValue m || !m.TryGetValue<string>(out _))
            throw new MalformedRequestException("Jsonrpc.Malformed_method_request(\"method\")");
        if (request["id"] is null)
            throw new MalformedRequestException("Jsonrpc.Malformed_method_request(\"id\")");
        var hasParams = request.TryGetPropertyValue("params", out var parameters);
        var version2 = request.ContainsKey("jsonrpc");
        if ((!hasParams && !version2) || (hasParams && parameters is not JsonArray))
            throw new MalformedRequestException("Jsonrpc.Malformed_method_request(\"params\")");
        return request;
    }

    /// <summary>http_svr.ml response_internal_error: HTTP 500 with xapi's HTML page.</summary>
    public static async Task WriteInternalErrorAsync(HttpContext context, string detail)
    {
        context.Response.StatusCode = StatusCodes.Status500InternalServerError;
        context.Response.ContentType = "text/html";
        await context.Response.WriteAsync(
            "<html><body><h1>HTTP 500 internal server error</h1>An unexpected error occurred; please wait a while and try again. " +
            "If the problem persists, please contact your support representative.<h1> Additional information </h1>" +
            System.Net.WebUtility.HtmlEncode(detail) + "</body></html>",
            context.RequestAborted);
    }

    private sealed class MalformedRequestException(string message) : Exception(message);
}
