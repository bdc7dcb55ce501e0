using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;
using XenMigrate.Api.Nova;
using XenMigrate.Api.Nova.Faults;
using XenMigrate.Infrastructure.Identity;

namespace XenMigrate.Api.Identity;

/// <summary>
/// Authenticates <c>X-Auth-Token</c> the way keystonemiddleware does in front of Nova, and answers
/// a missing or bad token with Keystone's 401 body and <c>WWW-Authenticate: Keystone uri="…"</c>.
/// </summary>
public sealed class KeystoneAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder,
    KeystoneIdentityService identity)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "Keystone";
    public const string TokenHeader = "X-Auth-Token";
    private const string CallerItem = "XenMigrate.Caller";

    public static AuthenticatedCaller? CallerOf(HttpContext context) =>
        context.Items.TryGetValue(CallerItem, out var c) ? c as AuthenticatedCaller : null;

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var token = Request.Headers[TokenHeader].ToString();
        if (string.IsNullOrEmpty(token)) return AuthenticateResult.NoResult();

        var caller = await identity.ValidateAsync(token, Context.RequestAborted);
        if (caller is null) return AuthenticateResult.Fail("The token is invalid or has expired.");

        Context.Items[CallerItem] = caller;
        var claims = new List<Claim>
        {
            new(ClaimTypes.NameIdentifier, caller.User.Id),
            new(ClaimTypes.Name, caller.User.Name),
            new("project_id", caller.Project.Id),
        };
        claims.AddRange(caller.Roles.Select(r => new Claim(ClaimTypes.Role, r)));
        var principal = new ClaimsPrincipal(new ClaimsIdentity(claims, SchemeName));
        return AuthenticateResult.Success(new AuthenticationTicket(principal, SchemeName));
    }

    protected override Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        Response.Headers.WWWAuthenticate = $"Keystone uri=\"{PublicUrls.Base(Context)}/identity\"";
        return WriteKeystoneErrorAsync(Context, StatusCodes.Status401Unauthorized, KeystoneMessages.AuthenticationRequired);
    }

    /// <summary>Keystone's error body, which keystonemiddleware also returns for Nova routes.</summary>
    public static Task WriteKeystoneErrorAsync(HttpContext context, int status, string message)
    {
        var response = context.Response;
        response.StatusCode = status;
        response.ContentType = "application/json";
        var title = Microsoft.AspNetCore.WebUtilities.ReasonPhrases.GetReasonPhrase(status);
        return response.WriteAsync(
            new System.Text.Json.Nodes.JsonObject
            {
                ["error"] = new System.Text.Json.Nodes.JsonObject { ["code"] = status, ["title"] = title, ["message"] = message },
            }.ToJsonString(),
            context.RequestAborted);
    }
}

public static class KeystoneMessages
{
    public const string AuthenticationRequired = "The request you have made requires authentication.";
    public const string NotJson = "Expecting to find application/json in Content-Type header. The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.";
    public const string MalformedJson = "Expecting to find valid JSON in request body. The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.";

    public static string Missing(string attribute, string target) =>
        $"'{attribute}' is a required property in {target}. The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.";

    public const string UnsupportedMethod = "Attempted to authenticate with an unsupported method.";
}
