using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;
using Microsoft.Extensions.Options;
using XenMigrate.Domain.Common;
using XenMigrate.Domain.Flavors;
using XenMigrate.Infrastructure.Persistence;

namespace XenMigrate.Infrastructure.Quotas;

/// <summary>Nova's default quota limits (the [quota] options); -1 is unlimited.</summary>
public sealed class QuotaOptions
{
    public const string Section = "Quota";

    public int Instances { get; set; } = 10;
    public int Cores { get; set; } = 20;
    public int Ram { get; set; } = 51200;
    public int MetadataItems { get; set; } = 128;
    public int InjectedFiles { get; set; } = 5;
    public int InjectedFileContentBytes { get; set; } = 10240;
    public int InjectedFilePathLength { get; set; } = 255;
    public int KeyPairs { get; set; } = 100;
    public int ServerGroups { get; set; } = 10;
    public int ServerGroupMembers { get; set; } = 10;
}

/// <summary>Nova's quota resources by their API names, with the defaults from <see cref="QuotaOptions"/>.</summary>
public static class QuotaResources
{
    public const string Instances = "instances";
    public const string Cores = "cores";
    public const string Ram = "ram";
    public const string ServerGroups = "server_groups";
    public const string ServerGroupMembers = "server_group_members";

    public static IReadOnlyDictionary<string, int> Defaults(QuotaOptions o) => new SortedDictionary<string, int>(StringComparer.Ordinal)
    {
        ["cores"] = o.Cores,
        ["injected_file_content_bytes"] = o.InjectedFileContentBytes,
        ["injected_file_path_bytes"] = o.InjectedFilePathLength,
        ["injected_files"] = o.InjectedFiles,
        ["instances"] = o.Instances,
        ["key_pairs"] = o.KeyPairs,
        ["metadata_items"] = o.MetadataItems,
        ["ram"] = o.Ram,
        ["server_group_members"] = o.ServerGroupMembers,
        ["server_groups"] = o.ServerGroups,
    };
}

/// <summary>
/// Limits (defaults, or a project's own) and usage counted from the servers themselves, as Nova
/// counts them since Pike: instances, their vCPUs and RAM. A server with a resize open counts with
/// the larger of its two flavors, as Nova holds the upsize until confirm or revert.
/// </summary>
public sealed class QuotaService(XenMigrateDbContext db, IOptions<QuotaOptions> options)
{
    /// <summary>The defaults every project starts from: the configured ones, as the "default" quota class sets them.</summary>
    public async Task<IReadOnlyDictionary<string, int>> DefaultsAsync(CancellationToken ct)
    {
        var limits = new SortedDictionary<string, int>(QuotaResources.Defaults(options.Value).ToDictionary(), StringComparer.Ordinal);
        foreach (var row in await db.QuotaClassLimits.AsNoTracking().Where(q => q.ClassName == QuotaClassLimit.DefaultClass).ToListAsync(ct))
            if (limits.ContainsKey(row.Resource)) limits[row.Resource] = row.HardLimit;
        return limits;
    }

    /// <summary>The "default" class's rows as stored, including the legacy network-proxy ones Nova still accepts before 2.50 (kept, never enforced).</summary>
    public async Task<IReadOnlyDictionary<string, int>> DefaultClassRowsAsync(CancellationToken ct) =>
        await db.QuotaClassLimits.AsNoTracking().Where(q => q.ClassName == QuotaClassLimit.DefaultClass).ToDictionaryAsync(q => q.Resource, q => q.HardLimit, ct);

    /// <summary>Sets the "default" quota class's limits (Nova's quota-class-set update, admin only).</summary>
    public async Task SetDefaultsAsync(IReadOnlyDictionary<string, int> limits, CancellationToken ct)
    {
        var existing = await db.QuotaClassLimits.Where(q => q.ClassName == QuotaClassLimit.DefaultClass).ToListAsync(ct);
        foreach (var (resource, limit) in limits)
        {
            if (existing.FirstOrDefault(q => q.Resource == resource) is { } row) row.HardLimit = limit;
            else db.QuotaClassLimits.Add(new QuotaClassLimit { ClassName = QuotaClassLimit.DefaultClass, Resource = resource, HardLimit = limit });
        }

        await db.SaveChangesAsync(ct);
    }

