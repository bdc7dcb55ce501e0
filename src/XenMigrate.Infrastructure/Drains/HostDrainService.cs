using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using XenMigrate.Domain.Drains;
using XenMigrate.Infrastructure.Durable;
using XenMigrate.Infrastructure.Persistence;

namespace XenMigrate.Infrastructure.Drains;

public sealed class HostDrainOptions
{
    public const string Section = "HostDrain";

    /// <summary>How often running drains are looked at (their moves settled, new ones started).</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Moves at once when the request does not say.</summary>
    public int DefaultMaxConcurrent { get; set; } = 2;
}

/// <summary>
/// Runs in every worker: advances each unfinished drain once per <see cref="HostDrainOptions.PollInterval"/>,
/// under the drain's worker lock so that two workers never advance one drain at once. A worker that
/// dies mid-pass frees the lock and another (or the restarted one) carries on from the database.
/// </summary>
public sealed class HostDrainService(IServiceScopeFactory scopes, WorkerLocks locks, IOptions<HostDrainOptions> options,
    ILogger<HostDrainService> logger) : PeriodicWorker(logger)
{
    protected override TimeSpan Interval => options.Value.PollInterval;

    protected override async Task PassAsync(CancellationToken ct)
    {
        List<int> open;
        await using (var scope = scopes.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<XenMigrateDbContext>();
            open = await db.HostDrains.AsNoTracking()
                .Where(d => d.Status == HostDrainStatus.Running || d.Status == HostDrainStatus.Cancelling)
                .Select(d => d.Id).ToListAsync(ct);
        }

        foreach (var id in open)
        {
            await using var held = await locks.TryAcquireAsync(LockResource.Drain(id), TimeSpan.Zero, ct);
            if (held is null) continue; // another worker is on it
            await using var scope = scopes.CreateAsyncScope();
            await scope.ServiceProvider.GetRequiredService<HostDrainCoordinator>().AdvanceAsync(id, ct);
        }
    }
}
