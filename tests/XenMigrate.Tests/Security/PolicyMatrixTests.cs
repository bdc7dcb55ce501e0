using System.Text;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.Routing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using XenMigrate.Domain.Flavors;
using XenMigrate.Domain.InstanceActions;
using XenMigrate.Domain.Migrations;
using XenMigrate.Infrastructure.Identity;
using XenMigrate.Infrastructure.Persistence;
using XenMigrate.Tests.Support;

namespace XenMigrate.Tests.Security;

/// <summary>
/// Every route the running gateway maps × every kind of caller, over real HTTP, against one table of
/// expected statuses (Nova's and Keystone's default policies). A route added without a row fails.
/// </summary>
public class PolicyMatrixTests : GatewayFixture
{
    private enum Caller { Admin, Owner, OtherProject, Reader, NoToken, Expired, Forged }

    /// <summary>One route (and variant of its request) with the status each caller must get.</summary>
    private sealed record Row(string Method, string Pattern, string Variant, int[] Expected)
    {
        public int For(Caller c) => Expected[(int)c];
    }

    private const string ProjectPrefix = "/v2.1/{project_id}/";

    // The matrix. Columns: admin, owner (demo, member of the server's project), another project's
    // member (mallory), the owning project's reader (auditor), no token, expired token, forged token.
    // Another project's server is 404 (Nova loads it project-scoped before any policy check).
    private static readonly Row[] Matrix =
    [
        //   method  pattern                                                   variant          adm  own  oth  rdr  none exp  forged
        R("GET",  "/",                                                        "",              200, 200, 200, 200, 200, 200, 200),
        R("GET",  "/v2.1",                                                    "",              200, 200, 200, 200, 200, 200, 200),
        R("GET",  "/identity",                                                "",              300, 300, 300, 300, 300, 300, 300),
        R("GET",  "/identity/v3",                                             "",              200, 200, 200, 200, 200, 200, 200),
        R("POST", "/identity/v3/auth/tokens",                                 "login demo",    201, 201, 201, 201, 201, 201, 201),
        // Keystone's identity:validate_token: admin or the token's own subject (here: demo's token).
        R("GET",  "/identity/v3/auth/tokens",                                 "demo's token",  200, 200, 403, 403, 401, 401, 401),
        R("HEAD", "/identity/v3/auth/tokens",                                 "demo's token",  200, 200, 403, 403, 401, 401, 401),
        // identity:revoke_token, the same rule (each request revokes a fresh token of demo's).
        R("DELETE", "/identity/v3/auth/tokens",                               "demo's token",  204, 204, 403, 403, 401, 401, 401),
        // Keystone's identity:list_projects is for admins; get_project also for a token scoped to that
        // project (each caller asks for its own); list_user_projects also for that user (here: nobody's).
        R("GET",  "/identity/v3/projects",                                    "",              200, 403, 403, 403, 401, 401, 401),
        R("GET",  "/identity/v3/projects/{project_id}",                       "own project",   200, 200, 200, 200, 401, 401, 401),
        R("GET",  "/identity/v3/users/{user_id}/projects",                    "unknown user",  404, 403, 403, 403, 401, 401, 401),
        R("GET",  "/image",                                                   "",              300, 300, 300, 300, 300, 300, 300),
        R("GET",  "/image/versions",                                          "",              200, 200, 200, 200, 200, 200, 200),
        R("GET",  "/image/v2/images",                                         "",              200, 200, 200, 200, 401, 401, 401),
        R("GET",  "/image/v2/images/{image_id}",                              "",              404, 404, 404, 404, 401, 401, 401),
        // Health is for load balancers and orchestrators: anonymous, and it says nothing but the state.
        R("GET",  "/healthz",                                                 "",              200, 200, 200, 200, 200, 200, 200),
        R("HEAD", "/healthz",                                                 "",              200, 200, 200, 200, 200, 200, 200),
        // Readiness: no hosts are configured here, so it is Degraded, which is still 200 (503 only when Unhealthy).
        R("GET",  "/healthz/ready",                                           "",              200, 200, 200, 200, 200, 200, 200),
        R("HEAD", "/healthz/ready",                                           "",              200, 200, 200, 200, 200, 200, 200),
        // Prometheus scrape: anonymous but only for loopback (and Telemetry:MetricsAllowedNetworks);
        // the tests call from loopback. Off-loopback callers get 404 (Observability tests).
        R("GET",  "/metrics",                                                 "",              200, 200, 200, 200, 200, 200, 200),
        R("GET",  "/openapi/v1.json",                                         "",              200, 200, 200, 200, 200, 200, 200),
        R("GET",  "/hangfire-login",                                          "",              200, 200, 200, 200, 200, 200, 200),
        R("POST", "/hangfire-login",                                          "own token",     302, 403, 403, 403, 403, 403, 403),
        R("GET",  "/v2.1/servers",                                            "",              200, 200, 200, 200, 401, 401, 401),
        R("GET",  "/v2.1/servers/detail",                                     "",              200, 200, 200, 200, 401, 401, 401),
        R("GET",  "/v2.1/servers/{server_id}",                                "",              200, 200, 404, 200, 401, 401, 401),
        // Update: the owner's members or an admin; the host-less target is renamed in the database only.
        R("PUT",  "/v2.1/servers/{server_id}",                                "rename",        200, 200, 404, 403, 401, 401, 401),
        // The target has no interface: its one network label is unknown (404 after the policy check).
        R("GET",  "/v2.1/servers/{server_id}/ips",                            "",              200, 200, 404, 200, 401, 401, 401),
        R("GET",  "/v2.1/servers/{server_id}/ips/{network_label}",            "",              404, 404, 404, 404, 401, 401, 401),
        // Nova's image proxy ends at 2.35 (404 from 2.36); anyone authenticated may list.
        R("GET",  "/v2.1/images",                                             "at 2.35",       200, 200, 200, 200, 401, 401, 401),
        R("GET",  "/v2.1/images",                                             "",              404, 404, 404, 404, 401, 401, 401),
        R("GET",  "/v2.1/images/detail",                                      "at 2.35",       200, 200, 200, 200, 401, 401, 401),
        R("GET",  "/v2.1/images/{image_id}",                                  "at 2.35",       404, 404, 404, 404, 401, 401, 401),
        // Key pairs are each user's own (admin or user_id:%(user_id)s): everyone may keep theirs.
        R("GET",  "/v2.1/os-keypairs",                                        "",              200, 200, 200, 200, 401, 401, 401),
        R("POST", "/v2.1/os-keypairs",                                        "import",        201, 201, 201, 201, 401, 401, 401),
        R("GET",  "/v2.1/os-keypairs/{keypair_name}",                         "",              404, 404, 404, 404, 401, 401, 401),
        R("DELETE", "/v2.1/os-keypairs/{keypair_name}",                       "",              404, 404, 404, 404, 401, 401, 401),
        // Flavor access (admin only): the private flavor's list; sharing with an unknown project is 400, unsharing a public flavor's 404.
        R("GET",  "/v2.1/flavors/{flavor_id}/os-flavor-access",               "private",       200, 403, 403, 403, 401, 401, 401),
        R("POST", "/v2.1/flavors/{flavor_id}/action",                         "addTenantAccess", 400, 403, 403, 403, 401, 401, 401),
        R("POST", "/v2.1/flavors/{flavor_id}/action",                         "removeTenantAccess", 404, 403, 403, 403, 401, 401, 401),
        // A guest's posted password: always empty here; readers show it, members clear it.
        R("GET",  "/v2.1/servers/{server_id}/os-server-password",             "",              200, 200, 404, 200, 401, 401, 401),
        R("DELETE", "/v2.1/servers/{server_id}/os-server-password",           "",              204, 204, 404, 403, 401, 401, 401),
        // Server tags (2.26): readers list and check, members change; the target's unknown tag is 404 after policy.
        R("GET",  "/v2.1/servers/{server_id}/tags",                           "",              200, 200, 404, 200, 401, 401, 401),
        R("PUT",  "/v2.1/servers/{server_id}/tags",                           "",              200, 200, 404, 403, 401, 401, 401),
        R("DELETE", "/v2.1/servers/{server_id}/tags",                         "",              204, 204, 404, 403, 401, 401, 401),
        R("GET",  "/v2.1/servers/{server_id}/tags/{tag}",                     "",              404, 404, 404, 404, 401, 401, 401),
        R("PUT",  "/v2.1/servers/{server_id}/tags/{tag}",                     "new tag",       201, 201, 404, 403, 401, 401, 401),
        R("DELETE", "/v2.1/servers/{server_id}/tags/{tag}",                   "",              404, 404, 404, 403, 401, 401, 401),
        // Diagnostics: admin only; the host-less target is not ready (409).
        R("GET",  "/v2.1/servers/{server_id}/diagnostics",                    "",              409, 403, 404, 403, 401, 401, 401),
        // Hypervisor uptime (before 2.88) and the pre-2.53 search routes: admin only, then the unknown id or pattern is 404.
        R("GET",  "/v2.1/os-hypervisors/{hypervisor_id}/uptime",              "",              404, 403, 403, 403, 401, 401, 401),
        R("GET",  "/v2.1/os-hypervisors/{hypervisor_hostname_pattern}/search", "at 2.52",      404, 403, 403, 403, 401, 401, 401),
        R("GET",  "/v2.1/os-hypervisors/{hypervisor_hostname_pattern}/servers", "at 2.52",     404, 403, 403, 403, 401, 401, 401),
        // os-hosts (before 2.43): admin only; the unknown host is 404.
        R("GET",  "/v2.1/os-hosts",                                           "at 2.42",       200, 403, 403, 403, 401, 401, 401),
        R("GET",  "/v2.1/os-hosts/{host_name}",                               "at 2.42",       404, 403, 403, 403, 401, 401, 401),
        R("PUT",  "/v2.1/os-hosts/{host_name}",                               "at 2.42",       404, 403, 403, 403, 401, 401, 401),
        R("GET",  "/v2.1/os-hosts/{host_name}/startup",                       "at 2.42",       404, 403, 403, 403, 401, 401, 401),
        R("GET",  "/v2.1/os-hosts/{host_name}/shutdown",                      "at 2.42",       404, 403, 403, 403, 401, 401, 401),
        R("GET",  "/v2.1/os-hosts/{host_name}/reboot",                        "at 2.42",       404, 403, 403, 403, 401, 401, 401),
        R("GET",  "/v2.1/extensions",                                         "",              200, 200, 200, 200, 401, 401, 401),
        R("GET",  "/v2.1/extensions/{alias}",                                 "",              200, 200, 200, 200, 401, 401, 401),
        // Quota classes, external events and the usage audit log: admin only (no server of this uuid: 404).
        R("GET",  "/v2.1/os-quota-class-sets/{id}",                           "",              200, 403, 403, 403, 401, 401, 401),
        R("PUT",  "/v2.1/os-quota-class-sets/{id}",                           "",              200, 403, 403, 403, 401, 401, 401),
        R("POST", "/v2.1/os-server-external-events",                          "",              404, 403, 403, 403, 401, 401, 401),
        R("GET",  "/v2.1/os-instance_usage_audit_log",                        "",              200, 403, 403, 403, 401, 401, 401),
        R("GET",  "/v2.1/os-instance_usage_audit_log/{before_timestamp}",     "",              200, 403, 403, 403, 401, 401, 401),
        // Server groups: readers list and show, members create and delete; an unknown group is 404 to all.
        R("GET",  "/v2.1/os-server-groups",                                   "",              200, 200, 200, 200, 401, 401, 401),
        R("POST", "/v2.1/os-server-groups",                                   "",              200, 200, 200, 403, 401, 401, 401),
        R("GET",  "/v2.1/os-server-groups/{server_group_id}",                 "",              404, 404, 404, 404, 401, 401, 401),
        R("DELETE", "/v2.1/os-server-groups/{server_group_id}",               "",              404, 404, 404, 404, 401, 401, 401),
        // The target server has no host yet: an allowed action stops at Nova's 409 "not ready"
        // (or invalid state), after policy, so the matrix never starts a migration.
        R("POST", "/v2.1/servers/{server_id}/action",                         "resize",        409, 409, 404, 403, 401, 401, 401),
        R("POST", "/v2.1/servers/{server_id}/action",                         "migrate",       409, 403, 404, 403, 401, 401, 401),
        R("POST", "/v2.1/servers/{server_id}/action",                         "migrate host",  409, 403, 404, 403, 401, 401, 401),
        R("POST", "/v2.1/servers/{server_id}/action",                         "confirmResize", 409, 409, 404, 403, 401, 401, 401),
        R("POST", "/v2.1/servers/{server_id}/action",                         "revertResize",  409, 409, 404, 403, 401, 401, 401),
        // Power actions: owner or admin; on this host-less server they stop at Nova's 409 after policy.
        R("POST", "/v2.1/servers/{server_id}/action",                         "os-stop",       409, 409, 404, 403, 401, 401, 401),
        R("POST", "/v2.1/servers/{server_id}/action",                         "reboot",        409, 409, 404, 403, 401, 401, 401),
        R("POST", "/v2.1/servers/{server_id}/action",                         "os-start",      409, 409, 404, 403, 401, 401, 401),
        R("POST", "/v2.1/servers/{server_id}/action",                         "pause",         409, 409, 404, 403, 401, 401, 401),
        R("POST", "/v2.1/servers/{server_id}/action",                         "unpause",       409, 409, 404, 403, 401, 401, 401),
        R("POST", "/v2.1/servers/{server_id}/action",                         "suspend",       409, 409, 404, 403, 401, 401, 401),
        R("POST", "/v2.1/servers/{server_id}/action",                         "resume",        409, 409, 404, 403, 401, 401, 401),
        R("POST", "/v2.1/servers/{server_id}/action",                         "os-migrateLive", 409, 403, 404, 403, 401, 401, 401),
        // Create stops at the unknown flavor (400) for anyone allowed past policy, so the matrix boots nothing.
        R("POST", "/v2.1/servers",                                            "unknown flavor", 400, 400, 400, 403, 401, 401, 401),
        // Each DELETE targets a fresh server of demo's on no host (deleted at once where allowed).
        R("DELETE", "/v2.1/servers/{server_id}",                              "",              204, 204, 404, 403, 401, 401, 401),
        // Quota sets of demo's project: its own members and readers may read them, another project may not.
        R("GET",  "/v2.1/os-quota-sets/{tenant_id}",                          "",              200, 200, 403, 200, 401, 401, 401),
        R("GET",  "/v2.1/os-quota-sets/{tenant_id}/defaults",                 "",              200, 200, 200, 200, 401, 401, 401),
        R("GET",  "/v2.1/os-quota-sets/{tenant_id}/detail",                   "",              200, 200, 403, 200, 401, 401, 401),
        R("PUT",  "/v2.1/os-quota-sets/{tenant_id}",                          "",              200, 403, 403, 403, 401, 401, 401),
        // Limits: anyone authenticated sees their own project's (os_compute_api:limits is "@").
        R("GET",  "/v2.1/limits",                                             "",              200, 200, 200, 200, 401, 401, 401),
        R("GET",  "/v2.1/os-migrations",                                      "",              200, 403, 403, 403, 401, 401, 401),
        R("GET",  "/v2.1/servers/{server_id}/migrations",                     "",              200, 403, 404, 403, 401, 401, 401),
        R("GET",  "/v2.1/servers/{server_id}/migrations/{migration_id}",      "",              200, 403, 404, 403, 401, 401, 401),
        // The target is not migrating (task_state None): an admin's abort or force-complete stops at Nova's 409.
        R("DELETE", "/v2.1/servers/{server_id}/migrations/{migration_id}",    "",              409, 403, 404, 403, 401, 401, 401),
        R("POST", "/v2.1/servers/{server_id}/migrations/{migration_id}/action", "force_complete", 409, 403, 404, 403, 401, 401, 401),
        R("GET",  "/v2.1/servers/{server_id}/os-instance-actions",            "",              200, 200, 404, 200, 401, 401, 401),
        R("GET",  "/v2.1/servers/{server_id}/os-instance-actions/{request_id}", "",            200, 200, 404, 200, 401, 401, 401),
        R("GET",  "/v2.1/flavors",                                            "",              200, 200, 200, 200, 401, 401, 401),
        R("GET",  "/v2.1/flavors/detail",                                     "",              200, 200, 200, 200, 401, 401, 401),
        // A private flavor is invisible to projects without access to it (nova: 404, as for a missing one).
        R("GET",  "/v2.1/flavors/{flavor_id}",                                "public",        200, 200, 200, 200, 401, 401, 401),
        R("GET",  "/v2.1/flavors/{flavor_id}",                                "private",       200, 404, 404, 404, 401, 401, 401),
        R("GET",  "/v2.1/flavors/{flavor_id}/os-extra_specs",                 "public",        200, 200, 200, 200, 401, 401, 401),
        R("GET",  "/v2.1/flavors/{flavor_id}/os-extra_specs",                 "private",       200, 404, 404, 404, 401, 401, 401),
        R("GET",  "/v2.1/flavors/{flavor_id}/os-extra_specs/{key}",           "public",        200, 200, 200, 200, 401, 401, 401),
        R("GET",  "/v2.1/flavors/{flavor_id}/os-extra_specs/{key}",           "private",       200, 404, 404, 404, 401, 401, 401),
        // Usage: every project's for admins, one project's for its members and readers.
        R("GET",  "/v2.1/os-simple-tenant-usage",                             "",              200, 403, 403, 403, 401, 401, 401),
        R("GET",  "/v2.1/os-simple-tenant-usage/{tenant_id}",                 "",              200, 200, 403, 200, 401, 401, 401),
        // Anyone may list the zones; the detail with hosts and services is for admins.
        R("GET",  "/v2.1/os-availability-zone",                               "",              200, 200, 200, 200, 401, 401, 401),
        R("GET",  "/v2.1/os-availability-zone/detail",                        "",              200, 403, 403, 403, 401, 401, 401),
        // Services and hypervisors are admin-only; an unknown service or hypervisor uuid is 404 after the policy check.
        R("GET",  "/v2.1/os-services",                                        "",              200, 403, 403, 403, 401, 401, 401),
        R("PUT",  "/v2.1/os-services/{service_id}",                           "enable",        404, 403, 403, 403, 401, 401, 401),
        R("GET",  "/v2.1/os-hypervisors",                                     "",              200, 403, 403, 403, 401, 401, 401),
        R("GET",  "/v2.1/os-hypervisors/detail",                              "",              200, 403, 403, 403, 401, 401, 401),
        R("GET",  "/v2.1/os-hypervisors/statistics",                          "",              200, 403, 403, 403, 401, 401, 401),
        R("GET",  "/v2.1/os-hypervisors/{hypervisor_id}",                     "",              404, 403, 403, 403, 401, 401, 401),
        // Aggregates (one per pool) are admin-only, as Nova's; an unknown id is 404 after the policy check.
        R("GET",  "/v2.1/os-aggregates",                                      "",              200, 403, 403, 403, 401, 401, 401),
        R("GET",  "/v2.1/os-aggregates/{aggregate_id}",                       "",              404, 403, 403, 403, 401, 401, 401),
        // XenMigrate's host-drain extension: admin only (an unknown host is 400, an unknown drain 404).
        R("POST", "/xenmigrate/v1/host-drains",                               "drain",         400, 403, 403, 403, 401, 401, 401),
        R("GET",  "/xenmigrate/v1/host-drains",                               "",              200, 403, 403, 403, 401, 401, 401),
        R("GET",  "/xenmigrate/v1/host-drains/{drain_id}",                    "",              404, 403, 403, 403, 401, 401, 401),
        R("POST", "/xenmigrate/v1/host-drains/{drain_id}/cancel",             "",              404, 403, 403, 403, 401, 401, 401),
        // Flavor management is admin only; policy is checked before the flavor is looked up, so a
        // missing flavor shows the admin got past it (404) without deleting what other rows read.
        R("POST", "/v2.1/flavors",                                            "create",        200, 403, 403, 403, 401, 401, 401),
        R("PUT",  "/v2.1/flavors/{flavor_id}",                                "public",        200, 403, 403, 403, 401, 401, 401),
        R("DELETE", "/v2.1/flavors/{flavor_id}",                              "missing",       404, 403, 403, 403, 401, 401, 401),
        R("POST", "/v2.1/flavors/{flavor_id}/os-extra_specs",                 "public",        200, 403, 403, 403, 401, 401, 401),
        R("PUT",  "/v2.1/flavors/{flavor_id}/os-extra_specs/{key}",           "public",        200, 403, 403, 403, 401, 401, 401),
        R("DELETE", "/v2.1/flavors/{flavor_id}/os-extra_specs/{key}",         "missing",       404, 403, 403, 403, 401, 401, 401),
    ];

