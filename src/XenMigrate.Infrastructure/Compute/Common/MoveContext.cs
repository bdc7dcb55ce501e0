using Microsoft.EntityFrameworkCore;
using XenMigrate.Domain.Migrations;
using XenMigrate.Domain.Servers;
using XenMigrate.Infrastructure.Persistence;

namespace XenMigrate.Infrastructure.Compute.Common;

/// <summary>
/// The rows one step of a move works on — the migration, its server, its checkpoint — loaded
/// afresh for the step, with the journals of the request that started the move and of a confirm or
/// revert; <see cref="SaveAsync"/> commits the step's transition, events and notifications at once.
/// </summary>
public sealed class MoveContext
{
    private readonly XenMigrateDbContext _db;
    private readonly TimeProvider _time;

    private MoveContext(XenMigrateDbContext db, TimeProvider time, Migration migration, Server server, MigrationCheckpoint checkpoint,
        ActionJournal started, ActionJournal confirmOrRevert)
    {
        _db = db;
        _time = time;
        Migration = migration;
        Server = server;
        Checkpoint = checkpoint;
        Started = started;
        ConfirmOrRevert = confirmOrRevert;
    }

    public Migration Migration { get; }
    public Server Server { get; }
    public MigrationCheckpoint Checkpoint { get; }

    /// <summary>The resize, migrate or live-migration request's steps.</summary>
    public ActionJournal Started { get; }

    /// <summary>The confirm's or revert's steps (records nothing before either arrives).</summary>
    public ActionJournal ConfirmOrRevert { get; }

    /// <summary>Loads the step's rows into a cleared context (deleted servers too: a confirm racing a delete must still settle its migration).</summary>
    public static async Task<MoveContext> LoadAsync(XenMigrateDbContext db, StepJournal journal, TimeProvider time, int migrationId, CancellationToken ct)
    {
        db.ChangeTracker.Clear();
        var migration = await db.Migrations.SingleAsync(m => m.Id == migrationId, ct);
        var server = await db.Servers.IgnoreQueryFilters().SingleAsync(s => s.Id == migration.InstanceUuid, ct);
        var checkpoint = await db.MigrationCheckpoints.SingleAsync(c => c.MigrationId == migrationId, ct);
        return new MoveContext(db, time, migration, server, checkpoint,
            await journal.ForAsync(server, checkpoint.StartRequestId, ct), await journal.ForAsync(server, checkpoint.ConfirmOrRevertRequestId, ct));
    }

    /// <summary>Commits the step so far; the checkpoint's disk list is written whole (it changes in place).</summary>
    public async Task SaveAsync(CancellationToken ct)
    {
        Checkpoint.UpdatedAt = _time.GetUtcNow().UtcDateTime;
        _db.Entry(Checkpoint).Property(c => c.Disks).IsModified = true;
        await _db.SaveChangesAsync(ct);
    }
}
