using System.Text;
using Microsoft.AspNetCore.Http;
using XenMigrate.XapiSimulator.Model;
using XenMigrate.XapiSimulator.Operations;

namespace XenMigrate.XapiSimulator.Rpc;

/// <summary>
/// XML-RPC on <c>POST /</c>, <c>/RPC2</c> and <c>/json</c> (xapi.ml ~868: post_root, post_RPC2,
/// post_json all go to api_server.ml <c>callback</c>), through the same dispatcher and sessions
/// as JSON-RPC. The answer is <c>text/xml</c> with xapi's Status/Value/ErrorDescription struct
/// (system.listMethods: its list bare); a body that is not an XML-RPC call is an HTTP 500 page.
/// </summary>
internal static class XmlRpcEndpoint
{
    private const int MaxRequestBytes = 64 * 1024 * 1024;

    public static async Task HandleAsync(HttpContext context, HostRuntime host)
    {
        string method;
        List<System.Text.Json.Nodes.JsonNode?> parameters;
        try
        {
            if (context.Request.ContentLength > MaxRequestBytes) throw new FormatException("Request too large");
            using var buffer = new MemoryStream();
            await context.Request.Body.CopyToAsync(buffer, context.RequestAborted);
            if (buffer.Length > MaxRequestBytes) throw new FormatException("Request too large");
            (method, parameters) = XmlRpcCodec.ParseCall(Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length));
        }
        catch (FormatException e)
        {
            await JsonRpcEndpoint.WriteInternalErrorAsync(context, e.Message);
            return;
        }

        string response;
        try
        {
            var pending = host.Dispatcher.CallAsync(method, parameters, context.RequestAborted, out var resultType);
            var result = await pending;
            response = method == "system.listMethods"
                ? XmlRpcCodec.BareResponse(result, resultType, host.Model)
                : XmlRpcCodec.SuccessResponse(result, resultType, host.Model);
        }
        catch (Exception e) when (e is not OperationCanceledException || !context.RequestAborted.IsCancellationRequested)
        {
            response = XmlRpcCodec.FailureResponse(XapiFailures.From(e).ErrorInfo);
        }

        var bytes = Encoding.UTF8.GetBytes(response);
        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.ContentType = "text/xml";
        context.Response.Headers.AccessControlAllowOrigin = "*";
        context.Response.Headers.AccessControlAllowHeaders = "X-Requested-With";
        context.Response.ContentLength = bytes.Length;
        await context.Response.Body.WriteAsync(bytes, context.RequestAborted);
    }
}