    // Served by middleware, not endpoints: checked too, but enumeration cannot find them.
    private static readonly Row[] MiddlewareRoutes =
    [
        R("GET",  "/hangfire",                                                "",              200, 403, 403, 403, 401, 401, 401),
        R("GET",  "/swagger/index.html",                                      "",              200, 200, 200, 200, 200, 200, 200),
    ];

    private static Row R(string method, string pattern, string variant, params int[] expected) => new(method, pattern, variant, expected);

    private readonly Dictionary<Caller, string?> _tokens = [];
    private readonly Dictionary<Caller, string> _projects = [];
    // No redirects and no cookies: each request stands alone and shows its own status.
    private readonly HttpClient _http = new(new HttpClientHandler { AllowAutoRedirect = false, UseCookies = false });
    private Guid _serverId;
    private int _migrationId;
    private string _requestId = null!;

    protected override async Task SeedAsync()
    {
        var server = await Gateway.AddServerAsync("matrix-target", TestUsers.Demo, host: null);
        _serverId = server.Id;
        await using var scope = Gateway.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<XenMigrateDbContext>();
        var live = new Migration(Guid.NewGuid(), server.Id, MigrationType.LiveMigration, "xs-sim-1", null, 1, 1, server.ProjectId, server.UserId, DateTime.UtcNow);
        live.TransitionTo(MigrationStatus.Preparing, DateTime.UtcNow);
        live.TransitionTo(MigrationStatus.Running, DateTime.UtcNow);
        db.Migrations.Add(live);
        _requestId = "req-" + Guid.NewGuid();
        db.InstanceActions.Add(new InstanceAction(server.Id, "resize", _requestId, server.UserId, server.ProjectId, DateTime.UtcNow));
        var open = new Flavor("sec-public", "s1.public", 512, 1, 1);
        open.SetExtraSpec("hw:cpu_policy", "dedicated");
        var hidden = new Flavor("sec-private", "s1.private", 512, 1, 1, isPublic: false);
        hidden.SetExtraSpec("hw:cpu_policy", "dedicated");
        db.Flavors.AddRange(open, hidden);
        await db.SaveChangesAsync();
        _migrationId = live.Id;

        _tokens[Caller.Admin] = Tokens[TestUsers.Admin];
        _tokens[Caller.Owner] = Tokens[TestUsers.Demo];
        _tokens[Caller.OtherProject] = Tokens[TestUsers.Other];
        _tokens[Caller.Reader] = Tokens[TestUsers.Reader];
        _tokens[Caller.NoToken] = null;
        // Both bad tokens stand for the admin: if either were accepted, the admin-only rows would show it.
        _tokens[Caller.Expired] = await ExpiredAdminTokenAsync(db);
        _tokens[Caller.Forged] = TokenBytes.Flip(Tokens[TestUsers.Admin], 20);

        var admin = await Gateway.ProjectIdAsync("admin");
        _projects[Caller.Admin] = admin;
        _projects[Caller.Owner] = _projects[Caller.Reader] = await Gateway.ProjectIdAsync("demo");
        _projects[Caller.OtherProject] = await Gateway.ProjectIdAsync("other");
        _projects[Caller.NoToken] = _projects[Caller.Expired] = _projects[Caller.Forged] = admin;
    }

