using System.Globalization;
using System.Text.Json.Nodes;
using Microsoft.EntityFrameworkCore;
using XenMigrate.Api.Nova.Faults;
using XenMigrate.Infrastructure.Compute.Api;
using XenMigrate.Infrastructure.Persistence;

namespace XenMigrate.Api.Nova.Usage;

/// <summary>
/// Nova's os-instance_usage_audit_log (admin): how far each compute host got with the usage audit
/// of the last completed month (Nova's instance_usage_audit periodic task, which emits
/// compute.instance.exists for billing). XenMigrate runs no such audit — its usage is counted
/// live by os-simple-tenant-usage — so every host is reported as not run, with no instances
/// audited, which is what Nova reports with instance_usage_audit off.
/// </summary>
public static class InstanceUsageAuditLogApi
{
    private static readonly string[] TimestampFormats = ["yyyy-MM-dd HH:mm:ss", "yyyy-MM-dd HH:mm:ss.FFFFFF"];

    public static void MapInstanceUsageAuditLog(this RouteGroupBuilder compute)
    {
        var audit = compute.MapGroup("/os-instance_usage_audit_log").WithTags("Usage");
        audit.MapGet("", (NovaCaller caller, XenMigrateDbContext db, TimeProvider time, CancellationToken ct) =>
            ReportAsync("instance_usage_audit_logs", caller, db, time.GetUtcNow().UtcDateTime, NovaPolicy.InstanceUsageAuditLogList, ct))
            .WithSummary("The usage audit of the last completed month, per host (admin; XenMigrate runs none: every host not run)");
        audit.MapGet("/{before_timestamp}", (string before_timestamp, NovaCaller caller, XenMigrateDbContext db, CancellationToken ct) =>
            {
                caller.Authorize(NovaPolicy.InstanceUsageAuditLogShow); // before the timestamp, as instance_usage_audit_log.py show
                if (!DateTime.TryParseExact(before_timestamp, TimestampFormats, CultureInfo.InvariantCulture,
                        DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var before))
                    throw NovaFaultException.BadRequest($"Invalid timestamp for date {before_timestamp}");
                return ReportAsync("instance_usage_audit_log", caller, db, before, NovaPolicy.InstanceUsageAuditLogShow, ct);
            })
            .WithSummary("The usage audit of the last month completed before a time (admin)");
    }

    private static async Task<IResult> ReportAsync(string key, NovaCaller caller, XenMigrateDbContext db, DateTime before, NovaPolicy.Rule rule, CancellationToken ct)
    {
        caller.Authorize(rule);
        // utils.last_completed_audit_period(unit='month'): the whole month before the one 'before' is in.
        var end = new DateTime(before.Year, before.Month, 1, 0, 0, 0, DateTimeKind.Utc);
        var begin = end.AddMonths(-1);
        var hosts = (await db.ComputeHosts.AsNoTracking().Select(h => h.Name).ToListAsync(ct)).Order(StringComparer.Ordinal).ToList();
        return Results.Json(new JsonObject
        {
            [key] = new JsonObject
            {
                ["hosts_not_run"] = new JsonArray(hosts.Select(h => (JsonNode)h).ToArray()),
                ["log"] = new JsonObject(),
                ["num_hosts"] = hosts.Count,
                ["num_hosts_done"] = 0,
                ["num_hosts_not_run"] = hosts.Count,
                ["num_hosts_running"] = 0,
                ["overall_status"] = $"0 of {hosts.Count} hosts done. 0 errors.",
                ["period_beginning"] = begin.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture),
                ["period_ending"] = end.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture),
                ["total_errors"] = 0,
                ["total_instances"] = 0,
            },
        });
    }
}
