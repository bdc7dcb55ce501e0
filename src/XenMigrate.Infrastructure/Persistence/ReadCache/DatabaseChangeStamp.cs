using Microsoft.Data.Sqlite;

namespace XenMigrate.Infrastructure.Persistence.ReadCache;

/// <summary>
/// A number that changes whenever any other connection commits to the database: SQLite's
/// <c>PRAGMA data_version</c>, read on one connection of its own kept open for it. Reading it costs
/// a prepared one-row statement, far less than a query, so a cache can ask it on every request and
/// still never serve a row older than the last commit, from this process or any other.
/// Null on PostgreSQL and SQL Server, which have no such cheap stamp, and for an in-memory or
/// shared-cache SQLite database, where SQLite does not promise it: there, nothing is cached.
/// </summary>
public sealed class DatabaseChangeStamp(DatabaseOptions options, string connectionString) : IDisposable
{
    private readonly bool _applies = options.Provider == DatabaseProvider.Sqlite && IsPlainFile(connectionString);
    private readonly Lock _gate = new();
    private SqliteConnection? _connection;
    private SqliteCommand? _dataVersion;
    private bool _disposed;

    public long? Read()
    {
        if (!_applies) return null;
        lock (_gate)
        {
            if (_disposed) return null;
            if (_dataVersion is null)
            {
                // Opened on first use: the database file exists only after start-up has migrated it.
                _connection = new SqliteConnection(connectionString);
                _connection.Open();
                _dataVersion = _connection.CreateCommand();
                _dataVersion.CommandText = "PRAGMA data_version";
                _dataVersion.Prepare();
            }

            return (long)_dataVersion.ExecuteScalar()!;
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _disposed = true;
            _dataVersion?.Dispose();
            _connection?.Dispose();
        }
    }

    // data_version changes on another connection's commit to the same file; connections sharing a
    // cache count as one, and an in-memory database is one connection's alone.
    private static bool IsPlainFile(string connectionString)
    {
        var builder = new SqliteConnectionStringBuilder(connectionString);
        return builder.Mode != SqliteOpenMode.Memory && builder.Cache != SqliteCacheMode.Shared
               && builder.DataSource is { Length: > 0 } source && source != ":memory:"
               && !source.StartsWith("file::memory:", StringComparison.OrdinalIgnoreCase);
    }
}