    [OneTimeTearDown]
    public void DisposeClient() => _http.Dispose();

    /// <summary>Sealed with the gateway's own key, so only the expiry check can refuse it.</summary>
    private async Task<string> ExpiredAdminTokenAsync(XenMigrateDbContext db)
    {
        var user = await db.Users.SingleAsync(u => u.Name == TestUsers.Admin.Name);
        var project = await db.Projects.SingleAsync(p => p.Name == TestUsers.Admin.Project);
        var sealer = await Gateway.Services.GetRequiredService<TokenKeyProvider>().GetSealerAsync(CancellationToken.None);
        var issued = DateTime.UtcNow.AddHours(-2);
        return sealer.Seal(new TokenClaims(user.Id, project.Id, issued, issued.AddHours(1), "expired-audit-id"));
    }

    [Test]
    public async Task EveryRoute_AnswersEveryCaller_AsThePolicyTableSays()
    {
        var endpoints = MappedRoutes();
        var missing = endpoints.Where(e => !Matrix.Any(r => r.Method == e.Method && r.Pattern == Unprefixed(e.Pattern)))
            .Select(e => $"{e.Method} {e.Pattern}").ToList();
        var stale = Matrix.Where(r => !endpoints.Any(e => e.Method == r.Method && Unprefixed(e.Pattern) == r.Pattern))
            .Select(r => $"{r.Method} {r.Pattern}").Distinct().ToList();
        Assert.That(missing, Is.Empty, "routes without a row in the policy matrix");
        Assert.That(stale, Is.Empty, "matrix rows for routes the gateway no longer maps");

        var unexpected = new List<string>();
        var checks = 0;
        var targets = endpoints
            .SelectMany(e => Matrix.Where(r => r.Method == e.Method && r.Pattern == Unprefixed(e.Pattern)).Select(r => (Row: r, e.Pattern)))
            .Concat(MiddlewareRoutes.Select(r => (Row: r, r.Pattern)));
        foreach (var (row, pattern) in targets)
        {
            foreach (var caller in Enum.GetValues<Caller>())
            {
                var status = await SendAsync(row, pattern, caller);
                checks++;
                if (status != row.For(caller))
                    unexpected.Add($"{row.Method} {pattern} [{row.Variant}] as {caller}: {status}, expected {row.For(caller)}");
            }
        }

        var routes = endpoints.Count + MiddlewareRoutes.Length;
        var callers = Enum.GetValues<Caller>().Length;
        await TestContext.Out.WriteLineAsync(
            $"policy matrix: {routes} routes × {callers} callers = {checks} checks (action and flavor variants included), {unexpected.Count} unexpected");
        Assert.That(unexpected, Is.Empty, string.Join(Environment.NewLine, unexpected));
    }

