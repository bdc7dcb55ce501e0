using System.Diagnostics;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using XenMigrate.Infrastructure.Persistence;

namespace XenMigrate.Infrastructure.Telemetry;

/// <summary>
/// What one run of a workflow step carries for observability: a span named after the step and a
/// log scope with the Nova request id of the request that asked for it (the migration records it),
/// so a job's log lines can be found by the id the client got back. Disposed without
/// <see cref="Succeeded"/>, the span is marked as an error.
/// </summary>
public sealed class MigrationStepScope : IDisposable
{
    private readonly Activity? _activity;
    private readonly IDisposable? _logScope;
    private bool _succeeded;

    private MigrationStepScope(Activity? activity, IDisposable? logScope)
    {
        _activity = activity;
        _logScope = logScope;
    }

    /// <summary>
    /// Starts the span and the log scope. Not async on purpose: both live in AsyncLocal state, which
    /// an async method would restore on returning, so the caller's step would see neither.
    /// </summary>
    public static MigrationStepScope Begin(ILogger logger, int migrationId, string step, string? requestId) =>
        new(XenMigrateTelemetry.StartStep(step, migrationId, requestId), logger.BeginScope(LogScope(requestId, migrationId)));

    /// <summary>
    /// The latest request on the migration: the resize (or migrate) until a confirm or revert arrives.
    /// Advisory: when the database cannot say, the step runs without it (and meets the fault itself,
    /// inside its retry and rollback handling).
    /// </summary>
    public static async Task<string?> RequestIdAsync(IServiceScopeFactory scopes, int migrationId, CancellationToken ct)
    {
        try
        {
            await using var scope = scopes.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<XenMigrateDbContext>();
            return await db.MigrationCheckpoints.AsNoTracking().Where(c => c.MigrationId == migrationId)
                .Select(c => c.ConfirmOrRevertRequestId ?? c.StartRequestId).FirstOrDefaultAsync(ct);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            return null;
        }
    }

    /// <summary>The properties a log scope carries; <paramref name="migrationId"/> only inside a job.</summary>
    public static IReadOnlyList<KeyValuePair<string, object?>> LogScope(string? requestId, int? migrationId = null)
    {
        var properties = new List<KeyValuePair<string, object?>>(2);
        if (requestId is not null) properties.Add(new(XenMigrateTelemetry.RequestIdProperty, requestId));
        if (migrationId is not null) properties.Add(new("MigrationId", migrationId));
        return properties;
    }

    public void Succeeded() => _succeeded = true;

    public void Dispose()
    {
        if (!_succeeded) _activity?.SetStatus(ActivityStatusCode.Error);
        _activity?.Dispose();
        _logScope?.Dispose();
    }
}
