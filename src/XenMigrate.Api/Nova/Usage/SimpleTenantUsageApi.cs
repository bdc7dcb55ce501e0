using System.Globalization;
using System.Text.Json.Nodes;
using Microsoft.EntityFrameworkCore;
using XenMigrate.Api.Nova.Faults;
using XenMigrate.Domain.Servers;
using XenMigrate.Infrastructure.Compute.Api;
using XenMigrate.Infrastructure.Persistence;

namespace XenMigrate.Api.Nova.Usage;

/// <summary>
/// Nova's os-simple-tenant-usage (compute/simple_tenant_usage.py), which <c>openstack usage
/// list|show</c> and Horizon read: per project, the hours each server ran within [start, end)
/// (from launched_at, to terminated_at or the end) times its flavor's vCPUs, memory and disk,
/// deleted servers included. All projects for admins; one project for its readers. Paged by
/// limit and marker (a server id) from 2.40.
/// </summary>
public static class SimpleTenantUsageApi
{
    private static readonly string[] Formats = ["yyyy-MM-dd'T'HH:mm:ss", "yyyy-MM-dd'T'HH:mm:ss.FFFFFF", "yyyy-MM-dd HH:mm:ss.FFFFFF"];

    public static void MapSimpleTenantUsage(this RouteGroupBuilder compute)
    {
        var usage = compute.MapGroup("/os-simple-tenant-usage").WithTags("Usage");
        usage.MapGet("", List).WithSummary("Usage of every project over a period (admin): ?start=&end=&detailed=1");
        usage.MapGet("/{tenant_id}", Show).WithSummary("Usage of one project over a period, per server");
    }

    private static async Task<IResult> List(NovaCaller caller, XenMigrateDbContext db, TimeProvider time, CancellationToken ct)
    {
        // ".../os-simple-tenant-usage/" names an empty tenant id, which Nova's router does not find (routing here ignores the slash).
        if (caller.Http.Request.Path.Value?.EndsWith('/') == true) throw NovaFaultException.NotFound(NovaMessages.ResourceNotFound);
        caller.Authorize(NovaPolicy.SimpleTenantUsageList);
        var (start, stop) = Period(caller, time);
        var detailed = caller.Http.Request.Query["detailed"].FirstOrDefault() == "1";
        var (servers, next) = await ServersAsync(caller, db, start, stop, projectId: null, "os-simple-tenant-usage", ct);
        var usages = Summaries(servers, start, stop, detailed, time);
        var body = new JsonObject { ["tenant_usages"] = new JsonArray(usages.Values.Select(u => (JsonNode)u).ToArray()) };
        if (next is not null) body["tenant_usages_links"] = new JsonArray(new JsonObject { ["href"] = next, ["rel"] = "next" });
        return Results.Json(body);
    }

    private static async Task<IResult> Show(string tenant_id, NovaCaller caller, XenMigrateDbContext db, TimeProvider time, CancellationToken ct)
    {
        caller.Authorize(NovaPolicy.SimpleTenantUsageShow, tenant_id);
        var (start, stop) = Period(caller, time);
        var (servers, next) = await ServersAsync(caller, db, start, stop, tenant_id, $"os-simple-tenant-usage/{Uri.EscapeDataString(tenant_id)}", ct);
        var usage = Summaries(servers, start, stop, detailed: true, time).GetValueOrDefault(tenant_id) ?? [];
        var body = new JsonObject { ["tenant_usage"] = usage };
        if (next is not null) body["tenant_usage_links"] = new JsonArray(new JsonObject { ["href"] = next, ["rel"] = "next" });
        return Results.Json(body);
    }

    /// <summary>start and end (either missing: now), in one of Nova's three formats; start after end is refused.</summary>
    private static (DateTime Start, DateTime Stop) Period(NovaCaller caller, TimeProvider time)
    {
        var query = caller.Http.Request.Query;
        var now = time.GetUtcNow().UtcDateTime; // one instant for both defaults
        DateTime Parse(string name)
        {
            var text = query[name].FirstOrDefault();
            if (string.IsNullOrEmpty(text)) return now;
            return DateTime.TryParseExact(text, Formats, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var t)
                ? t
                : throw NovaFaultException.BadRequest("Invalid datetime string: Datetime is in invalid format");
        }

        var start = Parse("start");
        var stop = Parse("end");
        if (start > stop) throw NovaFaultException.BadRequest("Invalid start time. The start time cannot occur after the end time.");
        return (start, stop);
    }

