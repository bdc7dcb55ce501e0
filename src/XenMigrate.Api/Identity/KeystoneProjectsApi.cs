using System.Text.Json.Nodes;
using XenMigrate.Api.Nova;
using XenMigrate.Domain.Identity;
using XenMigrate.Infrastructure.Identity;

namespace XenMigrate.Api.Identity;

/// <summary>
/// Keystone's project reads, which clients use to turn a project name into the id Nova's URLs take
/// (<c>openstack quota show demo</c>, the SDK's quota and usage calls): list with Keystone's
/// <c>name</c>, <c>domain_id</c> and <c>enabled</c> filters, show, and a user's own projects.
/// Keystone's default policies: listing is for admins; a project is shown to admins and to those
/// scoped to it; a user's projects to admins and that user.
/// </summary>
public static class KeystoneProjectsApi
{
    public static void MapKeystoneProjects(this RouteGroupBuilder identity)
    {
        identity.MapGet("/v3/projects", List).WithSummary("List projects (admin), filtered by name, domain_id or enabled");
        identity.MapGet("/v3/projects/{project_id}", Show).WithSummary("Show a project (admin, or a token scoped to it)");
        identity.MapGet("/v3/users/{user_id}/projects", UserProjects).WithSummary("List the projects a user has a role on (admin, or that user)");
    }

    private static async Task<IResult> List(HttpContext http, KeystoneIdentityService identity, CancellationToken ct)
    {
        var (caller, problem) = await KeystoneApi.AuthenticateAsync(http, identity, ct);
        if (caller is null) return problem!;
        if (!caller.IsAdmin) return Forbidden("identity:list_projects");
        var query = http.Request.Query;
        var projects = (await identity.ProjectsAsync(ct)).Where(p =>
            (!query.TryGetValue("name", out var name) || p.Name == name.ToString())
            && (!query.TryGetValue("domain_id", out var domain) || p.DomainId == domain.ToString())
            && (!query.TryGetValue("enabled", out var enabled) || IsTrue(enabled.ToString())));
        return Collection(http, projects);
    }

    private static async Task<IResult> Show(string project_id, HttpContext http, KeystoneIdentityService identity, CancellationToken ct)
    {
        var (caller, problem) = await KeystoneApi.AuthenticateAsync(http, identity, ct);
        if (caller is null) return problem!;
        // Keystone checks the policy against the project it loaded: an unknown id is 403 for a non-admin too.
        if (!caller.IsAdmin && caller.Project.Id != project_id) return Forbidden("identity:get_project");
        var project = (await identity.ProjectsAsync(ct)).FirstOrDefault(p => p.Id == project_id);
        return project is null
            ? new KeystoneError(404, $"Could not find project: {project_id}.").Result
            : Results.Json(new JsonObject { ["project"] = Body(http, project) });
    }

    private static async Task<IResult> UserProjects(string user_id, HttpContext http, KeystoneIdentityService identity, CancellationToken ct)
    {
        var (caller, problem) = await KeystoneApi.AuthenticateAsync(http, identity, ct);
        if (caller is null) return problem!;
        if (!caller.IsAdmin && caller.User.Id != user_id) return Forbidden("identity:list_user_projects");
        return await identity.ProjectsOfUserAsync(user_id, ct) is { } projects
            ? Collection(http, projects)
            : new KeystoneError(404, $"Could not find user: {user_id}.").Result;
    }

    private static IResult Forbidden(string rule) =>
        new KeystoneError(403, $"You are not authorized to perform the requested action: {rule}.").Result;

    /// <summary>Keystone reads a boolean filter as true unless it is 0 or false (any case).</summary>
    private static bool IsTrue(string value) => value.Trim().ToLowerInvariant() is not ("0" or "false");

    private static IResult Collection(HttpContext http, IEnumerable<Project> projects) =>
        Results.Json(new JsonObject
        {
            ["projects"] = new JsonArray(projects.OrderBy(p => p.Name, StringComparer.Ordinal).Select(p => (JsonNode)Body(http, p)).ToArray()),
            ["links"] = new JsonObject { ["self"] = PublicUrls.Base(http) + http.Request.Path.Value + http.Request.QueryString.Value, ["previous"] = null, ["next"] = null },
        });

    private static JsonObject Body(HttpContext http, Project p) => new()
    {
        ["id"] = p.Id,
        ["name"] = p.Name,
        ["domain_id"] = p.DomainId,
        ["description"] = "",
        ["enabled"] = true,
        ["parent_id"] = p.DomainId,
        ["is_domain"] = false,
        ["tags"] = new JsonArray(),
        ["options"] = new JsonObject(),
        ["links"] = new JsonObject { ["self"] = $"{PublicUrls.Base(http)}/identity/v3/projects/{p.Id}" },
    };
}
