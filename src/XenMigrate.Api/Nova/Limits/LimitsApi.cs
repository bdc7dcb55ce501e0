using System.Text.Json.Nodes;
using XenMigrate.Infrastructure.Compute.Api;
using XenMigrate.Infrastructure.Quotas;

namespace XenMigrate.Api.Nova.Limits;

/// <summary>
/// Nova's <c>GET /limits</c> (nova/api/openstack/compute/limits.py): the caller's project's quota
/// limits under their absolute-limit names, with usage, and an always-empty <c>rate</c> list. An
/// admin may ask for another project with <c>tenant_id</c>. The names leave the answer when Nova
/// dropped them: the network proxies at 2.36, maxImageMeta at 2.39, the injected files at 2.57; from
/// 2.75 an unknown query parameter is a 400.
/// </summary>
public static class LimitsApi
{
    /// <summary>Each quota resource and the absolute limits it shows as (views/limits.py).</summary>
    private static readonly (string Resource, string Name, int FromVersion, int UntilVersion)[] LimitNames =
    [
        ("ram", "maxTotalRAMSize", 0, int.MaxValue),
        ("instances", "maxTotalInstances", 0, int.MaxValue),
        ("cores", "maxTotalCores", 0, int.MaxValue),
        ("key_pairs", "maxTotalKeypairs", 0, int.MaxValue),
        ("metadata_items", "maxServerMeta", 0, int.MaxValue),
        ("metadata_items", "maxImageMeta", 0, 39),
        ("injected_files", "maxPersonality", 0, 57),
        ("injected_file_content_bytes", "maxPersonalitySize", 0, 57),
        ("server_groups", "maxServerGroups", 0, int.MaxValue),
        ("server_group_members", "maxServerGroupMembers", 0, int.MaxValue),
    ];

    private static readonly (string Resource, string Name)[] UsedNames =
        [("ram", "totalRAMUsed"), ("cores", "totalCoresUsed"), ("instances", "totalInstancesUsed"), ("server_groups", "totalServerGroupsUsed")];

    /// <summary>Shown until 2.36, though Neutron owns them: unlimited here, none used (Nova with Neutron shows the same).</summary>
    private static readonly string[] NetworkLimits = ["maxTotalFloatingIps", "maxSecurityGroups", "maxSecurityGroupRules"];
    private static readonly string[] NetworkUsed = ["totalFloatingIpsUsed", "totalSecurityGroupsUsed"];

    private static readonly HashSet<string> Query = ["tenant_id"];

    public static void MapLimits(this RouteGroupBuilder compute) =>
        compute.MapGet("/limits", Index).WithTags("Limits").WithSummary("Show the project's absolute limits and usage")
            .WithDescription("Anyone may see their own project's; an admin another's with ?tenant_id=. The rate list is always empty, as in Nova.");

    private static async Task<IResult> Index(NovaCaller caller, QuotaService quotas, CancellationToken ct)
    {
        var query = caller.Http.Request.Query;
        if (caller.Version.AtLeast(75)) NovaQuery.RejectUnknown(query, Query);
        caller.Authorize(NovaPolicy.Limits, null);
        var project = caller.Context.ProjectId;
        if (query.TryGetValue("tenant_id", out var tenant))
        {
            project = tenant.ToString();
            caller.Authorize(NovaPolicy.LimitsOtherProject, project);
        }

        var limits = await quotas.LimitsAsync(project, ct);
        var usage = await quotas.UsageAsync(project, ct);
        var absolute = new JsonObject();
        foreach (var (resource, name, from, until) in LimitNames)
            if (caller.Version.AtLeast(from) && !caller.Version.AtLeast(until) && limits.TryGetValue(resource, out var limit)) absolute[name] = limit;
        foreach (var (resource, name) in UsedNames) absolute[name] = usage.GetValueOrDefault(resource);
        if (!caller.Version.AtLeast(36))
        {
            foreach (var name in NetworkLimits) absolute[name] = -1;
            foreach (var name in NetworkUsed) absolute[name] = 0;
        }

        return Results.Json(new JsonObject { ["limits"] = new JsonObject { ["rate"] = new JsonArray(), ["absolute"] = absolute } });
    }
}