    public async Task<IReadOnlyDictionary<string, int>> LimitsAsync(string projectId, CancellationToken ct)
    {
        var limits = new SortedDictionary<string, int>((await DefaultsAsync(ct)).ToDictionary(), StringComparer.Ordinal);
        foreach (var own in await db.QuotaLimits.AsNoTracking().Where(q => q.ProjectId == projectId).ToListAsync(ct))
            if (limits.ContainsKey(own.Resource)) limits[own.Resource] = own.HardLimit;
        return limits;
    }

    public async Task<IReadOnlyDictionary<string, int>> UsageAsync(string projectId, CancellationToken ct)
    {
        var servers = await db.Servers.AsNoTracking().Where(s => s.ProjectId == projectId).ToListAsync(ct);
        var flavors = servers.Select(s => s.NewFlavor is { } n && n.MemoryMb + n.Vcpus > s.Flavor.MemoryMb + s.Flavor.Vcpus ? n : s.Flavor).ToList();
        return new Dictionary<string, int>
        {
            [QuotaResources.Instances] = servers.Count,
            [QuotaResources.Cores] = servers.Select(s => Math.Max(s.Flavor.Vcpus, s.NewFlavor?.Vcpus ?? 0)).Sum(),
            [QuotaResources.Ram] = servers.Select(s => Math.Max(s.Flavor.MemoryMb, s.NewFlavor?.MemoryMb ?? 0)).Sum(),
            [QuotaResources.ServerGroups] = await db.ServerGroups.CountAsync(g => g.ProjectId == projectId, ct),
        };
    }

    /// <summary>Room for one more server group (inside <see cref="HoldProjectAsync"/>): Nova's "Quota exceeded, too many server groups."</summary>
    public async Task EnsureRoomForServerGroupAsync(string projectId, CancellationToken ct)
    {
        var allowed = (await LimitsAsync(projectId, ct))[QuotaResources.ServerGroups];
        if (allowed >= 0 && await db.ServerGroups.CountAsync(g => g.ProjectId == projectId, ct) >= allowed)
            throw new QuotaExceededException("Quota exceeded, too many server groups.");
    }

    /// <summary>
    /// Room for <paramref name="count"/> more members in the group, counting the members that still exist, against the
    /// group's project's server_group_members: Nova's "Quota exceeded, too many servers in group".
    /// </summary>
    public async Task EnsureRoomInGroupAsync(Domain.ServerGroups.ServerGroup group, int count, CancellationToken ct)
    {
        var allowed = (await LimitsAsync(group.ProjectId, ct))[QuotaResources.ServerGroupMembers];
        var members = group.Members.Select(m => m.ServerId).ToList();
        if (allowed >= 0 && await db.Servers.CountAsync(s => members.Contains(s.Id), ct) + count > allowed)
            throw new QuotaExceededException("Quota exceeded, too many servers in group");
    }

    /// <summary>
    /// Begins a transaction that holds the project's quota until it ends: a no-op update of the
    /// project's row takes that row's write lock (PostgreSQL, SQL Server) or the database's
    /// (SQLite) first, so a second request of the same project, in this process or another, counts
    /// its usage only after the first has committed what it adds. Check, insert, then commit.
    /// </summary>
    public async Task<IDbContextTransaction> HoldProjectAsync(string projectId, CancellationToken ct)
    {
        var transaction = await db.Database.BeginTransactionAsync(ct);
        try
        {
            await db.Projects.Where(p => p.Id == projectId).ExecuteUpdateAsync(s => s.SetProperty(p => p.Name, p => p.Name), ct);
            return transaction;
        }
        catch
        {
            await transaction.DisposeAsync();
            throw;
        }
    }

