using System.Globalization;
using System.Text;
using Microsoft.AspNetCore.Http;
using XenMigrate.XapiSimulator.Model;
using XenMigrate.XapiSimulator.Operations;

namespace XenMigrate.XapiSimulator.Http;

/// <summary>
/// An OCaml <c>failwith</c> in xapi: the task fails with INTERNAL_ERROR [message] (exnHelper.ml
/// error_of_exn's catch-all) and Printexc shows it as <c>Failure("message")</c>.
/// </summary>
internal sealed class OcamlFailure(string message) : Exception(message);

/// <summary>
/// How a disk transfer fails once its <c>200 OK</c> is out: the handler fails the task and
/// re-raises (export_raw_vdi.ml:117-120, import_raw_vdi.ml:228-232), and Http_svr answers the
/// exception with a whole <c>HTTP/1.1 500</c> response written after the 200's headers, so it
/// lands inside the 200's body (http_svr.ml:539-563, response_internal_error 200-218; the
/// "HTTP/ in a 200 body" that Xen Orchestra detects, @xen-orchestra/xapi/vdi.mjs:17-46, xen-api
/// issue #4603). Then the connection closes.
/// </summary>
internal static class TransferFailure
{
    /// <summary>The bytes Http_svr writes: the 500 response with its HTML, headers as Http.Response.to_wire_string makes them.</summary>
    public static byte[] Page(Exception error)
    {
        var body = "<html><body><h1>HTTP 500 internal server error</h1>An unexpected error occurred; please wait a while and try again. " +
                   "If the problem persists, please contact your support representative.<h1> Additional information </h1>" +
                   EscapeHtml(Printed(error)) + "</body></html>";
        var length = Encoding.UTF8.GetByteCount(body);
        var response = "HTTP/1.1 500 Internal Error\r\n" +
                       string.Create(CultureInfo.InvariantCulture, $"content-length: {length}\r\n") +
                       "content-type: text/html\r\nconnection: close\r\ncache-control: no-cache, no-store\r\n\r\n" + body;
        return Encoding.UTF8.GetBytes(response);
    }

    /// <summary>
    /// Fails the task, then (when the client is still there) writes the 500 page into the body
    /// already started and lets the connection close.
    /// </summary>
    public static async Task FailAsync(HttpContext context, HostRuntime host, string taskRef, Exception error)
    {
        host.Tasks.Fail(taskRef, error);
        if (context.RequestAborted.IsCancellationRequested) return;
        try
        {
            await context.Response.Body.WriteAsync(Page(error), CancellationToken.None);
            await context.Response.Body.FlushAsync(CancellationToken.None);
        }
        catch (Exception e) when (e is IOException or InvalidOperationException or OperationCanceledException)
        {
            // The client went away first.
        }
    }

    /// <summary>Printexc.to_string as xapi registers it (api_errors.ml:20-37): Server_error(CODE, [ a; b ]).</summary>
    private static string Printed(Exception error) => error switch
    {
        OcamlFailure failure => $"Failure(\"{failure.Message}\")",
        _ => XapiFailures.From(error) is var x ? $"Server_error({x.Code}, [ {string.Join("; ", x.Parameters)} ])" : error.Message,
    };

    /// <summary>Http_svr.escape_html (http_svr.ml:343-357).</summary>
    private static string EscapeHtml(string text) =>
        text.Replace("&", "&amp;", StringComparison.Ordinal).Replace("<", "&lt;", StringComparison.Ordinal)
            .Replace(">", "&gt;", StringComparison.Ordinal).Replace("'", "&apos;", StringComparison.Ordinal)
            .Replace("\"", "&quot;", StringComparison.Ordinal);
}
