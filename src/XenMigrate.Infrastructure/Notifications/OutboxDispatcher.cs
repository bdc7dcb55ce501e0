using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using XenMigrate.Infrastructure.Durable;
using XenMigrate.Infrastructure.Persistence;

namespace XenMigrate.Infrastructure.Notifications;

/// <summary>
/// Publishes outbox rows in order through MassTransit and marks them published. One process at a
/// time dispatches (the outbox's worker lock), so several gateways never publish a row twice;
/// a crash between publish and mark may repeat one (consumers see the same MessageId).
/// </summary>
public sealed partial class OutboxDispatcher(IServiceScopeFactory scopes, WorkerLocks locks, TimeProvider time, ILogger<OutboxDispatcher> logger)
    : BackgroundService
{
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(200);

    /// <summary>Published rows are kept this long (for inspection), then pruned.</summary>
    private static readonly TimeSpan Retention = TimeSpan.FromDays(1);

    private DateTime _lastPrune = DateTime.MinValue;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await DispatchOnceAsync(stoppingToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                LogDispatchFailed(logger, e.Message); // the bus or database is away: try again shortly
            }

            try
            {
                await Task.Delay(Interval, time, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private async Task DispatchOnceAsync(CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<XenMigrateDbContext>();
        var now = time.GetUtcNow().UtcDateTime;
        if (now - _lastPrune > TimeSpan.FromMinutes(1))
        {
            _lastPrune = now;
            var cutoff = now - Retention;
            await db.Set<OutboxMessage>().Where(m => m.PublishedAt != null && m.PublishedAt < cutoff).ExecuteDeleteAsync(ct);
        }

        if (!await db.Set<OutboxMessage>().AnyAsync(m => m.PublishedAt == null, ct)) return;

        await using var dispatchLock = await locks.TryAcquireAsync(LockResource.Outbox, TimeSpan.Zero, ct);
        if (dispatchLock is null) return; // another process is dispatching
        var batch = await db.Set<OutboxMessage>().Where(m => m.PublishedAt == null).OrderBy(m => m.Id).Take(100).ToListAsync(ct);
        var bus = scope.ServiceProvider.GetRequiredService<IPublishEndpoint>();
        foreach (var message in batch)
        {
            await bus.Publish(new VersionedNotification(message.EventType, message.Priority, message.PublisherId, message.Payload,
                message.CreatedAt, message.MessageId), ct);
            message.PublishedAt = time.GetUtcNow().UtcDateTime;
            await db.SaveChangesAsync(ct);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Notifications not published yet: {Reason}")]
    private static partial void LogDispatchFailed(ILogger logger, string reason);
}

/// <summary>Configuration section <c>Messaging</c>: in-memory by default, RabbitMQ when a host is named.</summary>
public sealed class MessagingOptions
{
    public const string Section = "Messaging";

    public string? RabbitMqHost { get; set; }
    public string RabbitMqVirtualHost { get; set; } = "/";
    public string RabbitMqUsername { get; set; } = "guest";
    public string RabbitMqPassword { get; set; } = "guest";
}
