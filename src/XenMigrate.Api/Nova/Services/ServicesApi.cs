using System.Text.Json.Nodes;
using Microsoft.EntityFrameworkCore;
using XenMigrate.Api.Nova.Faults;
using XenMigrate.Api.Nova.Migrations;
using XenMigrate.Domain.Hosts;
using XenMigrate.Infrastructure.Persistence;
using XenMigrate.Infrastructure.Compute.Api;

namespace XenMigrate.Api.Nova.Services;

/// <summary>
/// <c>/os-services</c> (nova services.py): every XenServer host is one <c>nova-compute</c> service.
/// Disabling one keeps the scheduler away from it; forcing it down also refuses new moves off it
/// (Nova's check_instance_host). Below 2.53 a service is named by host and binary in the body
/// (<c>PUT /os-services/disable</c> …); from 2.53 by its uuid in the path.
/// </summary>
public static class ServicesApi
{
    public const string ComputeBinary = "nova-compute";

    public static void MapServices(this RouteGroupBuilder compute)
    {
        compute.MapGet("/os-services", List).WithTags("Services").WithSummary("List compute services, one per XenServer host (admin)");
        compute.MapPut("/os-services/{service_id}", Update).WithTags("Services")
            .WithSummary("Enable, disable or force down a host's compute service (admin)")
            .WithDescription("""From 2.53: PUT /os-services/{uuid} {"status":"disabled","disabled_reason":"failing PSU"} or {"forced_down":true}. Before: PUT /os-services/disable|enable|disable-log-reason|force-down {"host":"xs-sim-1","binary":"nova-compute"}.""");
    }

    private static async Task<IResult> List(NovaCaller caller, XenMigrateDbContext db, CancellationToken ct)
    {
        caller.Authorize(NovaPolicy.ServicesList);
        var query = caller.Http.Request.Query;
        var hosts = await db.ComputeHosts.AsNoTracking().OrderBy(h => h.Id).ToListAsync(ct);
        IEnumerable<ComputeHost> rows = hosts;
        if (query.TryGetValue("host", out var host) && host.ToString().Length > 0) rows = rows.Where(h => h.Name == host.ToString());
        if (query.TryGetValue("binary", out var binary) && binary.ToString().Length > 0 && binary.ToString() != ComputeBinary) rows = [];
        return Results.Json(new JsonObject { ["services"] = new JsonArray(rows.Select(h => (JsonNode)View(h, caller)).ToArray()) });
    }

    private static async Task<IResult> Update(string service_id, NovaCaller caller, XenMigrateDbContext db, TimeProvider time, CancellationToken ct)
    {
        var body = await ReadBodyAsync(caller.Http.Request, ct);
        return caller.Version.AtLeast(53)
            ? await UpdateByUuidAsync(service_id, body, caller, db, time, ct)
            : await UpdateByActionAsync(service_id, body, caller, db, time, ct);
    }

    /// <summary>2.53+: the service uuid in the path, the change in the body.</summary>
    private static async Task<IResult> UpdateByUuidAsync(string serviceId, JsonObject body, NovaCaller caller, XenMigrateDbContext db,
        TimeProvider time, CancellationToken ct)
    {
        RejectUnknownKeys(body, ["status", "disabled_reason", "forced_down"]);
        var status = OptionalString(body, "status");
        if (status is not null and not ("enabled" or "disabled"))
            throw NovaFaultException.BadRequest(NovaMessages.InvalidInput("status", status, $"'{status}' is not one of ['enabled', 'disabled']"));
        var reason = OptionalReason(body);
        var forcedDown = body.ContainsKey("forced_down") ? RequiredBool(body, "forced_down") : (bool?)null;

        if (!Guid.TryParse(serviceId, out var uuid)) throw NovaFaultException.BadRequest($"Invalid uuid {serviceId}");
        caller.Authorize(NovaPolicy.ServicesUpdate);
        var host = await db.ComputeHosts.FirstOrDefaultAsync(h => h.Uuid == uuid, ct)
                   ?? throw NovaFaultException.NotFound($"Service {serviceId} could not be found.");

        if (status is null && forcedDown is null)
            throw NovaFaultException.BadRequest("No updates were requested. Fields 'status' or 'forced_down' should be specified.");
        var now = time.GetUtcNow().UtcDateTime;
        if (status == "enabled")
        {
            if (!string.IsNullOrEmpty(reason)) throw NovaFaultException.BadRequest("Specifying 'disabled_reason' with status 'enabled' is invalid.");
            host.Enable(now);
        }
        else if (status == "disabled")
        {
            host.Disable(reason, now);
        }

        if (forcedDown is { } down) host.SetForcedDown(down, now);
        await db.SaveChangesAsync(ct);
        return Results.Json(new JsonObject { ["service"] = View(host, caller) });
    }

