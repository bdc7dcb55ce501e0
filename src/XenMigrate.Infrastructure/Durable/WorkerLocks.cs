using System.Data;
using System.Data.Common;
using Microsoft.Data.SqlClient;
using Npgsql;
using XenMigrate.Infrastructure.Persistence;

namespace XenMigrate.Infrastructure.Durable;

/// <summary>What a lock guards: a (class, id) pair, as PostgreSQL's two-key advisory locks take.</summary>
public readonly record struct LockResource(int Class, int Id)
{
    /// <summary>One migration: no two workers ever run a step of it at once.</summary>
    public static LockResource Migration(int migrationId) => new(0x584D, migrationId); // "XM"

    /// <summary>One server's build or delete (the id folded to 32 bits: a rare collision only serialises two servers).</summary>
    public static LockResource Server(Guid serverId) => new(0x5853, serverId.GetHashCode()); // "XS"
    /// <summary>One power action (by its instance action id): no two workers run it at once.</summary>
    public static LockResource PowerAction(int instanceActionId) => new(0x5850, instanceActionId); // "XP"

    /// <summary>One server group while a member is placed (the id folded to 32 bits, as for servers).</summary>
    public static LockResource ServerGroup(Guid groupId) => new(0x5847, groupId.GetHashCode()); // "XG"

    /// <summary>The notification outbox: one dispatcher at a time keeps notifications in order.</summary>
    public static LockResource Outbox { get; } = new(0x584E, 0);

    /// <summary>One host drain: one worker advances it at a time.</summary>
    public static LockResource Drain(int drainId) => new(0x584F, drainId);

    public string Name => $"xenmigrate-{Class:x}-{Id}";
}

/// <summary>
/// Locks between worker processes: one per migration, one per host drain, one for the outbox. Each lock dies with its holder — a process killed mid-step frees it at once — because it belongs to
/// something the operating system or the database server cleans up: a PostgreSQL advisory lock or
/// a SQL Server application lock on the holder's own connection, or (SQLite, one machine) an
/// exclusive lock on a file. A lease with a timeout would have to outlive the longest disk copy,
/// and a lease that expires under a live holder lets a second worker in.
/// </summary>
public sealed class WorkerLocks(DatabaseOptions database, string connectionString)
{
    private static readonly TimeSpan RetryDelay = TimeSpan.FromMilliseconds(250);

    /// <summary>Takes the lock, waiting up to <paramref name="wait"/>; null when someone else holds it.</summary>
    public async Task<IAsyncDisposable?> TryAcquireAsync(LockResource resource, TimeSpan wait, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + wait;
        while (true)
        {
            var held = database.Provider switch
            {
                DatabaseProvider.PostgreSql => await TryPostgreSqlAsync(resource, ct),
                DatabaseProvider.SqlServer => await TrySqlServerAsync(resource, ct),
                _ => TryFile(resource),
            };
            if (held is not null || DateTime.UtcNow >= deadline) return held;
            await Task.Delay(RetryDelay, ct);
        }
    }

    private async Task<IAsyncDisposable?> TryPostgreSqlAsync(LockResource resource, CancellationToken ct)
    {
        var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false }.ConnectionString);
        try
        {
            await connection.OpenAsync(ct);
            await using var command = new NpgsqlCommand("SELECT pg_try_advisory_lock(@class, @id)", connection);
            command.Parameters.AddWithValue("class", resource.Class);
            command.Parameters.AddWithValue("id", resource.Id);
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

    private async Task<IAsyncDisposable?> TrySqlServerAsync(LockResource resource, CancellationToken ct)
    {
        var connection = new SqlConnection(new SqlConnectionStringBuilder(connectionString) { Pooling = false }.ConnectionString);
        try
        {
            await connection.OpenAsync(ct);
            await using var command = new SqlCommand("sp_getapplock", connection) { CommandType = CommandType.StoredProcedure };
            command.Parameters.AddWithValue("@Resource", resource.Name);
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

    private FileLock? TryFile(LockResource resource)
    {
        var directory = Path.ChangeExtension(new Microsoft.Data.Sqlite.SqliteConnectionStringBuilder(connectionString).DataSource, ".locks");
        Directory.CreateDirectory(directory);
        var path = Path.Combine(directory, resource.Name + ".lock");
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