    /// <summary>Room for <paramref name="count"/> more servers of this flavor, or Nova's "Quota exceeded for …" (inside <see cref="HoldProjectAsync"/>).</summary>
    public Task EnsureRoomForServersAsync(string projectId, FlavorSnapshot flavor, int count, CancellationToken ct) =>
        EnsureRoomAsync(projectId, new Dictionary<string, int>
        {
            [QuotaResources.Instances] = count, [QuotaResources.Cores] = flavor.Vcpus * count, [QuotaResources.Ram] = flavor.MemoryMb * count,
        }, ct);

    /// <summary>
    /// How many more servers of this flavor the project's instances, cores and ram leave room for
    /// (Nova's headroom in _check_num_instances_quota); <see cref="int.MaxValue"/> when unlimited.
    /// </summary>
    public async Task<int> ServersThatFitAsync(string projectId, FlavorSnapshot flavor, CancellationToken ct)
    {
        var limits = await LimitsAsync(projectId, ct);
        var usage = await UsageAsync(projectId, ct);
        int Room(string resource, int each) =>
            limits[resource] < 0 || each <= 0 ? int.MaxValue : Math.Max(0, limits[resource] - usage[resource]) / each;
        return Math.Min(Room(QuotaResources.Instances, 1), Math.Min(Room(QuotaResources.Cores, flavor.Vcpus), Room(QuotaResources.Ram, flavor.MemoryMb)));
    }

    /// <summary>Room for a resize: only what grows counts (Nova's upsize_quota_delta).</summary>
    public Task EnsureRoomForResizeAsync(string projectId, FlavorSnapshot current, FlavorSnapshot wanted, CancellationToken ct)
    {
        var deltas = new Dictionary<string, int>();
        if (wanted.Vcpus > current.Vcpus) deltas[QuotaResources.Cores] = wanted.Vcpus - current.Vcpus;
        if (wanted.MemoryMb > current.MemoryMb) deltas[QuotaResources.Ram] = wanted.MemoryMb - current.MemoryMb;
        return deltas.Count == 0 ? Task.CompletedTask : EnsureRoomAsync(projectId, deltas, ct);
    }

    /// <summary>Sets a project's own limits (Nova's quota-set update, admin only).</summary>
    public async Task SetLimitsAsync(string projectId, IReadOnlyDictionary<string, int> limits, CancellationToken ct)
    {
        var existing = await db.QuotaLimits.Where(q => q.ProjectId == projectId).ToListAsync(ct);
        foreach (var (resource, limit) in limits)
        {
            if (existing.FirstOrDefault(q => q.Resource == resource) is { } row) row.HardLimit = limit;
            else db.QuotaLimits.Add(new QuotaLimit { ProjectId = projectId, Resource = resource, HardLimit = limit });
        }

        await db.SaveChangesAsync(ct);
    }

    /// <summary>
    /// Nova's _check_metadata_properties_quota: a server's metadata may hold at most the project's
    /// metadata_items (a limit checked, not counted: it holds nothing).
    /// </summary>
    public async Task EnsureMetadataWithinLimitAsync(string projectId, int items, CancellationToken ct)
    {
        var allowed = (await LimitsAsync(projectId, ct))["metadata_items"];
        if (allowed >= 0 && items > allowed)
            throw new QuotaExceededException($"Maximum number of metadata items exceeds {allowed.ToString(System.Globalization.CultureInfo.InvariantCulture)}");
    }

    /// <summary>Nova's get_over_quota_detail: every resource over, in order, joined with ", ".</summary>
    private async Task EnsureRoomAsync(string projectId, Dictionary<string, int> deltas, CancellationToken ct)
    {
        var limits = await LimitsAsync(projectId, ct);
        var usage = await UsageAsync(projectId, ct);
        var overs = deltas.Keys.Order(StringComparer.Ordinal)
            .Where(r => limits[r] >= 0 && usage[r] + deltas[r] > limits[r]).ToList();
        if (overs.Count == 0) return;
        string Join(Func<string, int> value) => string.Join(", ", overs.Select(r => value(r).ToString(System.Globalization.CultureInfo.InvariantCulture)));
        var names = string.Join(", ", overs);
        throw new QuotaExceededException(
            $"Quota exceeded for {names}: Requested {Join(r => deltas[r])}, but already used {Join(r => usage[r])} of {Join(r => limits[r])} {names}");
    }
}
