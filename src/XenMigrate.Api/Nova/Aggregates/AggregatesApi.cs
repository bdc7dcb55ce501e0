using System.Text.Json.Nodes;
using Microsoft.EntityFrameworkCore;
using XenMigrate.Api.Nova.Faults;
using XenMigrate.Api.Nova.Migrations;
using XenMigrate.Domain.Hosts;
using XenMigrate.Infrastructure.Persistence;
using XenMigrate.Infrastructure.Compute.Api;

namespace XenMigrate.Api.Nova.Aggregates;

/// <summary>
/// <c>/os-aggregates</c> (nova aggregates.py): each XenServer pool is one host aggregate, its
/// members its hosts, as XenServer reports them (the inventory keeps the aggregate's id stable).
/// A pool's membership is XenServer's to change (pool.join / eject), so it is read-only here.
/// </summary>
public static class AggregatesApi
{
    public static void MapAggregates(this RouteGroupBuilder compute)
    {
        compute.MapGet("/os-aggregates", List).WithTags("Aggregates").WithSummary("List host aggregates: one per XenServer pool (admin)");
        compute.MapGet("/os-aggregates/{aggregate_id}", Show).WithTags("Aggregates").WithSummary("Show a host aggregate and its hosts (admin)");
    }

    private static async Task<IResult> List(NovaCaller caller, XenMigrateDbContext db, CancellationToken ct)
    {
        caller.Authorize(NovaPolicy.AggregatesIndex);
        var aggregates = await db.HostAggregates.AsNoTracking().OrderBy(a => a.Id).ToListAsync(ct);
        var hosts = await db.ComputeHosts.AsNoTracking().Where(h => h.InAggregate).ToListAsync(ct);
        return Results.Json(new JsonObject { ["aggregates"] = new JsonArray(aggregates.Select(a => (JsonNode)View(a, hosts, caller)).ToArray()) });
    }

    private static async Task<IResult> Show(string aggregate_id, NovaCaller caller, XenMigrateDbContext db, CancellationToken ct)
    {
        caller.Authorize(NovaPolicy.AggregatesShow);
        if (!int.TryParse(aggregate_id, out var id)) throw NovaFaultException.BadRequest($"Invalid aggregate id {aggregate_id}.");
        var aggregate = await db.HostAggregates.AsNoTracking().FirstOrDefaultAsync(a => a.Id == id, ct)
                        ?? throw NovaFaultException.NotFound($"Aggregate {aggregate_id} could not be found.");
        var hosts = await db.ComputeHosts.AsNoTracking().Where(h => h.PoolUuid == aggregate.PoolUuid && h.InAggregate).ToListAsync(ct);
        return Results.Json(new JsonObject { ["aggregate"] = View(aggregate, hosts, caller) });
    }

    private static JsonObject View(HostAggregate aggregate, IEnumerable<ComputeHost> hosts, NovaCaller caller)
    {
        var view = new JsonObject
        {
            ["availability_zone"] = aggregate.AvailabilityZone,
            ["created_at"] = MigrationsApi.Time(aggregate.CreatedAt),
            ["deleted"] = false,
            ["deleted_at"] = null,
            ["hosts"] = new JsonArray(hosts.Where(h => h.PoolUuid == aggregate.PoolUuid).OrderBy(h => h.Name, StringComparer.Ordinal)
                .Select(h => (JsonNode?)h.Name).ToArray()),
            ["id"] = aggregate.Id,
            ["metadata"] = new JsonObject { ["xenserver_pool_uuid"] = aggregate.PoolUuid?.ToString() },
            ["name"] = aggregate.Name,
            ["updated_at"] = aggregate.UpdatedAt == aggregate.CreatedAt ? null : MigrationsApi.Time(aggregate.UpdatedAt),
        };
        if (caller.Version.AtLeast(41)) view["uuid"] = aggregate.Uuid.ToString();
        return view;
    }
}