    private List<(string Method, string Pattern)> MappedRoutes() =>
        Gateway.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .SelectMany(e => (e.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods ?? ["*"])
                .Select(m => (m, Normalize(e.RoutePattern.RawText ?? "?"))))
            .Distinct().ToList();

    private static string Normalize(string pattern) => pattern.Length > 1 ? "/" + pattern.Trim('/') : "/";

    /// <summary>Every compute route is also served under /v2.1/{project_id}: same policy, same row.</summary>
    private static string Unprefixed(string pattern) =>
        pattern.StartsWith(ProjectPrefix, StringComparison.Ordinal) ? "/v2.1/" + pattern[ProjectPrefix.Length..] : pattern;

    private async Task<int> SendAsync(Row row, string pattern, Caller caller)
    {
        var serverId = row.Method == "DELETE" ? (await Gateway.AddServerAsync("matrix-delete", TestUsers.Demo, host: null)).Id : _serverId;
        var path = pattern
            .Replace("{project_id}", _projects[caller], StringComparison.Ordinal) // as a client does: its own project's catalog URL
            .Replace("{server_id}", serverId.ToString(), StringComparison.Ordinal)
            .Replace("{tenant_id}", _projects[Caller.Owner], StringComparison.Ordinal)
            .Replace("{migration_id}", _migrationId.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal)
            .Replace("{request_id}", _requestId, StringComparison.Ordinal)
            .Replace("{flavor_id}", row.Variant switch { "private" => "sec-private", "missing" => "no-such-flavor", _ => "sec-public" }, StringComparison.Ordinal)
            .Replace("{key}", Uri.EscapeDataString("hw:cpu_policy"), StringComparison.Ordinal)
            .Replace("{image_id}", Guid.NewGuid().ToString(), StringComparison.Ordinal)
            .Replace("{service_id}", Guid.NewGuid().ToString(), StringComparison.Ordinal)
            .Replace("{hypervisor_id}", Guid.NewGuid().ToString(), StringComparison.Ordinal)
            .Replace("{aggregate_id}", "999999", StringComparison.Ordinal)
            .Replace("{drain_id}", Guid.NewGuid().ToString(), StringComparison.Ordinal)
            .Replace("{user_id}", Guid.NewGuid().ToString("N"), StringComparison.Ordinal)
            .Replace("{network_label}", "no-such-network", StringComparison.Ordinal)
            .Replace("{keypair_name}", "no-such-key", StringComparison.Ordinal)
            .Replace("{server_group_id}", Guid.NewGuid().ToString(), StringComparison.Ordinal)
            .Replace("{hypervisor_hostname_pattern}", "no-such-host", StringComparison.Ordinal)
            .Replace("{host_name}", "no-such-host", StringComparison.Ordinal)
            .Replace("{alias}", "os-hosts", StringComparison.Ordinal)
            .Replace("{id}", "matrix-class", StringComparison.Ordinal)
            .Replace("{before_timestamp}", Uri.EscapeDataString("2026-01-01 00:00:00"), StringComparison.Ordinal)
            .Replace("{tag}", row.Variant == "new tag" ? Guid.NewGuid().ToString("N") : "no-such-tag", StringComparison.Ordinal);
        Assert.That(path, Does.Not.Contain("{"), $"no value for a parameter of {pattern}");

        using var request = new HttpRequestMessage(new HttpMethod(row.Method), Gateway.BaseUrl + path);
        var token = _tokens[caller];
        if (token is not null) request.Headers.Add("X-Auth-Token", token);
        request.Headers.Add("OpenStack-API-Version", "compute " + (row.Variant.StartsWith("at 2.", StringComparison.Ordinal) ? row.Variant[3..] : "2.80"));
        request.Content = Body(row, token);
        if (row.Pattern == "/identity/v3/auth/tokens" && row.Method != "POST")
            request.Headers.Add("X-Subject-Token", row.Method == "DELETE" ? await Gateway.TokenAsync(TestUsers.Demo) : Tokens[TestUsers.Demo]);

        using var response = await _http.SendAsync(request);
        return (int)response.StatusCode;
    }

