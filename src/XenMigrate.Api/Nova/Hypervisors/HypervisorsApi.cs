using System.Text.Json.Nodes;
using Microsoft.EntityFrameworkCore;
using XenMigrate.Api.Nova.Faults;
using XenMigrate.Api.Nova.Servers;
using XenMigrate.Domain.Hosts;
using XenMigrate.Domain.Servers;
using XenMigrate.Infrastructure.Inventory;
using XenMigrate.Infrastructure.Persistence;
using XenMigrate.Infrastructure.XenServer;
using XenMigrate.Infrastructure.Compute.Api;

namespace XenMigrate.Api.Nova.Hypervisors;

/// <summary>
/// <c>/os-hypervisors</c> (nova hypervisors.py): each XenServer host is one hypervisor, its memory,
/// CPUs and local-SR use read live over XAPI. Ids are the service's: integers below 2.53, uuids from
/// 2.53. From 2.88 the usage fields and <c>/statistics</c> are gone, as in Nova.
/// </summary>
public static class HypervisorsApi
{
    private const long MiB = 1024L * 1024;
    private const long GiB = 1024 * MiB;

    public static void MapHypervisors(this RouteGroupBuilder compute)
    {
        compute.MapGet("/os-hypervisors", List).WithTags("Hypervisors").WithSummary("List hypervisors (admin)");
        compute.MapGet("/os-hypervisors/detail", Detail).WithTags("Hypervisors").WithSummary("List hypervisors with memory, CPU and disk use (admin)");
        compute.MapGet("/os-hypervisors/statistics", Statistics).WithTags("Hypervisors").WithSummary("Totals over all hypervisors (admin, before 2.88)");
        compute.MapGet("/os-hypervisors/{hypervisor_id}", Show).WithTags("Hypervisors").WithSummary("Show one hypervisor (admin)");
        compute.MapGet("/os-hypervisors/{hypervisor_id}/uptime", Uptime).WithTags("Hypervisors").WithSummary("How long a hypervisor has been up (admin, before 2.88)");
        compute.MapGet("/os-hypervisors/{hypervisor_hostname_pattern}/search", Search).WithTags("Hypervisors")
            .WithSummary("Hypervisors whose name contains the pattern (admin, before 2.53)");
        compute.MapGet("/os-hypervisors/{hypervisor_hostname_pattern}/servers", SearchWithServers).WithTags("Hypervisors")
            .WithSummary("Hypervisors whose name contains the pattern, with their servers (admin, before 2.53)");
    }

    private static async Task<IResult> Uptime(string hypervisor_id, NovaCaller caller, XenMigrateDbContext db, HypervisorUsageReader reader,
        TimeProvider time, CancellationToken ct)
    {
        if (caller.Version.AtLeast(88)) throw NovaFaultException.NotFound(NovaMessages.ResourceNotFound);
        caller.Authorize(NovaPolicy.HypervisorsUptime);
        var host = await FindAsync(hypervisor_id, caller, db, ct);
        var usage = (await reader.ReadAsync([host.Name], ct))[host.Name];
        var view = Summary(host, caller, null);
        view["uptime"] = UptimeText(usage, time);
        return Results.Json(new JsonObject { ["hypervisor"] = view });
    }

    private static Task<IResult> Search(string hypervisor_hostname_pattern, NovaCaller caller, XenMigrateDbContext db, CancellationToken ct) =>
        SearchAsync(hypervisor_hostname_pattern, caller, db, withServers: false, ct);

    private static Task<IResult> SearchWithServers(string hypervisor_hostname_pattern, NovaCaller caller, XenMigrateDbContext db, CancellationToken ct) =>
        SearchAsync(hypervisor_hostname_pattern, caller, db, withServers: true, ct);

