using System.Text.Json;
using System.Text.Json.Nodes;
using XenMigrate.Api.Http;
using XenMigrate.Api.Nova.Faults;
using XenMigrate.Api.Nova.Servers;
using XenMigrate.Infrastructure.Quotas;
using XenMigrate.Infrastructure.Compute.Api;

namespace XenMigrate.Api.Nova.Quotas;

/// <summary>
/// Nova's <c>os-quota-sets</c>: a project's limits, the defaults, limits with usage (detail), and
/// an admin's update. Limits are Nova's defaults (<c>Quota:*</c> settings) unless a project has its
/// own; usage is counted from the project's servers.
/// </summary>
public static partial class QuotaSetsApi
{
    /// <summary>Removed from the body at 2.36 (network proxies) and 2.57 (injected files).</summary>
    private static readonly string[] NetworkProxies = ["fixed_ips", "floating_ips", "security_group_rules", "security_groups"];
    private static readonly string[] InjectedFiles = ["injected_file_content_bytes", "injected_file_path_bytes", "injected_files"];

    public static void MapQuotaSets(this RouteGroupBuilder compute)
    {
        var quotas = compute.MapGroup("/os-quota-sets/{tenant_id}").WithTags("Quota sets");
        quotas.MapGet("", Show).WithSummary("Show a project's quota limits");
        quotas.MapGet("/defaults", Defaults).WithSummary("Show the default quota limits");
        quotas.MapGet("/detail", Detail).WithSummary("Show a project's quota limits with usage");
        quotas.MapPut("", Update).WithSummary("Set a project's quota limits (admin)");
    }

    private static async Task<IResult> Show(string tenant_id, NovaCaller caller, QuotaService quotas, CancellationToken ct)
    {
        caller.Authorize(NovaPolicy.QuotaSetsShow, tenant_id);
        return Body(tenant_id, caller, await quotas.LimitsAsync(tenant_id, ct), withId: true);
    }

    private static async Task<IResult> Defaults(string tenant_id, NovaCaller caller, QuotaService quotas, CancellationToken ct)
    {
        caller.Authorize(NovaPolicy.QuotaSetsDefaults, tenant_id);
        return Body(tenant_id, caller, await quotas.DefaultsAsync(ct), withId: true);
    }

    /// <summary>
    /// Nova's os-quota-class-sets (quota_classes.py, admin): the "default" class is the defaults
    /// every project starts from; any other class name shows them too (Nova reads only "default").
    /// Before 2.50 the body has no server group quotas and lists the network proxies.
    /// </summary>
    public static void MapQuotaClassSets(this RouteGroupBuilder compute)
    {
        var classes = compute.MapGroup("/os-quota-class-sets/{id}").WithTags("Quota sets");
        classes.MapGet("", ShowClass).WithSummary("Show a quota class's limits (admin; 'default' is every project's defaults)");
        classes.MapPut("", UpdateClass).WithSummary("Set the default quota class's limits (admin)").WithDescription("""{"quota_class_set":{"instances":20}}""");
    }

    private static async Task<IResult> ShowClass(string id, NovaCaller caller, QuotaService quotas, CancellationToken ct)
    {
        caller.Authorize(NovaPolicy.QuotaClassSetsShow);
        return ClassBody(id, caller, await quotas.DefaultsAsync(ct), await quotas.DefaultClassRowsAsync(ct));
    }

    private static async Task<IResult> UpdateClass(string id, NovaCaller caller, QuotaService quotas, CancellationToken ct)
    {
        var json = await NovaRequestBody.ReadAsync(caller.Http.Request, ct);
        var known = ClassResources(caller, await quotas.DefaultsAsync(ct)).Keys.ToHashSet();
        if (!caller.Version.AtLeast(50)) known.UnionWith(NetworkProxies); // still accepted (and shown), never enforced
        var wanted = ReadLimits(json, "quota_class_set", known, allowForce: false);
        caller.Authorize(NovaPolicy.QuotaClassSetsUpdate);
        if (id == Infrastructure.Quotas.QuotaClassLimit.DefaultClass) await quotas.SetDefaultsAsync(wanted, ct);
        return ClassBody(id, caller, await quotas.DefaultsAsync(ct), await quotas.DefaultClassRowsAsync(ct), withId: false); // Nova's update answers no id
    }

    private static Dictionary<string, int> ClassResources(NovaCaller caller, IReadOnlyDictionary<string, int> limits) =>
        limits.Where(p => caller.Version.AtLeast(50) || p.Key is not ("server_groups" or "server_group_members")).ToDictionary(p => p.Key, p => p.Value);

    private static IResult ClassBody(string id, NovaCaller caller, IReadOnlyDictionary<string, int> limits, IReadOnlyDictionary<string, int> rows,
        bool withId = true)
    {
        var body = Shape(id, caller, ClassResources(caller, limits).ToDictionary(p => p.Key, p => (JsonNode)JsonValue.Create(p.Value)), withId,
            legacy => legacy, proxiesUntil: 50);
        foreach (var name in NetworkProxies)
            if (body.ContainsKey(name) && rows.TryGetValue(name, out var kept)) body[name] = kept;
        return Results.Json(new JsonObject { ["quota_class_set"] = body });
    }

