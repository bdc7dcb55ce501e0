namespace XenMigrate.Domain.Migrations;

/// <summary>
/// Which status may follow which, per migration type, as Nova's compute manager and conductor set
/// migration.status (nova/compute/manager.py, nova/conductor/tasks/live_migrate.py). Anything not listed
/// is refused by <see cref="Migration.TransitionTo"/>.
/// </summary>
public static class MigrationLifecycle
{
    private static readonly Dictionary<MigrationStatus, MigrationStatus[]> ResizeOrCold = new()
    {
        [MigrationStatus.PreMigrating] = [MigrationStatus.Migrating, MigrationStatus.Error],
        [MigrationStatus.Migrating] = [MigrationStatus.PostMigrating, MigrationStatus.Error],
        [MigrationStatus.PostMigrating] = [MigrationStatus.Finished, MigrationStatus.Error],
        [MigrationStatus.Finished] = [MigrationStatus.Confirming, MigrationStatus.Reverting, MigrationStatus.Error],
        [MigrationStatus.Confirming] = [MigrationStatus.Confirmed, MigrationStatus.Error],
        [MigrationStatus.Reverting] = [MigrationStatus.Reverted, MigrationStatus.Error],
    };

    private static readonly MigrationStatus[] LiveFailures =
        [MigrationStatus.Failed, MigrationStatus.Error, MigrationStatus.Cancelled];

    private static readonly Dictionary<MigrationStatus, MigrationStatus[]> Live = new()
    {
        [MigrationStatus.Accepted] = [MigrationStatus.Preparing, MigrationStatus.Queued, .. LiveFailures],
        [MigrationStatus.Preparing] = [MigrationStatus.Queued, MigrationStatus.Running, .. LiveFailures],
        [MigrationStatus.Queued] = [MigrationStatus.Preparing, MigrationStatus.Running, .. LiveFailures],
        [MigrationStatus.Running] = [MigrationStatus.PostMigrating, MigrationStatus.Completed, .. LiveFailures],
        [MigrationStatus.PostMigrating] = [MigrationStatus.Completed, MigrationStatus.Failed, MigrationStatus.Error],
    };

    private static readonly Dictionary<MigrationStatus, MigrationStatus[]> Evacuation = new()
    {
        [MigrationStatus.Accepted] = [MigrationStatus.PreMigrating, MigrationStatus.Failed, MigrationStatus.Error],
        [MigrationStatus.PreMigrating] = [MigrationStatus.Done, MigrationStatus.Failed, MigrationStatus.Error],
    };

    /// <summary>Statuses Nova's database does not count as "in progress".</summary>
    private static readonly HashSet<MigrationStatus> Settled =
    [
        MigrationStatus.Confirmed, MigrationStatus.Reverted, MigrationStatus.Error, MigrationStatus.Failed,
        MigrationStatus.Completed, MigrationStatus.Cancelled, MigrationStatus.Done,
    ];

    /// <summary>The statuses the server-migrations API lists as an in-progress live migration.</summary>
    private static readonly HashSet<MigrationStatus> LiveInProgress =
        [MigrationStatus.Queued, MigrationStatus.Preparing, MigrationStatus.Running, MigrationStatus.PostMigrating];

    public static MigrationStatus InitialStatus(MigrationType type) => type switch
    {
        MigrationType.Migration or MigrationType.Resize => MigrationStatus.PreMigrating,
        MigrationType.LiveMigration or MigrationType.Evacuation => MigrationStatus.Accepted,
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, null),
    };

    public static bool CanTransition(MigrationType type, MigrationStatus from, MigrationStatus to)
    {
        var table = type switch
        {
            MigrationType.Migration or MigrationType.Resize => ResizeOrCold,
            MigrationType.LiveMigration => Live,
            MigrationType.Evacuation => Evacuation,
            _ => throw new ArgumentOutOfRangeException(nameof(type), type, null),
        };
        return table.TryGetValue(from, out var next) && next.Contains(to);
    }

    public static bool IsInProgress(MigrationStatus status) => !Settled.Contains(status);

    public static bool IsLiveInProgress(MigrationStatus status) => LiveInProgress.Contains(status);
}