    /// <summary>Nova's get_active_by_window_joined: launched before the end, not terminated before the start; oldest first.</summary>
    private static async Task<(List<Server> Servers, string? Next)> ServersAsync(NovaCaller caller, XenMigrateDbContext db, DateTime start, DateTime stop,
        string? projectId, string path, CancellationToken ct)
    {
        var servers = db.Servers.IgnoreQueryFilters().AsNoTracking()
            .Where(s => s.LaunchedAt != null && s.LaunchedAt < stop && (s.TerminatedAt == null || s.TerminatedAt > start));
        if (projectId is not null) servers = servers.Where(s => s.ProjectId == projectId);
        var ordered = (await servers.ToListAsync(ct)).OrderBy(s => s.CreatedAt).ThenBy(s => s.Id).ToList();
        if (!caller.Version.AtLeast(40)) return (ordered, null);

        var query = caller.Http.Request.Query;
        var limit = NovaQuery.Limit(query);
        var page = NovaQuery.Page(ordered, s => s.Id.ToString(), NovaQuery.Marker(query), limit);
        var next = page.Count > 0 && page.Count == limit ? caller.NextLink(path, NovaQuery.NextQuery(query, limit, page[^1].Id.ToString())) : null;
        return (page, next);
    }

    private static Dictionary<string, JsonObject> Summaries(IEnumerable<Server> servers, DateTime start, DateTime stop, bool detailed, TimeProvider time)
    {
        var now = time.GetUtcNow().UtcDateTime;
        var summaries = new Dictionary<string, JsonObject>(StringComparer.Ordinal);
        foreach (var s in servers)
        {
            var hours = Hours(s, start, stop);
            var flavor = s.Flavor;
            var localGb = flavor.RootGb + flavor.EphemeralGb;
            if (!summaries.TryGetValue(s.ProjectId, out var summary))
            {
                summaries[s.ProjectId] = summary = new JsonObject
                {
                    ["tenant_id"] = s.ProjectId,
                    ["total_local_gb_usage"] = 0.0,
                    ["total_vcpus_usage"] = 0.0,
                    ["total_memory_mb_usage"] = 0.0,
                    ["total_hours"] = 0.0,
                    ["start"] = Time(start),
                    ["stop"] = Time(stop),
                };
                if (detailed) summary["server_usages"] = new JsonArray();
            }

            Add(summary, "total_local_gb_usage", localGb * hours);
            Add(summary, "total_vcpus_usage", flavor.Vcpus * hours);
            Add(summary, "total_memory_mb_usage", flavor.MemoryMb * hours);
            Add(summary, "total_hours", hours);
            if (!detailed) continue;

            var terminated = s.TerminatedAt is not null;
            summary["server_usages"]!.AsArray().Add(new JsonObject
            {
                ["hours"] = hours,
                ["flavor"] = flavor.Name,
                ["instance_id"] = s.Id.ToString(),
                ["name"] = s.Name,
                ["tenant_id"] = s.ProjectId,
                ["memory_mb"] = flavor.MemoryMb,
                ["local_gb"] = localGb,
                ["vcpus"] = flavor.Vcpus,
                ["started_at"] = Time(s.LaunchedAt!.Value),
                ["ended_at"] = s.TerminatedAt is { } ended ? Time(ended) : null,
                ["state"] = terminated ? "terminated" : s.VmState.ToNovaName(),
                ["uptime"] = (long)((terminated ? s.TerminatedAt!.Value : now) - s.LaunchedAt.Value).TotalSeconds,
            });
        }

        return summaries;
    }

    /// <summary>Nova's _hours_for: from the later of launch and start to the earlier of termination and stop.</summary>
    private static double Hours(Server s, DateTime start, DateTime stop)
    {
        if (s.LaunchedAt is not { } launched || launched > stop) return 0;
        if (s.TerminatedAt is { } ended && ended < start) return 0;
        var from = launched > start ? launched : start;
        var to = s.TerminatedAt is { } end && end < stop ? end : stop;
        return (to - from).TotalSeconds / 3600.0;
    }

    private static void Add(JsonObject summary, string key, double value) => summary[key] = summary[key]!.GetValue<double>() + value;

    /// <summary>Python's isoformat of a naive UTC datetime, as Nova's JSON has it.</summary>
    private static string Time(DateTime t) =>
        t.ToString(t.Ticks % TimeSpan.TicksPerSecond == 0 ? "yyyy-MM-dd'T'HH:mm:ss" : "yyyy-MM-dd'T'HH:mm:ss.ffffff", CultureInfo.InvariantCulture);
}
