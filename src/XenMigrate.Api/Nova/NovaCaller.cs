using System.Reflection;
using XenMigrate.Api.Identity;
using XenMigrate.Api.Nova.Faults;
using XenMigrate.Api.Nova.Microversions;
using XenMigrate.Infrastructure.Compute.Api;
using XenMigrate.Infrastructure.Identity;

namespace XenMigrate.Api.Nova;

/// <summary>
/// Everything a Nova handler needs to know about who is asking and how: the authenticated user
/// and project, their roles, the microversion, the request id and how to build links. Bound as a
/// handler parameter; refuses a <c>/v2.1/{project_id}/…</c> URL naming another project.
/// </summary>
public sealed class NovaCaller
{
    private NovaCaller(HttpContext http, AuthenticatedCaller caller)
    {
        Http = http;
        UserId = caller.User.Id;
        ProjectId = caller.Project.Id;
        Roles = caller.Roles;
        Version = MicroversionMiddleware.Get(http);
        RequestId = RequestIds.Get(http);
        Context = new RequestContext(UserId, ProjectId, Roles, RequestId);
        var urlProject = http.Request.RouteValues["project_id"] as string;
        LinkPrefix = PublicUrls.Base(http);
        LinkProject = urlProject;
    }

    public HttpContext Http { get; }
    public string UserId { get; }
    public string ProjectId { get; }
    public IReadOnlyList<string> Roles { get; }
    public ApiVersion Version { get; }
    public string RequestId { get; }

    /// <summary>What the compute use cases take: who asks, with which roles, under which request id.</summary>
    public RequestContext Context { get; }

    public bool IsAdmin => Context.IsAdmin;

    private string LinkPrefix { get; }

    /// <summary>The project id in the request URL, which Nova repeats in the links it returns.</summary>
    private string? LinkProject { get; }

    /// <summary><c>{base}/v2.1[/{project}]/{collection}/{id}</c>.</summary>
    public string SelfLink(string collection, string id) => $"{VersionedPrefix()}/{collection}/{Uri.EscapeDataString(id)}";

    /// <summary><c>{base}[/{project}]/{collection}/{id}</c> (no version: a permanent bookmark).</summary>
    public string BookmarkLink(string collection, string id) =>
        $"{LinkPrefix}{(LinkProject is null ? string.Empty : "/" + LinkProject)}/{collection}/{Uri.EscapeDataString(id)}";

    /// <summary>The next-page link of a collection: this request's path and query with a new marker.</summary>
    public string NextLink(string collectionPath, IEnumerable<KeyValuePair<string, string>> query) =>
        $"{VersionedPrefix()}/{collectionPath}?{string.Join('&', query.Select(p => $"{Uri.EscapeDataString(p.Key)}={Uri.EscapeDataString(p.Value)}"))}";

    private string VersionedPrefix() => $"{LinkPrefix}/v2.1{(LinkProject is null ? string.Empty : "/" + LinkProject)}";

    /// <summary>Minimal-API binding: every Nova route that takes a NovaCaller requires a token.</summary>
    public static ValueTask<NovaCaller?> BindAsync(HttpContext http, ParameterInfo parameter)
    {
        var caller = KeystoneAuthenticationHandler.CallerOf(http)
                     ?? throw new InvalidOperationException("NovaCaller bound on a route that does not require authentication.");
        var urlProject = http.Request.RouteValues["project_id"] as string;
        if (urlProject is not null && urlProject != caller.Project.Id)
            throw NovaFaultException.BadRequest(NovaMessages.ProjectMismatch(urlProject, caller.Project.Id));
        return ValueTask.FromResult<NovaCaller?>(new NovaCaller(http, caller));
    }

    /// <summary>Checks one of Nova's default policy rules, failing with Nova's 403.</summary>
    public void Authorize(NovaPolicy.Rule rule, string? targetProjectId = null) => Context.Authorize(rule, targetProjectId);

    public bool Can(NovaPolicy.Rule rule, string? targetProjectId = null) => Context.Can(rule, targetProjectId);
}