    private static async Task<IResult> Detail(string tenant_id, NovaCaller caller, QuotaService quotas, CancellationToken ct)
    {
        caller.Authorize(NovaPolicy.QuotaSetsDetail, tenant_id);
        var usage = await quotas.UsageAsync(tenant_id, ct);
        var limits = await quotas.LimitsAsync(tenant_id, ct);
        var detail = limits.ToDictionary(p => p.Key, p => (JsonNode)new JsonObject
        {
            ["in_use"] = usage.GetValueOrDefault(p.Key), ["limit"] = p.Value, ["reserved"] = 0,
        });
        return Results.Json(new JsonObject { ["quota_set"] = Shape(tenant_id, caller, detail, withId: true, legacy => new JsonObject { ["in_use"] = 0, ["limit"] = legacy, ["reserved"] = 0 }) });
    }

    private static async Task<IResult> Update(string tenant_id, NovaCaller caller, QuotaService quotas, CancellationToken ct)
    {
        caller.Authorize(NovaPolicy.QuotaSetsUpdate, tenant_id);
        var json = await NovaRequestBody.ReadAsync(caller.Http.Request, ct);

        var known = (await quotas.LimitsAsync(tenant_id, ct)).Keys.ToHashSet();
        var wanted = ReadLimits(json, "quota_set", known, allowForce: true);
        var force = NovaParameterTypes.IsTrue(json!["quota_set"]!["force"]);
        if (!force)
        {
            var usage = await quotas.UsageAsync(tenant_id, ct);
            foreach (var (resource, limit) in wanted)
                if (limit != -1 && usage.GetValueOrDefault(resource) > limit)
                    throw NovaFaultException.BadRequest(NovaMessages.QuotaBelowUsage(limit, resource, usage[resource]));
        }

        await quotas.SetLimitsAsync(tenant_id, wanted, ct);
        return Body(tenant_id, caller, await quotas.LimitsAsync(tenant_id, ct), withId: false);
    }

    /// <summary>schemas/quota_sets.py update (and quota_classes.py update): {wrapper: {resource: common_quota, force?}}.</summary>
    private static Dictionary<string, int> ReadLimits(JsonNode? json, string wrapper, IReadOnlySet<string> known, bool allowForce)
    {
        if (json is not JsonObject body || body.Count != 1 || body[wrapper] is not JsonObject set)
            throw NovaFaultException.BadRequest(json is JsonObject o && o.ContainsKey(wrapper)
                ? NovaMessages.InvalidInput(wrapper, o[wrapper], $"{NovaValues.Repr(o[wrapper])} is not of type 'object'")
                : $"'{wrapper}' is a required property");
        var wanted = new Dictionary<string, int>();
        foreach (var (key, value) in set)
        {
            if (key == "force" && allowForce)
            {
                if (!NovaParameterTypes.IsBoolean(value))
                    throw NovaFaultException.BadRequest(NovaMessages.InvalidInput(key, value,
                        NovaParameterTypes.BooleanError(value)));
                continue;
            }

            if (!known.Contains(key))
                throw NovaFaultException.BadRequest(NovaMessages.InvalidInput(wrapper, set, $"Additional properties are not allowed ('{key}' was unexpected)"));
            if (value is not JsonValue v || !(v.GetValueKind() == JsonValueKind.Number && v.TryGetValue<int>(out var limit)
                                              // common_quota: 'pattern': '^-?[0-9]+$', so no blank around the digits
                                              || v.GetValueKind() == JsonValueKind.String && QuotaPattern().IsMatch(v.GetValue<string>())
                                              && int.TryParse(v.GetValue<string>(), System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out limit))
                || limit < -1)
                throw NovaFaultException.BadRequest(NovaMessages.InvalidInput(key, value, $"{NovaValues.Repr(value)} is not valid under any of the given schemas"));
            wanted[key] = limit;
        }

        return wanted;
    }

    private static IResult Body(string project, NovaCaller caller, IReadOnlyDictionary<string, int> limits, bool withId) =>
        Results.Json(new JsonObject
        {
            ["quota_set"] = Shape(project, caller, limits.ToDictionary(p => p.Key, p => (JsonNode)JsonValue.Create(p.Value)), withId, legacy => legacy),
        });

    /// <summary>The quota_set as Nova shows it at the caller's microversion (the network proxies are -1: not Nova's to count here).</summary>
    private static JsonObject Shape(string project, NovaCaller caller, Dictionary<string, JsonNode> values, bool withId, Func<int, JsonNode> legacy,
        int proxiesUntil = 36)
    {
        var body = new JsonObject();
        if (withId) body["id"] = project;
        if (!caller.Version.AtLeast(proxiesUntil))
            foreach (var name in NetworkProxies) values[name] = legacy(-1);
        if (caller.Version.AtLeast(57))
            foreach (var name in InjectedFiles) values.Remove(name);
        foreach (var (key, value) in values.OrderBy(p => p.Key, StringComparer.Ordinal)) body[key] = value;
        return body;
    }

    [System.Text.RegularExpressions.GeneratedRegex("^-?[0-9]+$")]
    private static partial System.Text.RegularExpressions.Regex QuotaPattern();
}
