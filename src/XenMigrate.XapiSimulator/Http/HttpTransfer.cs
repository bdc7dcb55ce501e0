using System.Net.Http.Headers;
using System.Text;
using Microsoft.AspNetCore.Http;
using XenMigrate.XapiSimulator.Model;

namespace XenMigrate.XapiSimulator.Http;

/// <summary>What the export and import handlers share: authentication, object lookup, framing.</summary>
internal static class HttpTransfer
{
    /// <summary>
    /// The caller's session: <c>session_id</c> in the query or a cookie, or HTTP Basic credentials
    /// (which get a session for the duration of the request, as xapi does).
    /// </summary>
    private static (string? Session, bool Temporary) Authenticate(HttpContext context, HostRuntime host)
    {
        var db = host.Database;
        var session = context.Request.Query["session_id"].FirstOrDefault() ?? context.Request.Cookies["session_id"];
        if (!string.IsNullOrEmpty(session))
        {
            lock (db.Sync) return (db.Find("session", session) is null ? null : session, false);
        }

        if (AuthenticationHeaderValue.TryParse(context.Request.Headers.Authorization, out var auth) &&
            string.Equals(auth.Scheme, "Basic", StringComparison.OrdinalIgnoreCase) && auth.Parameter is not null)
        {
            string decoded;
            try
            {
                decoded = Encoding.UTF8.GetString(Convert.FromBase64String(auth.Parameter));
            }
            catch (FormatException)
            {
                return (null, false);
            }

            var colon = decoded.IndexOf(':', StringComparison.Ordinal);
            if (colon > 0 && decoded[..colon] == host.Options.Username && decoded[(colon + 1)..] == host.Options.Password)
            {
                lock (db.Sync)
                {
                    var created = db.Create("session", new Dictionary<string, System.Text.Json.Nodes.JsonNode?>
                    {
                        ["this_host"] = host.HostRef,
                        ["last_active"] = host.Now(),
                        ["is_local_superuser"] = true,
                        ["auth_user_name"] = host.Options.Username,
                        ["originator"] = "http-basic",
                    });
                    return (created.Ref, true);
                }
            }
        }

        return (null, false);
    }

    private static void EndTemporarySession(HostRuntime host, string? session, bool temporary)
    {
        if (!temporary || session is null) return;
        lock (host.Database.Sync)
        {
            if (host.Database.Find("session", session) is { } s) host.Database.Destroy(s);
        }
    }

    /// <summary>
    /// Serves one request as xapi's HTTP handlers do: authenticated by session_id or HTTP basic auth
    /// (401 otherwise), with a session made only for this request ended afterwards.
    /// </summary>
    public static async Task WithSessionAsync(HttpContext context, HostRuntime host, Func<string, Task> handle)
    {
        var (session, temporary) = Authenticate(context, host);
        if (session is null)
        {
            await UnauthorizedAsync(context);
            return;
        }

        try
        {
            await handle(session);
        }
        finally
        {
            EndTemporarySession(host, session, temporary);
        }
    }

    private static async Task UnauthorizedAsync(HttpContext context)
    {
        context.Response.StatusCode = StatusCodes.Status401Unauthorized;
        context.Response.Headers.WWWAuthenticate = "Basic realm=\"xapi\"";
        await context.Response.WriteAsync("<html><body><h1>HTTP 401 unauthorised</h1></body></html>", context.RequestAborted);
    }

    public static async Task ErrorAsync(HttpContext context, int status, string message)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "text/html";
        await context.Response.WriteAsync($"<html><body><h1>HTTP {status}</h1>{System.Net.WebUtility.HtmlEncode(message)}</body></html>", context.RequestAborted);
    }

    /// <summary>
    /// xapi's check_sr_availability: when this host cannot see the SR, the request is answered
    /// with a 302 to a member that can (same path and query, its address, this pool's port),
    /// and true is returned. A real pool answers https on 443; the simulator keeps its scheme and port.
    /// </summary>
    public static async Task<bool> RedirectUnlessLocalAsync(HttpContext context, HostRuntime host, string srRef)
    {
        HostRuntime? other;
        lock (host.Database.Sync)
        {
            if (host.Pool.HostSeesSr(host.HostRef, srRef)) return false;
            other = host.Pool.Members.FirstOrDefault(m => host.Pool.HostSeesSr(m.HostRef, srRef));
        }

        if (other is null)
        {
            await ErrorAsync(context, StatusCodes.Status500InternalServerError, $"No host can see SR {srRef}.");
            return true;
        }

        context.Response.StatusCode = StatusCodes.Status302Found;
        context.Response.Headers.Location = $"http://{other.Address}:{other.Port}{context.Request.Path}{context.Request.QueryString}";
        context.Response.Headers.Connection = "close";
        return true;
    }

    /// <summary>A VDI named by ref or by uuid (xapi accepts both); call under the database lock.</summary>
    public static XapiObject? FindVdi(XapiDatabase db, string? refOrUuid)
    {
        if (string.IsNullOrEmpty(refOrUuid)) return null;
        return db.Find("VDI", refOrUuid) ?? db.FindByUuid("VDI", refOrUuid);
    }

    /// <summary>
    /// No Content-Length, no chunked framing and no Transfer-Encoding header: the body ends when
    /// the connection closes, as xapi sends it (http.ml 44-55). For HTTP/1.1 Kestrel would
    /// otherwise chunk; an explicit non-chunked Transfer-Encoding makes it frame nothing and close
    /// the connection at the end, and <see cref="CloseDelimitedResponses"/> keeps that header off the wire.
    /// </summary>
    public static void UseCloseDelimitedBody(HttpContext context)
    {
        context.Response.Headers.Connection = "close";
        if (!HttpProtocol.IsHttp11(context.Request.Protocol)) return;
        context.Response.Headers.TransferEncoding = "identity";
        context.Features.Get<ICloseDelimitedResponseFeature>()?.DropTransferEncodingFromNextResponseHead();
    }

    /// <summary>The task to report into: the caller's <c>task_id</c>, or a new one. Null when task_id is unknown.</summary>
    public static string? TaskFor(HttpContext context, HostRuntime host, string label, string? session)
    {
        var given = context.Request.Query["task_id"].FirstOrDefault();
        lock (host.Database.Sync)
        {
            if (!string.IsNullOrEmpty(given)) return host.Database.Find("task", given)?.Ref;
            return host.Tasks.Create(label, string.Empty, session, host.HostRef).Ref;
        }
    }
}
