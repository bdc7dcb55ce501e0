namespace XenMigrate.Domain.Migrations;

/// <summary>Nova's migration statuses (a free string in Nova; the values its services write).</summary>
public enum MigrationStatus
{
    // Resize and cold migration.
    PreMigrating,
    Migrating,
    PostMigrating,
    Finished,
    Confirming,
    Confirmed,
    Reverting,
    Reverted,

    // Live migration.
    Accepted,
    Preparing,
    Queued,
    Running,
    Completed,
    Cancelled,

    // Evacuation.
    Done,

    // Any type.
    Failed,
    Error,
}

/// <summary>Nova's migration_type.</summary>
public enum MigrationType
{
    /// <summary>Cold migration: the flavor stays the same.</summary>
    Migration,
    Resize,
    LiveMigration,
    Evacuation,
}

public static class MigrationNames
{
    private static readonly Dictionary<MigrationStatus, string> StatusNames = new()
    {
        [MigrationStatus.PreMigrating] = "pre-migrating",
        [MigrationStatus.Migrating] = "migrating",
        [MigrationStatus.PostMigrating] = "post-migrating",
        [MigrationStatus.Finished] = "finished",
        [MigrationStatus.Confirming] = "confirming",
        [MigrationStatus.Confirmed] = "confirmed",
        [MigrationStatus.Reverting] = "reverting",
        [MigrationStatus.Reverted] = "reverted",
        [MigrationStatus.Accepted] = "accepted",
        [MigrationStatus.Preparing] = "preparing",
        [MigrationStatus.Queued] = "queued",
        [MigrationStatus.Running] = "running",
        [MigrationStatus.Completed] = "completed",
        [MigrationStatus.Cancelled] = "cancelled",
        [MigrationStatus.Done] = "done",
        [MigrationStatus.Failed] = "failed",
        [MigrationStatus.Error] = "error",
    };

    private static readonly Dictionary<MigrationType, string> TypeNames = new()
    {
        [MigrationType.Migration] = "migration",
        [MigrationType.Resize] = "resize",
        [MigrationType.LiveMigration] = "live-migration",
        [MigrationType.Evacuation] = "evacuation",
    };

    private static readonly Dictionary<string, MigrationStatus> StatusesByName =
        StatusNames.ToDictionary(p => p.Value, p => p.Key, StringComparer.Ordinal);

    private static readonly Dictionary<string, MigrationType> TypesByName =
        TypeNames.ToDictionary(p => p.Value, p => p.Key, StringComparer.Ordinal);

    public static string ToNovaName(this MigrationStatus status) => StatusNames[status];

    public static string ToNovaName(this MigrationType type) => TypeNames[type];

    public static bool TryParseStatus(string name, out MigrationStatus status) =>
        StatusesByName.TryGetValue(name, out status);

    public static bool TryParseType(string name, out MigrationType type) => TypesByName.TryGetValue(name, out type);

    public static MigrationStatus ParseStatus(string name) =>
        TryParseStatus(name, out var s) ? s : throw new ArgumentException($"'{name}' is not a migration status.", nameof(name));

    public static MigrationType ParseType(string name) =>
        TryParseType(name, out var t) ? t : throw new ArgumentException($"'{name}' is not a migration type.", nameof(name));
}
