using System.Text.Json.Nodes;
using Microsoft.EntityFrameworkCore;
using XenMigrate.Api.Nova.Migrations;
using XenMigrate.Api.Nova.Services;
using XenMigrate.Domain.Hosts;
using XenMigrate.Infrastructure.Compute.Api;
using XenMigrate.Infrastructure.Persistence;

namespace XenMigrate.Api.Nova.AvailabilityZones;

/// <summary>
/// Nova's os-availability-zone (compute/availability_zone.py): the zones of the compute services.
/// Every XenServer host is a nova-compute service in Nova's default zone ("nova"); a zone is
/// available while one of its hosts is enabled and up. The detail (admin) lists each host's
/// service as available (up, not forced down) and active (enabled).
/// </summary>
public static class AvailabilityZonesApi
{
    /// <summary>Nova's default_availability_zone: where every host is.</summary>
    public const string DefaultZone = "nova";

    public static void MapAvailabilityZones(this RouteGroupBuilder compute)
    {
        var zones = compute.MapGroup("/os-availability-zone").WithTags("Availability zones");
        zones.MapGet("", List).WithSummary("List availability zones");
        zones.MapGet("/detail", Detail).WithSummary("List availability zones with their hosts' services (admin)");
    }

    private static async Task<IResult> List(NovaCaller caller, XenMigrateDbContext db, CancellationToken ct)
    {
        caller.Authorize(NovaPolicy.AvailabilityZoneList);
        var hosts = await db.ComputeHosts.AsNoTracking().ToListAsync(ct);
        var zones = hosts.Count == 0 ? [] : new[] { Zone(hosts, withHosts: null) };
        return Results.Json(new JsonObject { ["availabilityZoneInfo"] = new JsonArray(zones) });
    }

    private static async Task<IResult> Detail(NovaCaller caller, XenMigrateDbContext db, CancellationToken ct)
    {
        caller.Authorize(NovaPolicy.AvailabilityZoneDetail);
        var hosts = await db.ComputeHosts.AsNoTracking().OrderBy(h => h.Name).ToListAsync(ct);
        var zones = hosts.Count == 0 ? [] : new[]
        {
            Zone(hosts, new JsonObject(hosts.Select(h => KeyValuePair.Create(h.Name, (JsonNode?)new JsonObject
            {
                [ServicesApi.ComputeBinary] = new JsonObject
                {
                    ["available"] = h.IsUp && !h.ForcedDown,
                    ["active"] = h.Enabled,
                    ["updated_at"] = MigrationsApi.Time(h.LastSeenAt ?? h.UpdatedAt),
                },
            })))),
        };
        return Results.Json(new JsonObject { ["availabilityZoneInfo"] = new JsonArray(zones) });
    }

    private static JsonNode Zone(IReadOnlyCollection<ComputeHost> hosts, JsonObject? withHosts) => new JsonObject
    {
        ["zoneName"] = DefaultZone,
        ["zoneState"] = new JsonObject { ["available"] = hosts.Any(h => h.IsSchedulable) },
        ["hosts"] = withHosts,
    };
}
