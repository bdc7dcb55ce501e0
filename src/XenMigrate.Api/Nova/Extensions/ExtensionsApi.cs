using System.Text.Json.Nodes;
using XenMigrate.Api.Nova.Faults;
using XenMigrate.Infrastructure.Compute.Api;

namespace XenMigrate.Api.Nova.Extensions;

/// <summary>
/// Nova's frozen extensions list (compute/extension_info.py): what v2 clients once discovered
/// features by. Nova lists its historical set whatever is deployed; XenMigrate lists the
/// extensions whose routes, actions or fields it serves, so nothing listed is missing (no
/// consoles, networks, volumes or floating IPs).
/// </summary>
public static class ExtensionsApi
{
    private const string Namespace = "http://docs.openstack.org/compute/ext/fake_xml";
    private const string Updated = "2014-12-03T00:00:00Z";

    private static readonly (string Alias, string Name, string Description)[] Served =
    [
        ("os-admin-actions", "AdminActions", "Enable admin-only server actions (os-resetState)."),
        ("os-aggregates", "Aggregates", "Admin-only aggregate administration (each XenServer pool is one)."),
        ("os-availability-zone", "AvailabilityZone", "1. Add availability_zone to the Create Server API. 2. Add availability zones describing."),
        ("os-deferred-delete", "DeferredDelete", "Instance deferred delete (restore, forceDelete)."),
        ("OS-DCF", "DiskConfig", "Disk Management Extension."),
        ("OS-EXT-AZ", "ExtendedAvailabilityZone", "Extended Availability Zone support."),
        ("OS-EXT-IPS", "ExtendedIps", "Adds type parameter to the ip list."),
        ("OS-EXT-IPS-MAC", "ExtendedIpsMac", "Adds mac address parameter to the ip list."),
        ("OS-EXT-SRV-ATTR", "ExtendedServerAttributes", "Extended Server Attributes support."),
        ("OS-EXT-STS", "ExtendedStatus", "Extended Status support."),
        ("os-flavor-access", "FlavorAccess", "Flavor access support."),
        ("OS-FLV-DISABLED", "FlavorDisabled", "Support to show the disabled status of a flavor."),
        ("OS-FLV-EXT-DATA", "FlavorExtraData", "Provide additional data for flavors."),
        ("os-flavor-extra-specs", "FlavorExtraSpecs", "Flavors extra specs support."),
        ("os-flavor-manage", "FlavorManage", "Flavor create/delete API support."),
        ("os-hosts", "Hosts", "Admin-only host administration."),
        ("os-hypervisors", "Hypervisors", "Admin-only hypervisor administration."),
        ("os-instance-actions", "InstanceActions", "View a log of actions and events taken on an instance."),
        ("os-keypairs", "Keypairs", "Keypair Support."),
        ("os-lock-server", "LockServer", "Enable lock/unlock server actions."),
        ("os-migrate-server", "MigrateServer", "Enable migrate and live-migrate server actions."),
        ("os-migrations", "Migrations", "Provide data on migrations."),
        ("os-multiple-create", "MultipleCreate", "Allow multiple create in the Create Server v2.1 API."),
        ("os-pause-server", "PauseServer", "Enable pause/unpause server actions."),
        ("os-quota-sets", "Quotas", "Quotas management support."),
        ("OS-SCH-HNT", "SchedulerHints", "Pass arbitrary key/value pairs to the scheduler."),
        ("os-server-groups", "ServerGroups", "Server group support."),
        ("os-server-password", "ServerPassword", "Server password support."),
        ("os-server-start-stop", "ServerStartStop", "Start/Stop instance compute API support."),
        ("OS-SRV-USG", "ServerUsage", "Adds launched_at and terminated_at on Servers."),
        ("os-services", "Services", "Services support."),
        ("os-simple-tenant-usage", "SimpleTenantUsage", "Simple tenant usage extension."),
        ("os-suspend-server", "SuspendServer", "Enable suspend/resume server actions."),
        ("os-used-limits", "UsedLimits", "Provide data on limited resources that are being used."),
    ];

    public static void MapExtensions(this RouteGroupBuilder compute)
    {
        var extensions = compute.MapGroup("/extensions").WithTags("Extensions");
        extensions.MapGet("", (NovaCaller caller) =>
        {
            caller.Authorize(NovaPolicy.ExtensionsList);
            return Results.Json(new JsonObject { ["extensions"] = new JsonArray(Served.OrderBy(e => e.Alias, StringComparer.Ordinal).Select(View).ToArray()) });
        }).WithSummary("List the API extensions served (Nova's frozen v2 discovery list)");
        extensions.MapGet("/{alias}", (string alias, NovaCaller caller) =>
        {
            caller.Authorize(NovaPolicy.ExtensionsList);
            var found = Served.FirstOrDefault(e => e.Alias == alias);
            return found.Alias is null
                ? throw NovaFaultException.NotFound(NovaMessages.ResourceNotFound)
                : Results.Json(new JsonObject { ["extension"] = View(found) });
        }).WithSummary("Show one extension by its alias");
    }

    private static JsonNode View((string Alias, string Name, string Description) e) => new JsonObject
    {
        ["name"] = e.Name, ["alias"] = e.Alias, ["description"] = e.Description, ["namespace"] = Namespace, ["updated"] = Updated, ["links"] = new JsonArray(),
    };
}
