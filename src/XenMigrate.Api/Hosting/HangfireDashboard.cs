using System.Net;
using Hangfire;
using Hangfire.Dashboard;
using Microsoft.AspNetCore.Http.Features;
using XenMigrate.Api.Identity;
using XenMigrate.Api.Nova.Faults;
using XenMigrate.Infrastructure.Identity;

namespace XenMigrate.Api.Hosting;

/// <summary>
/// The Hangfire dashboard at /hangfire, for admins only. An admin token is taken from the
/// X-Auth-Token header (API clients) or from an HttpOnly, SameSite=Strict cookie that the small
/// form at /hangfire-login sets (browsers cannot add headers to page loads; tokens never go in URLs).
/// The dashboard only shows: jobs named by server and migration, no buttons, no storage path.
/// </summary>
public static class HangfireDashboard
{
    private const string Cookie = "xenmigrate_dashboard_token";

    public static void MapHangfireDashboard(this WebApplication app)
    {
        app.UseWhen(c => IsDashboard(c.Request.Path) || c.Request.Path.StartsWithSegments("/hangfire-login", StringComparison.OrdinalIgnoreCase),
            branch => branch.Use(ReadFormFirstAsync));

        app.UseHangfireDashboard("/hangfire", new DashboardOptions
        {
            Authorization = [],
            AsyncAuthorization = [new AdminTokenFilter()],
            DashboardTitle = "XenMigrate jobs",
            AppPath = "/swagger",
            // Steps are driven by Nova's API and the reconciler; a Requeue or Delete here would re-run
            // a finished step or drop a running one behind the workflow's back.
            IsReadOnlyFunc = _ => true,
            // The storage's connection string is a file path or a server with credentials.
            DisplayStorageConnectionString = false,
        });

        app.MapGet("/hangfire-login", () => Results.Content(LoginPage(null), "text/html")).AllowAnonymous().ExcludeFromDescription();
        app.MapPost("/hangfire-login", async (HttpContext http, KeystoneIdentityService identity) =>
        {
            if (!http.Request.HasFormContentType)
                return Results.Content(LoginPage("Send the token from the form."), "text/html", statusCode: StatusCodes.Status415UnsupportedMediaType);
            var form = await http.Request.ReadFormAsync(http.RequestAborted);
            var token = form["token"].ToString().Trim();
            var caller = token.Length == 0 ? null : await identity.ValidateAsync(token, http.RequestAborted);
            if (caller is not { IsAdmin: true })
                return Results.Content(LoginPage("That is not a valid admin token."), "text/html", statusCode: StatusCodes.Status403Forbidden);
            http.Response.Cookies.Append(Cookie, token, new CookieOptions
            {
                HttpOnly = true, SameSite = SameSiteMode.Strict, Secure = http.Request.IsHttps, Path = "/hangfire",
                Expires = caller.Token.ExpiresAt,
            });
            return Results.Redirect("/hangfire");
        }).AllowAnonymous().DisableAntiforgery().ExcludeFromDescription();
    }

    private static bool IsDashboard(PathString path) => path.StartsWithSegments("/hangfire", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// Hangfire reads a form on some routes (/stats, the job commands) without checking that the
    /// request carries one, and neither it nor a handler expects a broken one: both throw. So a
    /// form is read here first (a malformed one is a 400), and a dashboard request without one
    /// reads as an empty form.
    /// </summary>
    private static async Task ReadFormFirstAsync(HttpContext context, RequestDelegate next)
    {
        if (context.Request.HasFormContentType)
        {
            try
            {
                await context.Request.ReadFormAsync(context.RequestAborted);
            }
            catch (Exception e) when (e is InvalidDataException || (e is IOException and not BadHttpRequestException && !context.RequestAborted.IsCancellationRequested))
            {
                await FaultWriter.WriteAsync(context, StatusCodes.Status400BadRequest, NovaMessages.MalformedBody);
                return;
            }
        }
        else if (IsDashboard(context.Request.Path))
        {
            context.Features.Set<IFormFeature>(new FormFeature(FormCollection.Empty));
        }

        await next(context);
    }

    private static string LoginPage(string? error) => $$"""
        <!doctype html><html><head><meta charset="utf-8"><title>XenMigrate jobs</title></head>
        <body style="font-family:sans-serif;max-width:40em;margin:3em auto">
        <h1>XenMigrate jobs</h1>
        <p>The job dashboard is for admins. Paste an admin token (from <code>POST /identity/v3/auth/tokens</code>,
        header <code>X-Subject-Token</code>, or <code>openstack token issue</code>).</p>
        {{(error is null ? "" : $"<p style=\"color:#b00\">{WebUtility.HtmlEncode(error)}</p>")}}
        <form method="post" action="/hangfire-login"><input name="token" size="60" autocomplete="off" autofocus>
        <button type="submit">Open the dashboard</button></form></body></html>
        """;

    private sealed class AdminTokenFilter : IDashboardAsyncAuthorizationFilter
    {
        public async Task<bool> AuthorizeAsync(DashboardContext context)
        {
            var http = context.GetHttpContext();
            var token = http.Request.Headers[KeystoneAuthenticationHandler.TokenHeader].ToString();
            if (token.Length == 0) token = http.Request.Cookies[Cookie] ?? string.Empty;
            if (token.Length == 0) return false;
            var identity = http.RequestServices.GetRequiredService<KeystoneIdentityService>();
            return await identity.ValidateAsync(token, http.RequestAborted) is { IsAdmin: true };
        }
    }
}
