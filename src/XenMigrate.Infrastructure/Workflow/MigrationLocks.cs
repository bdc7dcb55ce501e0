using System.Data;
using System.Data.Common;
using Microsoft.Data.SqlClient;
using Npgsql;
using XenMigrate.Infrastructure.Persistence;

namespace XenMigrate.Infrastructure.Workflow;

/// <summary>
/// One lock per migration, so no two workers ever run a step of the same migration at once. Each
/// lock dies with its holder — a process killed mid-step frees it at once — because it belongs to
/// something the operating system or the database server cleans up: a PostgreSQL advisory lock or
/// a SQL Server application lock on the holder's own connection, or (SQLite, one machine) an
/// exclusive lock on a file. A lease with a timeout would have to outlive the longest disk copy,
/// and a lease that expires under a live holder lets a second worker in.
/// </summary>
public sealed class MigrationLocks(DatabaseOptions database, string connectionString)
{
    /// <summary>PostgreSQL advisory locks are (int, int) pairs: this first half marks ours ("XM").</summary>
    private const int AdvisoryLockClass = 0x584D;

    private static readonly TimeSpan RetryDelay = TimeSpan.FromMilliseconds(250);

    /// <summary>Takes the migration's lock, waiting up to <paramref name="wait"/>; null when someone else holds it.</summary>
    public async Task<IAsyncDisposable?> TryAcquireAsync(int migrationId, TimeSpan wait, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + wait;
        while (true)
        {
            var held = database.Provider switch
            {
                DatabaseProvider.PostgreSql => await TryPostgreSqlAsync(migrationId, ct),
                DatabaseProvider.SqlServer => await TrySqlServerAsync(migrationId, ct),
                _ => TryFile(migrationId),
            };
            if (held is not null || DateTime.UtcNow >= deadline) return held;
            await Task.Delay(RetryDelay, ct);
        }
    }

    private async Task<IAsyncDisposable?> TryPostgreSqlAsync(int migrationId, CancellationToken ct)
    {
        var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false }.ConnectionString);
        try
        {
            await connection.OpenAsync(ct);
            await using var command = new NpgsqlCommand("SELECT pg_try_advisory_lock(@class, @id)", connection);
            command.Parameters.AddWithValue("class", AdvisoryLockClass);
            command.Parameters.AddWithValue("id", migrationId);
            if (await command.ExecuteScalarAsync(ct) is true) return new ConnectionLock(connection);
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }

        await connection.DisposeAsync();
        return null;
    }

    private async Task<IAsyncDisposable?> TrySqlServerAsync(int migrationId, CancellationToken ct)
    {
        var connection = new SqlConnection(new SqlConnectionStringBuilder(connectionString) { Pooling = false }.ConnectionString);
        try
        {
            await connection.OpenAsync(ct);
            await using var command = new SqlCommand("sp_getapplock", connection) { CommandType = CommandType.StoredProcedure };
            command.Parameters.AddWithValue("@Resource", $"xenmigrate:migration:{migrationId}");
            command.Parameters.AddWithValue("@LockMode", "Exclusive");
            command.Parameters.AddWithValue("@LockOwner", "Session");
            command.Parameters.AddWithValue("@LockTimeout", 0);
            var result = command.Parameters.Add("@Result", SqlDbType.Int);
            result.Direction = ParameterDirection.ReturnValue;
            await command.ExecuteNonQueryAsync(ct);
            if ((int)result.Value >= 0) return new ConnectionLock(connection);
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }

        await connection.DisposeAsync();
        return null;
    }

    private FileLock? TryFile(int migrationId)
    {
        var directory = Path.ChangeExtension(new Microsoft.Data.Sqlite.SqliteConnectionStringBuilder(connectionString).DataSource, ".locks");
        Directory.CreateDirectory(directory);
        var path = Path.Combine(directory, $"migration-{migrationId}.lock");
        try
        {
            // FileShare.None is an exclusive flock on Unix: the kernel drops it when the holder dies.
            return new FileLock(new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None));
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>Closing the lock's own connection releases it (as a dead holder's closed socket does).</summary>
    private sealed class ConnectionLock(DbConnection connection) : IAsyncDisposable
    {
        public ValueTask DisposeAsync() => connection.DisposeAsync();
    }

    private sealed class FileLock(FileStream stream) : IAsyncDisposable
    {
        public ValueTask DisposeAsync() => stream.DisposeAsync();
    }
}