    /// <summary>hypervisors.py search and servers (2.1–2.52): a substring of the name, as Nova's LIKE; none is 404.</summary>
    private static async Task<IResult> SearchAsync(string pattern, NovaCaller caller, XenMigrateDbContext db, bool withServers, CancellationToken ct)
    {
        if (caller.Version.AtLeast(53)) throw NovaFaultException.NotFound(NovaMessages.ResourceNotFound);
        caller.Authorize(withServers ? NovaPolicy.HypervisorsServers : NovaPolicy.HypervisorsSearch);
        var hosts = Matching((await db.ComputeHosts.AsNoTracking().ToListAsync(ct)).OrderBy(h => h.Id), pattern);
        Dictionary<string, List<Server>>? servers = null;
        if (withServers)
        {
            var names = hosts.Select(h => h.Name).ToList();
            servers = (await db.Servers.AsNoTracking().Where(s => s.Host != null && names.Contains(s.Host)).ToListAsync(ct))
                .GroupBy(s => s.Host!).ToDictionary(g => g.Key, g => g.ToList());
        }

        return Results.Json(new JsonObject { ["hypervisors"] = new JsonArray(hosts.Select(h => (JsonNode)Summary(h, caller, servers)).ToArray()) });
    }

    /// <summary>
    /// The hypervisor's uptime as the <c>uptime</c> command starts its line (Nova's drivers hand
    /// that line on): the time, then how long since other_config:boot_time; null when the host
    /// does not answer or says nothing of its boot.
    /// </summary>
    private static string? UptimeText(HostUsage usage, TimeProvider time)
    {
        if (usage.BootedAt is not { } booted) return null;
        var now = time.GetUtcNow();
        var up = now - booted;
        var days = up.Days > 0 ? $"{up.Days} day{(up.Days == 1 ? "" : "s")}, " : string.Empty;
        return string.Create(System.Globalization.CultureInfo.InvariantCulture, $" {now:HH:mm:ss} up {days}{up.Hours,2}:{up.Minutes:00}");
    }

    private static async Task<IResult> List(NovaCaller caller, XenMigrateDbContext db, CancellationToken ct)
    {
        caller.Authorize(NovaPolicy.HypervisorsList);
        var hosts = await FilteredAsync(caller, db, ct);
        var servers = await ServersByHostAsync(caller, db, hosts, ct);
        return Results.Json(new JsonObject
        {
            ["hypervisors"] = new JsonArray(hosts.Select(h => (JsonNode)Summary(h, caller, servers)).ToArray()),
        });
    }

    private static async Task<IResult> Detail(NovaCaller caller, XenMigrateDbContext db, HypervisorUsageReader reader, TimeProvider time, CancellationToken ct)
    {
        caller.Authorize(NovaPolicy.HypervisorsListDetail);
        var hosts = await FilteredAsync(caller, db, ct);
        var servers = await ServersByHostAsync(caller, db, hosts, ct);
        var usage = await reader.ReadAsync(hosts.Select(h => h.Name), ct);
        return Results.Json(new JsonObject
        {
            ["hypervisors"] = new JsonArray(hosts.Select(h => (JsonNode)Full(h, usage[h.Name], caller, servers, time)).ToArray()),
        });
    }

    private static async Task<IResult> Show(string hypervisor_id, NovaCaller caller, XenMigrateDbContext db, HypervisorUsageReader reader,
        TimeProvider time, CancellationToken ct)
    {
        caller.Authorize(NovaPolicy.HypervisorsShow);
        var host = await FindAsync(hypervisor_id, caller, db, ct);
        var servers = await ServersByHostAsync(caller, db, [host], ct);
        var usage = await reader.ReadAsync([host.Name], ct);
        return Results.Json(new JsonObject { ["hypervisor"] = Full(host, usage[host.Name], caller, servers, time) });
    }

