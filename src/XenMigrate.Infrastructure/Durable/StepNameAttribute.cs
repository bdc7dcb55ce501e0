using System.Data.Common;
using Hangfire;
using Hangfire.Common;
using Hangfire.Dashboard;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using XenMigrate.Infrastructure.Persistence;

namespace XenMigrate.Infrastructure.Durable;

/// <summary>
/// A durable step's name in the dashboard: the server (name and uuid) and the migration (uuid) it
/// works on — what an admin finds in Nova's APIs — then the step, e.g. "Migration 5d1…  of server
/// web-1 (8e2…): copy the disks while the server runs". Jobs carry only internal ids (what a retry
/// needs), so the names are looked up when a page is drawn, by the first argument's name
/// (<c>migrationId</c>, <c>serverId</c>, <c>instanceActionId</c>).
/// </summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class StepNameAttribute(string step) : JobDisplayNameAttribute("#{0}: " + step)
{
    public string Step { get; } = step;

    public override string Format(DashboardContext context, Job job)
    {
        if (job.Args.Count == 0) return Step;
        try
        {
            using var scope = context.GetHttpContext().RequestServices.CreateScope();
            var db = scope.ServiceProvider.GetRequiredService<XenMigrateDbContext>();
            var subject = job.Method.GetParameters()[0].Name switch
            {
                "migrationId" when job.Args[0] is int id => MigrationOf(db, id),
                "serverId" when job.Args[0] is Guid id => ServerOf(db, id),
                "instanceActionId" when job.Args[0] is int id => InstanceActionOf(db, id),
                _ => null,
            };
            return subject is null ? base.Format(context, job) : subject + ": " + Step;
        }
        catch (Exception e) when (e is InvalidOperationException or DbException)
        {
            return base.Format(context, job); // a page still draws when the database cannot answer
        }
    }

    private static string MigrationOf(XenMigrateDbContext db, int id)
    {
        var migration = db.Migrations.AsNoTracking().Where(m => m.Id == id).Select(m => new { m.Uuid, m.InstanceUuid }).FirstOrDefault();
        return migration is null ? $"Migration #{id} (gone)" : $"Migration {migration.Uuid} of {ServerOf(db, migration.InstanceUuid)}";
    }

    private static string InstanceActionOf(XenMigrateDbContext db, int id)
    {
        var action = db.InstanceActions.AsNoTracking().Where(a => a.Id == id).Select(a => new { a.Action, a.RequestId, a.ServerId }).FirstOrDefault();
        return action is null ? $"Instance action #{id} (gone)" : $"{action.Action} {action.RequestId} of {ServerOf(db, action.ServerId)}";
    }

    private static string ServerOf(XenMigrateDbContext db, Guid id)
    {
        // Deleted servers too: their delete step is listed after they are gone.
        var name = db.Servers.AsNoTracking().IgnoreQueryFilters().Where(s => s.Id == id).Select(s => s.Name).FirstOrDefault();
        return name is null ? $"server {id}" : $"server {name} ({id})";
    }
}
