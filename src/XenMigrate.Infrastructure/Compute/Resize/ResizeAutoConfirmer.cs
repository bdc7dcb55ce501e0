using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using XenMigrate.Domain.Common;
using XenMigrate.Domain.Migrations;
using XenMigrate.Domain.Servers;
using XenMigrate.Infrastructure.Compute.Api;
using XenMigrate.Infrastructure.Compute.Common;
using XenMigrate.Infrastructure.Durable;
using XenMigrate.Infrastructure.Persistence;

namespace XenMigrate.Infrastructure.Compute.Resize;

/// <summary>
/// Nova's <c>resize_confirm_window</c> (<c>_poll_unconfirmed_resizes</c>): a resize or cold migration
/// left in VERIFY_RESIZE longer than <see cref="WorkflowOptions.ResizeConfirmWindow"/> is confirmed as
/// if its owner had asked. Zero (the default, as in Nova) leaves every confirm to the user.
/// </summary>
public sealed partial class ResizeAutoConfirmer(IServiceScopeFactory scopes, IOptions<WorkflowOptions> options, TimeProvider time,
    ILogger<ResizeAutoConfirmer> logger) : PeriodicWorker(logger)
{
    /// <summary>Looks often enough that a confirm comes at most a few seconds after the window closes.</summary>
    protected override TimeSpan Interval =>
        options.Value.ResizeConfirmWindow <= TimeSpan.Zero ? TimeSpan.FromSeconds(30)
        : TimeSpan.FromTicks(Math.Clamp(options.Value.ResizeConfirmWindow.Ticks / 2, TimeSpan.TicksPerSecond / 2, 10 * TimeSpan.TicksPerSecond));

    protected override async Task PassAsync(CancellationToken ct)
    {
        var window = options.Value.ResizeConfirmWindow;
        if (window <= TimeSpan.Zero) return;
        var due = time.GetUtcNow().UtcDateTime - window;

        List<Migration> overdue;
        await using (var scope = scopes.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<XenMigrateDbContext>();
            overdue = await db.Migrations.AsNoTracking()
                .Where(m => m.Status == MigrationStatus.Finished && m.UpdatedAt <= due).ToListAsync(ct);
        }

        foreach (var migration in overdue) await ConfirmAsync(migration, ct);
    }

    private async Task ConfirmAsync(Migration migration, CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<XenMigrateDbContext>();
        var starter = scope.ServiceProvider.GetRequiredService<MigrationStarter>();
        var server = await db.Servers.FirstOrDefaultAsync(s => s.Id == migration.InstanceUuid, ct);
        if (server is not { VmState: VmState.Resized, TaskState: null }) return;
        try
        {
            await starter.ConfirmAsync(server, RequestContext.ActingFor(migration.UserId, migration.ProjectId, "req-" + Guid.NewGuid()), ct);
            LogConfirmed(logger, server.Id, migration.Uuid, options.Value.ResizeConfirmWindow);
        }
        catch (Exception e) when (e is DbUpdateConcurrencyException or DomainException)
        {
            // the user confirmed or reverted it meanwhile
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Confirmed the resize of {ServerId} (migration {MigrationUuid}): left unconfirmed longer than {Window}")]
    private static partial void LogConfirmed(ILogger logger, Guid serverId, Guid migrationUuid, TimeSpan window);
}