    private static async Task<IResult> Statistics(NovaCaller caller, XenMigrateDbContext db, HypervisorUsageReader reader, CancellationToken ct)
    {
        if (caller.Version.AtLeast(88)) throw NovaFaultException.NotFound(NovaMessages.ResourceNotFound);
        caller.Authorize(NovaPolicy.HypervisorsStatistics);
        var hosts = await db.ComputeHosts.AsNoTracking().ToListAsync(ct);
        var usage = (await reader.ReadAsync(hosts.Select(h => h.Name), ct)).Values.ToList();
        return Results.Json(new JsonObject
        {
            ["hypervisor_statistics"] = new JsonObject
            {
                ["count"] = hosts.Count,
                ["current_workload"] = 0,
                ["disk_available_least"] = usage.Sum(u => (u.DiskBytes - u.DiskUsedBytes) / GiB),
                ["free_disk_gb"] = usage.Sum(u => (u.DiskBytes - u.DiskUsedBytes) / GiB),
                ["free_ram_mb"] = usage.Sum(u => u.MemoryFreeBytes / MiB),
                ["local_gb"] = usage.Sum(u => u.DiskBytes / GiB),
                ["local_gb_used"] = usage.Sum(u => u.DiskUsedBytes / GiB),
                ["memory_mb"] = usage.Sum(u => u.MemoryBytes / MiB),
                ["memory_mb_used"] = usage.Sum(u => (u.MemoryBytes - u.MemoryFreeBytes) / MiB),
                ["running_vms"] = usage.Sum(u => u.RunningVms),
                ["vcpus"] = usage.Sum(u => u.Vcpus),
                ["vcpus_used"] = usage.Sum(u => u.VcpusUsed),
            },
        });
    }

    /// <summary>The list filters: from 2.53 hypervisor_hostname_pattern (a substring, as Nova's LIKE), limit and marker from 2.33.</summary>
    private static async Task<List<ComputeHost>> FilteredAsync(NovaCaller caller, XenMigrateDbContext db, CancellationToken ct)
    {
        var query = caller.Http.Request.Query;
        if (caller.Version.AtLeast(53))
        {
            var allowed = new HashSet<string> { "hypervisor_hostname_pattern", "with_servers", "limit", "marker" };
            if (caller.Version.AtLeast(75)) NovaQuery.RejectUnknown(query, allowed);
        }

        IEnumerable<ComputeHost> hosts = (await db.ComputeHosts.AsNoTracking().ToListAsync(ct)).OrderBy(h => h.Id);
        if (caller.Version.AtLeast(53) && query.TryGetValue("hypervisor_hostname_pattern", out var pattern) && pattern.ToString().Length > 0)
        {
            return Matching(hosts, pattern.ToString());
        }

        if (!caller.Version.AtLeast(33)) return hosts.ToList();
        var ordered = hosts.ToList();
        return NovaQuery.Page(ordered, h => IdOf(h, caller), NovaQuery.Marker(query), NovaQuery.Limit(query));
    }

    /// <summary>Hosts whose name contains the pattern (Nova's LIKE '%pattern%'); none is Nova's 404.</summary>
    private static List<ComputeHost> Matching(IEnumerable<ComputeHost> hosts, string pattern)
    {
        var matched = hosts.Where(h => h.Name.Contains(pattern, StringComparison.OrdinalIgnoreCase)).ToList();
        return matched.Count > 0 ? matched : throw NovaFaultException.NotFound($"No hypervisor matching '{pattern}' could be found.");
    }

    private static async Task<ComputeHost> FindAsync(string id, NovaCaller caller, XenMigrateDbContext db, CancellationToken ct)
    {
        var hosts = await db.ComputeHosts.AsNoTracking().ToListAsync(ct);
        if (caller.Version.AtLeast(53) && !Guid.TryParse(id, out _)) throw NovaFaultException.BadRequest($"Invalid uuid {id}");
        return hosts.FirstOrDefault(h => IdOf(h, caller) == id)
               ?? throw NovaFaultException.NotFound($"Hypervisor with ID {id} could not be found.");
    }

