using Hangfire;
using Hangfire.Server;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using XenMigrate.Domain.Migrations;

namespace XenMigrate.Infrastructure.Workflow;

/// <summary>
/// The durable Hangfire job of a live migration: one job carries it from accepted to its end,
/// holding the migration's lock (a duplicate delivery steps aside). Hangfire retries a pass that
/// failed (a host that did not answer); each pass resumes from the migration's status and
/// checkpoint. When the retries are spent before migrate_send started, the migration ends in error
/// with the server where it was; once it runs, the XenServer task decides, and the reconciler
/// resumes following it later.
/// </summary>
public sealed partial class LiveMigrationJobs(IServiceScopeFactory scopes, WorkerLocks locks, ILogger<LiveMigrationJobs> logger)
{
    public const int Retries = 3;

    private static readonly TimeSpan LockWait = TimeSpan.FromSeconds(5);

    [AutomaticRetry(Attempts = Retries, DelaysInSeconds = [1, 3, 5], OnAttemptsExceeded = AttemptsExceededAction.Delete)]
    public async Task Run(int migrationId, PerformContext? context)
    {
        var ct = context?.CancellationToken.ShutdownToken ?? CancellationToken.None;
        var held = await locks.TryAcquireAsync(LockResource.Migration(migrationId), LockWait, ct);
        if (held is null)
        {
            LogSteppedAside(logger, migrationId);
            return;
        }

        await using (held)
        {
            await using var scope = scopes.CreateAsyncScope();
            var workflow = scope.ServiceProvider.GetRequiredService<LiveMigrationWorkflow>();
            try
            {
                await workflow.RunAsync(migrationId, ct);
            }
            catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
            {
                var attempt = context?.GetJobParameter<int>("RetryCount") ?? Retries;
                LogPassFailed(logger, migrationId, attempt + 1, e.Message);
                if (attempt < Retries) throw;
                await GiveUpAsync(scope.ServiceProvider, migrationId, e, ct);
            }
        }
    }

    /// <summary>Nothing was started on XenServer yet: the migration ends in error and the server stays.</summary>
    private static async Task GiveUpAsync(IServiceProvider services, int migrationId, Exception cause, CancellationToken ct)
    {
        var db = services.GetRequiredService<Persistence.XenMigrateDbContext>();
        db.ChangeTracker.Clear();
        var status = (await db.Migrations.FindAsync([migrationId], ct))?.Status;
        if (status is not (MigrationStatus.Accepted or MigrationStatus.Queued or MigrationStatus.Preparing)) return; // running: the reconciler follows it later
        var reason = cause switch
        {
            Xapi.XapiException x => $"XenServer refused {x.Method}: {x.Code}",
            Xapi.XapiTransportException t => $"A XenServer host stopped answering ({t.Host}).",
            TimeoutException => "A XenServer operation timed out.",
            _ => "The live migration failed: " + cause.Message,
        };
        await services.GetRequiredService<LiveMigrationWorkflow>().EndAsync(migrationId, MigrationStatus.Error, reason, ct);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Live migration {MigrationId}: another worker holds its lock; this delivery steps aside")]
    private static partial void LogSteppedAside(ILogger logger, int migrationId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Live migration {MigrationId}: attempt {Attempt} failed ({Reason})")]
    private static partial void LogPassFailed(ILogger logger, int migrationId, int attempt, string reason);
}