    private HttpContent? Body(Row row, string? token) => (row.Method, row.Pattern, row.Variant) switch
    {
        ("POST", "/identity/v3/auth/tokens", _) => GatewayInstance.Json(
            GatewayInstance.AuthBody(TestUsers.Demo.Name, TestUsers.Demo.Password, TestUsers.Demo.Project)),
        ("POST", "/hangfire-login", _) => new FormUrlEncodedContent([new("token", token ?? string.Empty)]),
        ("POST", "/v2.1/servers", _) => Json("""{"server":{"name":"matrix","imageRef":"6f0b8a5e-3c1d-4e7a-9b2f-8d4c5e6a7b10","flavorRef":"no-such-flavor","networks":"none"}}"""),
        ("PUT", "/v2.1/os-quota-sets/{tenant_id}", _) => Json("""{"quota_set":{"instances":1000}}"""), // above what the DELETE rows leave behind (each makes a server)
        ("POST", _, "resize") => Json("""{"resize":{"flavorRef":"2"}}"""),
        ("POST", _, "migrate") => Json("""{"migrate":null}"""),
        ("POST", _, "migrate host") => Json("""{"migrate":{"host":"xs-sim-2"}}"""),
        ("POST", _, "confirmResize") => Json("""{"confirmResize":null}"""),
        ("POST", _, "revertResize") => Json("""{"revertResize":null}"""),
        ("PUT", _, "enable") => Json("""{"status":"enabled"}"""),
        ("POST", _, "drain") => Json("""{"drain":{"host":"no-such-host"}}"""),
        ("POST", "/xenmigrate/v1/host-drains/{drain_id}/cancel", _) => null,
        ("POST", _, "os-stop" or "os-start" or "pause" or "unpause" or "suspend" or "resume") => Json($$$"""{"{{{row.Variant}}}":null}"""),
        ("POST", _, "reboot") => Json("""{"reboot":{"type":"HARD"}}"""),
        ("POST", "/v2.1/flavors", _) => Json($$$"""{"flavor":{"name":"matrix-{{{Guid.NewGuid():N}}}","ram":512,"vcpus":1,"disk":1}}"""),
        ("PUT", "/v2.1/flavors/{flavor_id}", _) => Json("""{"flavor":{"description":"checked by the policy matrix"}}"""),
        ("POST", "/v2.1/flavors/{flavor_id}/os-extra_specs", _) => Json("""{"extra_specs":{"hw:cpu_policy":"dedicated"}}"""),
        ("PUT", "/v2.1/flavors/{flavor_id}/os-extra_specs/{key}", _) => Json("""{"hw:cpu_policy":"dedicated"}"""),
        ("POST", _, "os-migrateLive") => Json("""{"os-migrateLive":{"host":null,"block_migration":"auto"}}"""),
        ("POST", _, "force_complete") => Json("""{"force_complete":null}"""),
        ("PUT", "/v2.1/servers/{server_id}", _) => Json("""{"server":{"name":"matrix-target"}}"""),
        ("POST", "/v2.1/os-keypairs", _) => Json($$$"""{"keypair":{"name":"matrix-{{{Guid.NewGuid():N}}}","public_key":"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMlBcazqSEQGKDDicm5Uc8OM0x2cbObZ9bN0LaM7FNXK matrix"}}"""),
        ("POST", "/v2.1/flavors/{flavor_id}/action", "addTenantAccess") => Json("""{"addTenantAccess":{"tenant":"no-such-project"}}"""),
        ("POST", "/v2.1/flavors/{flavor_id}/action", "removeTenantAccess") => Json($$$"""{"removeTenantAccess":{"tenant":"{{{_projects[Caller.Admin]}}}"}}"""),
        ("PUT", "/v2.1/os-hosts/{host_name}", _) => Json("""{"status":"enable"}"""),
        ("PUT", "/v2.1/os-quota-class-sets/{id}", _) => Json("""{"quota_class_set":{"instances":10}}"""),
        ("POST", "/v2.1/os-server-external-events", _) => Json($$$"""{"events":[{"name":"network-changed","server_uuid":"{{{Guid.NewGuid()}}}"}]}"""),
        ("PUT", "/v2.1/servers/{server_id}/tags", _) => Json("""{"tags":["matrix"]}"""),
        ("POST", "/v2.1/os-server-groups", _) => Json("""{"server_group":{"name":"matrix","policy":"anti-affinity"}}"""),
        ("POST", _, _) => throw new InvalidOperationException($"No request body for POST {row.Pattern} [{row.Variant}]"),
        _ => null,
    };

    private static StringContent Json(string text) => new(text, Encoding.UTF8, "application/json");
}

/// <summary>Byte-level edits of a base64url token.</summary>
public static class TokenBytes
{
    public static byte[] Decode(string token)
    {
        var s = token.Replace('-', '+').Replace('_', '/');
        s += (s.Length % 4) switch { 2 => "==", 3 => "=", _ => "" };
        return Convert.FromBase64String(s);
    }

    public static string Encode(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    /// <summary>The token with one bit of byte <paramref name="index"/> flipped.</summary>
    public static string Flip(string token, int index)
    {
        var bytes = Decode(token);
        bytes[index] ^= 0x01;
        return Encode(bytes);
    }
}
