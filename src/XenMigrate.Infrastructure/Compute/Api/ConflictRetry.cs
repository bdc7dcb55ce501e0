using Microsoft.EntityFrameworkCore;
using XenMigrate.Domain.Migrations;
using XenMigrate.Domain.Servers;
using XenMigrate.Infrastructure.Persistence;

namespace XenMigrate.Infrastructure.Compute.Api;

/// <summary>
/// The one policy for a use case whose commit lost an optimistic-concurrency race on the server's
/// row. The whole check-and-change runs again on the fresh row (at most three times in all): a
/// benign writer (the inventory recording a power state, a build placing the server) passes the
/// second time. When the writer was another action on the server — it recorded an instance action
/// since this request first looked — this request lost: Nova's 409 for its state, even if that
/// action has already finished, so of requests that race exactly one wins.
/// </summary>
public sealed class ConflictRetry(XenMigrateDbContext db)
{
    private const int MaxAttempts = 3;

    /// <param name="action">Nova's name for the action, as its 409 names it.</param>
    /// <param name="otherActionsWin">False for a delete: it goes ahead whatever else was started meanwhile.</param>
    public async Task RunAsync(string serverId, string action, Func<Task> useCase, CancellationToken ct, bool otherActionsWin = true)
    {
        var id = Guid.TryParseExact(serverId, "D", out var parsed) ? parsed : (Guid?)null;
        var lastAction = id is null ? null : await LatestActionAsync(id.Value, ct);
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await useCase();
                return;
            }
            catch (DbUpdateConcurrencyException)
            {
                db.ChangeTracker.Clear();
                if (attempt < MaxAttempts && (!otherActionsWin || await LatestActionAsync(id!.Value, ct) == lastAction)) continue;
                if (!otherActionsWin) throw;
                await ThrowLostAsync(id!.Value, action, useCase, ct);
                return;
            }
        }
    }

    private async Task ThrowLostAsync(Guid id, string action, Func<Task> useCase, CancellationToken ct)
    {
        var fresh = await db.Servers.AsNoTracking().FirstOrDefaultAsync(s => s.Id == id, ct);
        if (fresh is null)
        {
            await useCase(); // deleted meanwhile: the use case's lookup answers Nova's 404
            return;
        }

        // Nova's own order: a confirm or revert after another one was accepted finds no finished migration.
        if (action is "confirmResize" or "revertResize" && fresh.TaskState is null
            && !await db.Migrations.AsNoTracking().AnyAsync(m => m.InstanceUuid == fresh.Id && m.Status == MigrationStatus.Finished, ct))
            throw new NotResizedException();
        var (attribute, state) = fresh.TaskState is { } task ? ("task_state", task.ToNovaName()) : ("vm_state", fresh.VmState.ToNovaName());
        throw new InvalidServerStateException(action, fresh.Id, attribute, state);
    }

    private Task<int?> LatestActionAsync(Guid serverId, CancellationToken ct) =>
        db.InstanceActions.AsNoTracking().Where(a => a.ServerId == serverId).MaxAsync(a => (int?)a.Id, ct);
}
