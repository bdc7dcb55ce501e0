using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using XenMigrate.Api.Http;
using XenMigrate.Api.Nova;
using XenMigrate.Domain.Identity;
using XenMigrate.Infrastructure.Identity;

namespace XenMigrate.Api.Identity;

/// <summary>
/// The slice of Keystone v3 that OpenStack clients need before they talk to Nova: version
/// discovery, password authentication scoped to a project, and token validation.
/// </summary>
public static class KeystoneApi
{
    private const int MaxAuthBodyBytes = 64 * 1024;
    private const string Region = "RegionOne";

    public static void MapKeystone(this IEndpointRouteBuilder app)
    {
        var identity = app.MapGroup("/identity").WithTags("Identity (Keystone v3)").AllowAnonymous();
        identity.MapGet("", (HttpContext http) =>
                Results.Json(new JsonObject { ["versions"] = new JsonObject { ["values"] = new JsonArray(VersionEntry(http)) } },
                    statusCode: StatusCodes.Status300MultipleChoices))
            .Produces(StatusCodes.Status300MultipleChoices).WithSummary("Identity API versions");
        identity.MapGet("/v3", (HttpContext http) => Results.Json(new JsonObject { ["version"] = VersionEntry(http) }))
            .WithSummary("Identity v3 version document");
        identity.MapPost("/v3/auth/tokens", IssueToken).Produces(StatusCodes.Status201Created)
            .WithSummary("Authenticate with a password; the token comes back in X-Subject-Token");
        identity.MapGet("/v3/auth/tokens", ValidateToken).WithSummary("Validate the token in X-Subject-Token");
        identity.MapMethods("/v3/auth/tokens", ["HEAD"], CheckToken).ExcludeFromDescription();
        identity.MapDelete("/v3/auth/tokens", RevokeToken).Produces(StatusCodes.Status204NoContent).WithSummary("Revoke the token in X-Subject-Token (your own, or any as an admin)");
        identity.MapKeystoneProjects();
    }

    private static JsonObject VersionEntry(HttpContext http) => new()
    {
        ["id"] = "v3.14",
        ["status"] = "stable",
        ["updated"] = "2020-04-07T00:00:00Z",
        ["links"] = new JsonArray(new JsonObject { ["rel"] = "self", ["href"] = PublicUrls.Base(http) + "/identity/v3/" }),
        ["media-types"] = new JsonArray(new JsonObject
        {
            ["base"] = "application/json",
            ["type"] = "application/vnd.openstack.identity-v3+json",
        }),
    };

    private static async Task<IResult> IssueToken(HttpContext http, KeystoneIdentityService identity, CancellationToken ct)
    {
        var request = await ReadAuthRequestAsync(http, ct);
        if (request is KeystoneError error) return Answer(http, error);
        var (user, password, scope) = ((AuthRequest)request).Parts;

        var issued = await identity.IssueTokenAsync(user, password, scope, ct);
        if (issued is null) return Answer(http, new KeystoneError(401, KeystoneMessages.AuthenticationRequired));

        http.Response.Headers["X-Subject-Token"] = issued.Value.Token;
        return Results.Json(TokenBody(http, issued.Value.Caller), statusCode: StatusCodes.Status201Created);
    }

    /// <summary>Keystone sends its <c>WWW-Authenticate</c> challenge with every 401, a failed login included.</summary>
    private static IResult Answer(HttpContext http, KeystoneError error)
    {
        if (error.Status == StatusCodes.Status401Unauthorized)
            http.Response.Headers.WWWAuthenticate = $"Keystone uri=\"{PublicUrls.Base(http)}/identity\"";
        return error.Result;
    }

    private static async Task<IResult> ValidateToken(HttpContext http, KeystoneIdentityService identity, CancellationToken ct)
    {
        var (caller, problem) = await SubjectAsync(http, identity, ct);
        return problem ?? Results.Json(TokenBody(http, caller!));
    }

    /// <summary>Keystone's revoke_token: 204, the token refused from then on (404 for one that is not valid, 403 for another user's).</summary>
    private static async Task<IResult> RevokeToken(HttpContext http, KeystoneIdentityService identity, CancellationToken ct)
    {
        var (caller, problem) = await SubjectAsync(http, identity, ct, "identity:revoke_token");
        if (problem is not null) return problem;
        await identity.RevokeAsync(caller!.Token, ct);
        return Results.NoContent();
    }

