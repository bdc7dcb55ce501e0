using Microsoft.EntityFrameworkCore;
using XenMigrate.Domain.Servers;
using XenMigrate.Infrastructure.Persistence;

namespace XenMigrate.Infrastructure.Compute.Api;

/// <summary>Nova's common.get_instance: the server a request may see, or Nova's 404.</summary>
public static class ServerLookup
{
    /// <summary>
    /// Only the canonical 8-4-4-4-12 form (either case) names a server, as in Nova's database:
    /// braces, bare hex or "urn:uuid:" are other strings, so they are 404 too, not another way in.
    /// Another project's server is not found either, unless the caller is an admin.
    /// </summary>
    public static async Task<Server> FindVisibleAsync(XenMigrateDbContext db, RequestContext context, string serverId, CancellationToken ct,
        bool tracked = false)
    {
        var id = IdOf(serverId);
        var servers = tracked ? db.Servers : db.Servers.AsNoTracking();
        return Visible(context, serverId, await servers.FirstOrDefaultAsync(s => s.Id == id, ct));
    }

    /// <summary>As <see cref="FindVisibleAsync"/>, deleted servers included (Nova's read_deleted="yes": instance actions from 2.21).</summary>
    public static async Task<Server> FindVisibleIncludingDeletedAsync(XenMigrateDbContext db, RequestContext context, string serverId, CancellationToken ct)
    {
        var id = IdOf(serverId);
        return Visible(context, serverId, await db.Servers.IgnoreQueryFilters().AsNoTracking().FirstOrDefaultAsync(s => s.Id == id, ct));
    }

    /// <summary>The id a path names, or Nova's 404 for a string that is not a canonical uuid.</summary>
    public static Guid IdOf(string serverId) =>
        Guid.TryParseExact(serverId, "D", out var id) ? id : throw new InstanceNotFoundException(serverId);

    /// <summary>The server found, if the caller may see it; else Nova's 404.</summary>
    public static Server Visible(RequestContext context, string serverId, Server? server) =>
        server is not null && (context.IsAdmin || server.ProjectId == context.ProjectId)
            ? server
            : throw new InstanceNotFoundException(serverId);
}