    /// <summary>Server ids per host, only when the caller asked for them (with_servers from 2.53, always before).</summary>
    private static async Task<Dictionary<string, List<Server>>?> ServersByHostAsync(NovaCaller caller, XenMigrateDbContext db,
        IReadOnlyList<ComputeHost> hosts, CancellationToken ct)
    {
        if (!caller.Version.AtLeast(53)) return null;
        var query = caller.Http.Request.Query;
        if (!query.TryGetValue("with_servers", out var raw)) return null;
        var wanted = NovaQuery.Bool(raw.ToString())
                     ?? throw NovaFaultException.BadRequest(NovaMessages.InvalidQuery("with_servers", raw.ToString(), $"'{raw}' is not a 'boolean'"));
        if (!wanted) return null;
        var names = hosts.Select(h => h.Name).ToList();
        var servers = await db.Servers.AsNoTracking().Where(s => s.Host != null && names.Contains(s.Host)).ToListAsync(ct);
        return servers.GroupBy(s => s.Host!).ToDictionary(g => g.Key, g => g.ToList());
    }

    private static string IdOf(ComputeHost host, NovaCaller caller) =>
        caller.Version.AtLeast(53) ? host.Uuid.ToString() : host.Id.ToString(System.Globalization.CultureInfo.InvariantCulture);

    private static JsonNode Id(ComputeHost host, NovaCaller caller) => caller.Version.AtLeast(53) ? host.Uuid.ToString() : host.Id;

    private static JsonObject Summary(ComputeHost host, NovaCaller caller, Dictionary<string, List<Server>>? servers)
    {
        var view = new JsonObject
        {
            ["hypervisor_hostname"] = host.Name,
            ["id"] = Id(host, caller),
            ["state"] = host.IsUp && !host.ForcedDown ? "up" : "down",
            ["status"] = host.Enabled ? "enabled" : "disabled",
        };
        if (servers is not null && servers.TryGetValue(host.Name, out var list))
            view["servers"] = new JsonArray(list.Select(s => (JsonNode)new JsonObject { ["name"] = ServerView.InstanceName(s), ["uuid"] = s.Id.ToString() }).ToArray());
        return view;
    }

    private static JsonObject Full(ComputeHost host, HostUsage usage, NovaCaller caller, Dictionary<string, List<Server>>? servers, TimeProvider time)
    {
        var view = Summary(host, caller, servers);
        view["host_ip"] = usage.Address.Length > 0 ? usage.Address : null;
        view["hypervisor_type"] = "XenServer";
        view["hypervisor_version"] = VersionNumber(usage.ProductVersion);
        view["service"] = new JsonObject { ["host"] = host.Name, ["id"] = Id(host, caller), ["disabled_reason"] = host.DisabledReason };
        if (caller.Version.AtLeast(88))
        {
            view["uptime"] = UptimeText(usage, time);
            return view;
        }

        var cpuInfo = new JsonObject(usage.CpuInfo.Select(p => KeyValuePair.Create(p.Key, (JsonNode?)p.Value)));
        view["cpu_info"] = caller.Version.AtLeast(28) ? cpuInfo : cpuInfo.ToJsonString();
        view["current_workload"] = 0;
        view["disk_available_least"] = (usage.DiskBytes - usage.DiskUsedBytes) / GiB;
        view["free_disk_gb"] = (usage.DiskBytes - usage.DiskUsedBytes) / GiB;
        view["free_ram_mb"] = usage.MemoryFreeBytes / MiB;
        view["local_gb"] = usage.DiskBytes / GiB;
        view["local_gb_used"] = usage.DiskUsedBytes / GiB;
        view["memory_mb"] = usage.MemoryBytes / MiB;
        view["memory_mb_used"] = (usage.MemoryBytes - usage.MemoryFreeBytes) / MiB;
        view["running_vms"] = usage.RunningVms;
        view["vcpus"] = usage.Vcpus;
        view["vcpus_used"] = usage.VcpusUsed;
        return view;
    }

    /// <summary>Nova's convert_version_to_int: "8.2.1" → 8002001.</summary>
    private static long VersionNumber(string version)
    {
        long result = 0;
        foreach (var part in version.Split('.').Take(3))
            result = result * 1000 + (long.TryParse(part, out var n) ? n : 0);
        return result;
    }
}