    private static async Task<IResult> CheckToken(HttpContext http, KeystoneIdentityService identity, CancellationToken ct)
    {
        var (_, problem) = await SubjectAsync(http, identity, ct);
        return problem is null ? Results.Ok() : Results.StatusCode(problem is IStatusCodeHttpResult s ? s.StatusCode ?? 404 : 404);
    }

    /// <summary>The caller of an identity route by their own X-Auth-Token, or Keystone's 401 with its challenge.</summary>
    internal static async Task<(AuthenticatedCaller? Caller, IResult? Problem)> AuthenticateAsync(
        HttpContext http, KeystoneIdentityService identity, CancellationToken ct)
    {
        var own = http.Request.Headers[KeystoneAuthenticationHandler.TokenHeader].ToString();
        var self = own.Length == 0 ? null : await identity.ValidateAsync(own, ct);
        if (self is not null) return (self, null);
        http.Response.Headers.WWWAuthenticate = $"Keystone uri=\"{PublicUrls.Base(http)}/identity\"";
        return (null, new KeystoneError(401, KeystoneMessages.AuthenticationRequired).Result);
    }

    /// <summary>
    /// Keystone checks the caller's own token, then the subject token (404 when it is not valid),
    /// then identity:validate_token (or revoke_token): only an admin or the token's own user may (403).
    /// </summary>
    private static async Task<(AuthenticatedCaller? Caller, IResult? Problem)> SubjectAsync(
        HttpContext http, KeystoneIdentityService identity, CancellationToken ct, string policy = "identity:validate_token")
    {
        var (self, unauthenticated) = await AuthenticateAsync(http, identity, ct);
        if (self is null) return (null, unauthenticated);

        var subject = http.Request.Headers["X-Subject-Token"].ToString();
        var caller = subject.Length == 0 ? null : await identity.ValidateAsync(subject, ct);
        if (caller is null) return (null, new KeystoneError(404, "Could not find token: " + Fingerprint(subject) + ".").Result);
        if (!self.IsAdmin && self.User.Id != caller.User.Id)
            return (null, new KeystoneError(403, $"You are not authorized to perform the requested action: {policy}.").Result);
        return (caller, null);
    }

    /// <summary>Keystone's token body (api-ref identity v3 "Password authentication with scoped authorization"): what OSC, the SDK and tempest read.</summary>
    private static JsonObject TokenBody(HttpContext http, AuthenticatedCaller caller)
    {
        var domain = () => new JsonObject { ["id"] = Domains.DefaultId, ["name"] = Domains.DefaultName };
        var baseUrl = PublicUrls.Base(http);
        return new JsonObject
        {
            ["token"] = new JsonObject
            {
                ["methods"] = new JsonArray("password"),
                ["user"] = new JsonObject
                {
                    ["id"] = caller.User.Id,
                    ["name"] = caller.User.Name,
                    ["domain"] = domain(),
                    ["password_expires_at"] = null,
                },
                ["audit_ids"] = new JsonArray(caller.Token.AuditId),
                ["expires_at"] = KeystoneTime(caller.Token.ExpiresAt),
                ["issued_at"] = KeystoneTime(caller.Token.IssuedAt),
                ["project"] = new JsonObject
                {
                    ["id"] = caller.Project.Id,
                    ["name"] = caller.Project.Name,
                    ["domain"] = domain(),
                },
                ["is_domain"] = false,
                ["roles"] = new JsonArray(caller.Roles.Select(r => (JsonNode)new JsonObject { ["id"] = RoleId(r), ["name"] = r }).ToArray()),
                ["catalog"] = new JsonArray(
                    CatalogEntry("compute", "nova", PublicUrls.Compute(http)),
                    CatalogEntry("image", "glance", baseUrl + "/image"),
                    CatalogEntry("identity", "keystone", baseUrl + "/identity")),
            },
        };
    }

