using Microsoft.EntityFrameworkCore;
using Npgsql;
using XenMigrate.Infrastructure.Persistence;
using XenMigrate.Infrastructure.Persistence.Providers;

namespace XenMigrate.Tests.Support;

public enum DatabaseKind
{
    Sqlite,
    PostgreSql,
}

/// <summary>A fresh, empty database of one kind, removed when the test is done with it.</summary>
public sealed class TestDatabase : IAsyncDisposable
{
    private readonly string? _directory;

    private TestDatabase(DatabaseKind kind, string connectionString, string? directory)
    {
        Kind = kind;
        ConnectionString = connectionString;
        _directory = directory;
    }

    public DatabaseKind Kind { get; }
    public string ConnectionString { get; }

    public static TestDatabase Create(DatabaseKind kind)
    {
        if (kind == DatabaseKind.Sqlite)
        {
            var dir = Path.Combine(Path.GetTempPath(), "xenmigrate-tests", Guid.NewGuid().ToString("N"));
            Directory.CreateDirectory(dir);
            return new TestDatabase(kind, $"Data Source={Path.Combine(dir, "gateway.db")}", dir);
        }

        TestEnvironment.Require(TestEnvironment.PostgresServer is not null, "PostgreSQL (XENMIGRATE_TEST_POSTGRES)");
        var builder = new NpgsqlConnectionStringBuilder(TestEnvironment.PostgresServer) { Database = "xm_test_" + Guid.NewGuid().ToString("N") };
        return new TestDatabase(kind, builder.ConnectionString, null);
    }

    public string ProviderName => Kind == DatabaseKind.Sqlite ? nameof(DatabaseProvider.Sqlite) : nameof(DatabaseProvider.PostgreSql);

    /// <summary>A context of the right provider on this database, outside any gateway.</summary>
    public XenMigrateDbContext NewContext() => Kind switch
    {
        DatabaseKind.Sqlite => new SqliteXenMigrateDbContext(
            new DbContextOptionsBuilder<SqliteXenMigrateDbContext>().UseSqlite(ConnectionString).Options),
        _ => new PostgreSqlXenMigrateDbContext(
            new DbContextOptionsBuilder<PostgreSqlXenMigrateDbContext>().UseNpgsql(ConnectionString).Options),
    };

    public async ValueTask DisposeAsync()
    {
        if (Kind == DatabaseKind.PostgreSql)
        {
            NpgsqlConnection.ClearAllPools();
            await using var db = NewContext();
            // DROP DATABASE … WITH (FORCE) must end every session on it; an autovacuum worker busy there
            // belongs to no role, which a non-superuser may only end as a member of pg_signal_backend
            // (.ci/run grants it). Without that grant, wait for autovacuum to move on and try again.
            for (var attempt = 1; ; attempt++)
            {
                try
                {
                    await db.Database.EnsureDeletedAsync();
                    return;
                }
                catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.InsufficientPrivilege && attempt < 10)
                {
                    await Task.Delay(500);
                }
            }
        }
        else if (_directory is not null)
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            try
            {
                Directory.Delete(_directory, recursive: true);
            }
            catch (IOException)
            {
                // a file still held open; the temp folder is cleaned by the OS
            }
        }
    }
}