    /// <summary>Before 2.53: <c>PUT /os-services/{action}</c> naming the service by host and binary.</summary>
    private static async Task<IResult> UpdateByActionAsync(string action, JsonObject body, NovaCaller caller, XenMigrateDbContext db,
        TimeProvider time, CancellationToken ct)
    {
        var allowed = new List<string> { "host", "binary", "disabled_reason" };
        if (caller.Version.AtLeast(11)) allowed.Add("forced_down");
        RejectUnknownKeys(body, allowed);
        var hostName = RequiredString(body, "host");
        var binary = RequiredString(body, "binary");
        var reason = OptionalReason(body);
        var forcedDown = body.ContainsKey("forced_down") ? RequiredBool(body, "forced_down") : (bool?)null;
        caller.Authorize(NovaPolicy.ServicesUpdate);

        var known = action is "enable" or "disable" or "disable-log-reason" || (action == "force-down" && caller.Version.AtLeast(11));
        if (!known) throw NovaFaultException.NotFound("Unknown action");
        if (action == "disable-log-reason" && !body.ContainsKey("disabled_reason")) throw NovaFaultException.BadRequest("Missing disabled reason field");
        if (action == "force-down" && forcedDown is null) throw NovaFaultException.BadRequest("Missing forced_down field");
        if (binary != ComputeBinary)
            throw NovaFaultException.BadRequest($"Updating a {binary} service is not supported. Only nova-compute services can be updated.");
        var host = await db.ComputeHosts.FirstOrDefaultAsync(h => h.Name == hostName, ct)
                   ?? throw NovaFaultException.NotFound($"Could not find binary {binary} on host {hostName}.");

        var now = time.GetUtcNow().UtcDateTime;
        var service = new JsonObject { ["host"] = hostName, ["binary"] = binary };
        switch (action)
        {
            case "enable":
                host.Enable(now);
                service["status"] = "enabled";
                break;
            case "disable":
            case "disable-log-reason":
                var logged = action == "disable-log-reason" ? reason : null;
                host.Disable(logged, now);
                service["status"] = "disabled";
                if (!string.IsNullOrEmpty(logged)) service["disabled_reason"] = logged;
                break;
            default:
                host.SetForcedDown(forcedDown!.Value, now);
                service["forced_down"] = forcedDown.Value;
                break;
        }

        await db.SaveChangesAsync(ct);
        return Results.Json(new JsonObject { ["service"] = service });
    }

    /// <summary>One service as Nova shows it at the caller's microversion.</summary>
    public static JsonObject View(ComputeHost host, NovaCaller caller)
    {
        var view = new JsonObject
        {
            ["id"] = caller.Version.AtLeast(53) ? host.Uuid.ToString() : host.Id,
            ["binary"] = ComputeBinary,
            ["disabled_reason"] = host.DisabledReason,
            ["host"] = host.Name,
            ["state"] = host.IsUp && !host.ForcedDown ? "up" : "down",
            ["status"] = host.Enabled ? "enabled" : "disabled",
            ["updated_at"] = MigrationsApi.Time(host.LastSeenAt ?? host.UpdatedAt),
            ["zone"] = AvailabilityZones.AvailabilityZonesApi.DefaultZone,
        };
        if (caller.Version.AtLeast(11)) view["forced_down"] = host.ForcedDown;
        return view;
    }

    private static async Task<JsonObject> ReadBodyAsync(HttpRequest request, CancellationToken ct) =>
        await NovaRequestBody.ReadAsync(request, ct) as JsonObject ?? throw NovaFaultException.BadRequest(NovaMessages.MalformedBody);

    private static void RejectUnknownKeys(JsonObject body, IReadOnlyCollection<string> allowed)
    {
        foreach (var key in body.Select(p => p.Key))
        {
            if (!allowed.Contains(key))
                throw NovaFaultException.BadRequest($"Invalid input for field/attribute {key}. Additional properties are not allowed ('{key}' was unexpected)");
        }
    }

    private static string? OptionalString(JsonObject body, string key)
    {
        if (!body.TryGetPropertyValue(key, out var node)) return null;
        return node is JsonValue v && v.TryGetValue<string>(out var s)
            ? s
            : throw NovaFaultException.BadRequest(NovaMessages.InvalidInput(key, node?.ToJsonString() ?? "None", $"{node?.ToJsonString() ?? "None"} is not of type 'string'"));
    }

    private static string RequiredString(JsonObject body, string key)
    {
        var value = OptionalString(body, key) ?? throw NovaFaultException.BadRequest($"Invalid input for field/attribute body. Value: {body.ToJsonString()}. '{key}' is a required property");
        if (value.Length is 0 or > 255)
            throw NovaFaultException.BadRequest(NovaMessages.InvalidInput(key, value, value.Length == 0 ? "'' is too short" : $"'{value}' is too long"));
        return value;
    }

    /// <summary>disabled_reason: a string of 1 to 255 characters.</summary>
    private static string? OptionalReason(JsonObject body)
    {
        var reason = OptionalString(body, "disabled_reason");
        if (reason is { Length: 0 or > 255 })
            throw NovaFaultException.BadRequest(NovaMessages.InvalidInput("disabled_reason", reason, reason.Length == 0 ? "'' is too short" : $"'{reason}' is too long"));
        return reason;
    }

    /// <summary>Nova's parameter_types.boolean (services' forced_down), as every body boolean.</summary>
    private static bool RequiredBool(JsonObject body, string key)
    {
        var node = body[key];
        if (!NovaParameterTypes.IsBoolean(node))
            throw NovaFaultException.BadRequest(NovaMessages.InvalidInput(key, node, NovaParameterTypes.BooleanError(node)));
        return NovaParameterTypes.IsTrue(node);
    }
}