    private static JsonObject CatalogEntry(string type, string name, string url) => new()
    {
        ["type"] = type,
        ["name"] = name,
        ["id"] = StableId("service:" + type),
        // One gateway answers on every interface; clients that ask for internal or admin (Tempest's
        // endpoint_type, OS_INTERFACE, services in a cloud) find it too.
        ["endpoints"] = new JsonArray(Interfaces.Select(i => (JsonNode)new JsonObject
        {
            ["id"] = StableId(i == "public" ? "endpoint:" + type : $"endpoint:{type}:{i}"),
            ["interface"] = i,
            ["region"] = Region,
            ["region_id"] = Region,
            ["url"] = url,
        }).ToArray()),
    };

    private static readonly string[] Interfaces = ["public", "internal", "admin"];

    /// <summary>Tempest accepts only whole seconds or exactly six fractional digits, then Z.</summary>
    public static string KeystoneTime(DateTime t) =>
        t.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture);

    private static string RoleId(string role) => StableId("role:" + role);

    private static string StableId(string seed) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(seed)))[..32];

    /// <summary>Never echo a token back; a short hash is enough to tell tokens apart in an error.</summary>
    private static string Fingerprint(string token) =>
        token.Length == 0 ? "(none)" : Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(token)))[..12];

    private sealed record AuthRequest((UserReference User, string Password, ProjectScope Scope) Parts);

    /// <summary>Parses and validates a password auth request; a KeystoneError when it is not one.</summary>
    private static async Task<object> ReadAuthRequestAsync(HttpContext http, CancellationToken ct)
    {
        var contentType = http.Request.ContentType;
        if (contentType is not null && !contentType.StartsWith("application/json", StringComparison.OrdinalIgnoreCase))
            return new KeystoneError(400, KeystoneMessages.NotJson);
        var (outcome, root) = await JsonBody.ReadAsync(http.Request, MaxAuthBodyBytes, ct);
        if (outcome == JsonBody.Outcome.TooLarge) return new KeystoneError(413, "Request Entity Too Large");
        if (outcome == JsonBody.Outcome.Malformed) return new KeystoneError(400, KeystoneMessages.MalformedJson);

        if (Child(root, "auth") is not JsonObject auth) return new KeystoneError(400, KeystoneMessages.Missing("auth", "request body"));
        if (Child(auth, "identity") is not JsonObject ident) return new KeystoneError(400, KeystoneMessages.Missing("identity", "auth"));
        if (Child(ident, "methods") is not JsonArray methods || methods.Any(m => m is not JsonValue))
            return new KeystoneError(400, KeystoneMessages.Missing("methods", "identity"));
        if (!methods.Any(m => m!.GetValueKind() == JsonValueKind.String && m.GetValue<string>() == "password"))
            return new KeystoneError(401, KeystoneMessages.UnsupportedMethod);
        if (Child(Child(ident, "password"), "user") is not JsonObject user) return new KeystoneError(400, KeystoneMessages.Missing("user", "password"));
        if (Text(user["password"]) is not { } password) return new KeystoneError(400, KeystoneMessages.Missing("password", "user"));

        var userRef = new UserReference(Text(user["id"]), Text(user["name"]), Text(Child(user["domain"], "id")), Text(Child(user["domain"], "name")));
        if (userRef.Id is null && userRef.Name is null) return new KeystoneError(400, KeystoneMessages.Missing("id", "user"));

        // XenMigrate issues project-scoped tokens only: everything it serves belongs to a project.
        if (Child(Child(auth, "scope"), "project") is not JsonObject project)
            return new KeystoneError(401, KeystoneMessages.AuthenticationRequired);
        var scope = new ProjectScope(Text(project["id"]), Text(project["name"]), Text(Child(project["domain"], "id")), Text(Child(project["domain"], "name")));
        if (scope.Id is null && scope.Name is null) return new KeystoneError(400, KeystoneMessages.Missing("id", "project"));

        return new AuthRequest((userRef, password, scope));
    }

    /// <summary>A member of an object; null for anything that is not an object (never throws on odd JSON).</summary>
    private static JsonNode? Child(JsonNode? node, string key) => node is JsonObject o ? o[key] : null;

    private static string? Text(JsonNode? node) =>
        node is JsonValue v && v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : null;
}
