using System.Text.Json.Nodes;
using Microsoft.EntityFrameworkCore;
using XenMigrate.Api.Nova.AvailabilityZones;
using XenMigrate.Api.Nova.Faults;
using XenMigrate.Domain.Hosts;
using XenMigrate.Infrastructure.Compute.Api;
using XenMigrate.Infrastructure.Inventory;
using XenMigrate.Infrastructure.Persistence;

namespace XenMigrate.Api.Nova.Hosts;

/// <summary>
/// Nova's os-hosts (compute/hosts.py, admin only, 2.1–2.42; 404 from 2.43 as in Nova): each
/// XenServer host as its nova-compute service, in zone 'nova'; a host's resources (its totals read
/// over XAPI, what its servers' flavors use, per project); enabling or disabling it as os-services
/// does. Maintenance mode and host power actions are Nova virt-driver hooks XenMigrate does not
/// implement (501, as Nova's drivers without them): a host is emptied with a host drain.
/// </summary>
public static class HostsApi
{
    private static readonly string[] Switches = ["enable", "disable", "Enable", "Disable", "ENABLE", "DISABLE"];

    public static void MapHosts(this RouteGroupBuilder compute)
    {
        var hosts = compute.MapGroup("/os-hosts").WithTags("Hosts");
        hosts.MapGet("", List).WithSummary("List the hosts and their services (admin, before 2.43)");
        hosts.MapGet("/{host_name}", Show).WithSummary("A host's resources, in total, used now, by its servers' flavors, per project (admin, before 2.43)");
        hosts.MapPut("/{host_name}", Update).WithSummary("Enable or disable a host (admin, before 2.43)")
            .WithDescription("""{"status":"disable"}; maintenance_mode is not implemented (501): use POST /xenmigrate/v1/host-drains.""");
        foreach (var action in new[] { "startup", "shutdown", "reboot" })
            hosts.MapGet("/{host_name}/" + action, (string host_name, NovaCaller caller, XenMigrateDbContext db, CancellationToken ct) => PowerAsync(host_name, caller, db, ct))
                .WithSummary($"Host power action {action} (admin, before 2.43; not implemented: 501)");
    }

    private static async Task<IResult> List(NovaCaller caller, XenMigrateDbContext db, CancellationToken ct)
    {
        Deprecated(caller);
        caller.Authorize(NovaPolicy.HostsList);
        var zone = caller.Http.Request.Query["zone"].FirstOrDefault();
        var hosts = (await db.ComputeHosts.AsNoTracking().ToListAsync(ct)).OrderBy(h => h.Id).ToList();
        if (!string.IsNullOrEmpty(zone) && zone != AvailabilityZonesApi.DefaultZone) hosts = [];
        return Results.Json(new JsonObject
        {
            ["hosts"] = new JsonArray(hosts.Select(h => (JsonNode)new JsonObject
            {
                ["host_name"] = h.Name, ["service"] = "compute", ["zone"] = AvailabilityZonesApi.DefaultZone,
            }).ToArray()),
        });
    }

