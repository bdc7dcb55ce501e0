using Microsoft.AspNetCore.Http;

namespace XenMigrate.XapiSimulator.Http;

/// <summary>
/// xapi's handler lookup (http_svr.ml ~322-333 and handle_one ~532): a table per HTTP method,
/// each matched by the longest registered prefix of the request's path (a radix tree there), so
/// <c>/export_raw_vdi/</c> and <c>/jsonrpc?x</c> reach their handlers and any POST reaches
/// XML-RPC at <c>/</c>. A method with no table is a 501; a path no prefix matches is a 403
/// (http_svr's default_callback).
/// </summary>
internal sealed class HandlerTable
{
    private readonly Dictionary<string, List<(string Prefix, RequestDelegate Handler)>> _byMethod = new(StringComparer.OrdinalIgnoreCase);

    public HandlerTable Add(string method, string prefix, RequestDelegate handler)
    {
        if (!_byMethod.TryGetValue(method, out var entries)) _byMethod[method] = entries = [];
        entries.Add((prefix, handler));
        return this;
    }

    public Task HandleAsync(HttpContext context)
    {
        if (!_byMethod.TryGetValue(context.Request.Method, out var entries))
        {
            return ErrorPageAsync(context, StatusCodes.Status501NotImplemented,
                $"<html><body><h1>HTTP 501 Method Not Implemented</h1><p>{System.Net.WebUtility.HtmlEncode(context.Request.Method)} not supported.<br /></p></body></html>");
        }

        var path = context.Request.Path.Value ?? string.Empty;
        RequestDelegate? best = null;
        var bestLength = -1;
        foreach (var (prefix, handler) in entries)
        {
            if (prefix.Length > bestLength && path.StartsWith(prefix, StringComparison.Ordinal))
            {
                best = handler;
                bestLength = prefix.Length;
            }
        }

        return best is not null
            ? best(context)
            : ErrorPageAsync(context, StatusCodes.Status403Forbidden,
                "<html><body><h1>HTTP 403 forbidden</h1>Access to the requested resource is forbidden.</body></html>");
    }

    /// <summary>http_svr.ml response_error_html: text/html, Connection: close, no caching.</summary>
    private static Task ErrorPageAsync(HttpContext context, int status, string body)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "text/html";
        context.Response.Headers.Connection = "close";
        context.Response.Headers.CacheControl = "no-cache, no-store";
        var bytes = System.Text.Encoding.UTF8.GetBytes(body);
        context.Response.ContentLength = bytes.Length;
        return context.Response.Body.WriteAsync(bytes, context.RequestAborted).AsTask();
    }
}
