using System.Collections.Concurrent;
using Microsoft.EntityFrameworkCore;
using XenMigrate.Domain.Servers;

namespace XenMigrate.Infrastructure.Persistence.ReadCache;

/// <summary>
/// Servers as last read, each kept with the <see cref="DatabaseChangeStamp"/> it was read under and
/// served again only while the stamp is unchanged, i.e. while nothing at all has been committed
/// since. Most of a <c>GET /servers/{id}</c> is otherwise SQLite preparing the same statement again
/// (bench/README.md, API). The entities are shared between requests: read them, never change them.
/// </summary>
public sealed class ServerReadCache(DatabaseChangeStamp stamp)
{
    /// <summary>Bounds the memory; past it the cache starts again (a read-mostly lab has far fewer).</summary>
    private const int MaxServers = 10_000;

    // One per cache, i.e. per gateway and so per model: a compiled query remembers the model it was
    // compiled for, and a test process runs SQLite and PostgreSQL gateways side by side.
    private readonly Func<XenMigrateDbContext, Guid, CancellationToken, Task<Server?>> _byId =
        EF.CompileAsyncQuery((XenMigrateDbContext db, Guid id, CancellationToken _) =>
            db.Servers.AsNoTracking().FirstOrDefault(s => s.Id == id));

    private readonly ConcurrentDictionary<Guid, (long Stamp, Server Server)> _servers = new();

    /// <summary>The server with this id (not deleted), as of the last commit; null if there is none.</summary>
    public async Task<Server?> FindAsync(XenMigrateDbContext db, Guid id, CancellationToken ct)
    {
        // Taken before the read: a commit racing the read changes the stamp, so that entry is never served.
        var now = stamp.Read();
        if (now is { } current && _servers.TryGetValue(id, out var known) && known.Stamp == current) return known.Server;

        var server = await _byId(db, id, ct);
        if (now is { } readUnder && server is not null)
        {
            if (_servers.Count >= MaxServers) _servers.Clear();
            _servers[id] = (readUnder, server);
        }

        return server;
    }
}