    private static async Task<IResult> Show(string host_name, NovaCaller caller, XenMigrateDbContext db, HypervisorUsageReader reader, CancellationToken ct)
    {
        Deprecated(caller);
        caller.Authorize(NovaPolicy.HostsShow);
        var host = await FindAsync(db, host_name, ct);
        var usage = (await reader.ReadAsync([host.Name], ct))[host.Name];
        var servers = await db.Servers.AsNoTracking().Where(s => s.Host == host.Name).ToListAsync(ct);

        JsonNode Resource(string project, long cpu, long memoryMb, long diskGb) => new JsonObject
        {
            ["resource"] = new JsonObject { ["host"] = host.Name, ["project"] = project, ["cpu"] = cpu, ["memory_mb"] = memoryMb, ["disk_gb"] = diskGb },
        };

        var resources = new List<JsonNode>
        {
            Resource("(total)", usage.Vcpus, usage.MemoryBytes >> 20, usage.DiskBytes >> 30),
            Resource("(used_now)", usage.VcpusUsed, (usage.MemoryBytes - usage.MemoryFreeBytes) >> 20, usage.DiskUsedBytes >> 30),
            Resource("(used_max)", servers.Sum(s => s.Flavor.Vcpus), servers.Sum(s => (long)s.Flavor.MemoryMb), servers.Sum(s => (long)s.Flavor.RootGb + s.Flavor.EphemeralGb)),
        };
        resources.AddRange(servers.GroupBy(s => s.ProjectId).OrderBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => Resource(g.Key, g.Sum(s => s.Flavor.Vcpus), g.Sum(s => (long)s.Flavor.MemoryMb), g.Sum(s => (long)s.Flavor.RootGb + s.Flavor.EphemeralGb))));
        return Results.Json(new JsonObject { ["host"] = new JsonArray(resources.ToArray()) });
    }

    /// <summary>hosts.py update: the schema (400), policy (403), the host (404); status as os-services, maintenance mode 501.</summary>
    private static async Task<IResult> Update(string host_name, NovaCaller caller, XenMigrateDbContext db, TimeProvider time, CancellationToken ct)
    {
        Deprecated(caller);
        var body = await NovaRequestBody.ReadAsync(caller.Http.Request, ct) as JsonObject
                   ?? throw NovaFaultException.BadRequest(NovaMessages.MalformedBody);
        foreach (var key in new[] { "status", "maintenance_mode" })
        {
            if (body.TryGetPropertyValue(key, out var value) && !(NovaParameterTypes.IsString(value) && Switches.Contains(value!.GetValue<string>())))
                throw NovaFaultException.BadRequest(NovaMessages.InvalidInput(key, value,
                    $"{NovaValues.Repr(value)} is not one of [{string.Join(", ", Switches.Select(w => $"'{w}'"))}]"));
        }

        if (!body.ContainsKey("status") && !body.ContainsKey("maintenance_mode"))
            throw NovaFaultException.BadRequest($"{NovaValues.Repr(body)} is not valid under any of the given schemas");
        if (body.FirstOrDefault(p => p.Key is not ("status" or "maintenance_mode")) is { Key: { } extra })
            throw NovaFaultException.BadRequest($"Additional properties are not allowed ('{extra}' was unexpected)");
        caller.Authorize(NovaPolicy.HostsUpdate);

        var host = await FindAsync(db, host_name, ct, tracked: true);
        if (body.ContainsKey("maintenance_mode"))
            throw new NovaFaultException(StatusCodes.Status501NotImplemented, "Virt driver does not implement host maintenance mode.");
        var enable = body["status"]!.GetValue<string>().Equals("enable", StringComparison.OrdinalIgnoreCase);
        var now = time.GetUtcNow().UtcDateTime;
        if (enable) host.Enable(now);
        else host.Disable(null, now);
        await db.SaveChangesAsync(ct);
        return Results.Json(new JsonObject { ["host"] = host.Name, ["status"] = enable ? "enabled" : "disabled" });
    }

    private static async Task<IResult> PowerAsync(string hostName, NovaCaller caller, XenMigrateDbContext db, CancellationToken ct)
    {
        Deprecated(caller);
        caller.Authorize(NovaPolicy.HostsUpdate);
        await FindAsync(db, hostName, ct);
        throw new NovaFaultException(StatusCodes.Status501NotImplemented, "Virt driver does not implement host power management.");
    }

    private static void Deprecated(NovaCaller caller)
    {
        if (caller.Version.AtLeast(43)) throw NovaFaultException.NotFound(NovaMessages.ResourceNotFound);
    }

    private static async Task<ComputeHost> FindAsync(XenMigrateDbContext db, string name, CancellationToken ct, bool tracked = false) =>
        await (tracked ? db.ComputeHosts : db.ComputeHosts.AsNoTracking()).FirstOrDefaultAsync(h => h.Name == name, ct)
        ?? throw NovaFaultException.NotFound($"Compute host {name} could not be found.");
}
