namespace XenMigrate.Infrastructure.Persistence;

public enum DatabaseProvider
{
    Sqlite,
    PostgreSql,
    SqlServer,
}

/// <summary>Configuration section <c>Database</c>.</summary>
public sealed class DatabaseOptions
{
    public const string Section = "Database";

    public DatabaseProvider Provider { get; set; } = DatabaseProvider.Sqlite;

    /// <summary>
    /// The provider's connection string. Empty with SQLite means the embedded default:
    /// <c>{DataDirectory}/xenmigrate.db</c>.
    /// </summary>
    public string? ConnectionString { get; set; }

    /// <summary>Folder for the embedded SQLite file, relative to the content root.</summary>
    public string DataDirectory { get; set; } = "data";

    /// <summary>
    /// Apply pending migrations at start-up. Null means: yes for SQLite (the embedded default),
    /// no for shared servers, which are migrated by the <c>migrate</c> command before a roll-out.
    /// </summary>
    public bool? MigrateOnStartup { get; set; }

    public bool ShouldMigrateOnStartup => MigrateOnStartup ?? Provider == DatabaseProvider.Sqlite;
}
