using Hangfire;
using Hangfire.Server;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace XenMigrate.Infrastructure.Workflow;

/// <summary>
/// The durable Hangfire jobs of a server's boot and delete, each taking only the server id and
/// holding the server's lock (a duplicate delivery steps aside), as <see cref="MigrationJobs"/>
/// does for migrations. A boot that keeps failing is cleaned up and ends in ERROR; so does a delete.
/// </summary>
public sealed partial class ServerJobs(IServiceScopeFactory scopes, WorkerLocks locks, ILogger<ServerJobs> logger)
{
    private static readonly TimeSpan LockWait = TimeSpan.FromSeconds(5);

    [AutomaticRetry(Attempts = MigrationJobs.Retries, DelaysInSeconds = [1, 3, 5], OnAttemptsExceeded = AttemptsExceededAction.Delete)]
    public Task Build(Guid serverId, PerformContext? context) =>
        RunAsync(serverId, context, (w, ct) => w.BuildAsync(serverId, ct), (w, reason, ct) => w.FailBuildAsync(serverId, reason, ct));

    [AutomaticRetry(Attempts = MigrationJobs.Retries, DelaysInSeconds = [1, 3, 5], OnAttemptsExceeded = AttemptsExceededAction.Delete)]
    public Task Delete(Guid serverId, PerformContext? context) =>
        RunAsync(serverId, context, (w, ct) => w.DeleteAsync(serverId, ct), (w, reason, ct) => w.FailDeleteAsync(serverId, reason, ct));

    private async Task RunAsync(Guid serverId, PerformContext? context, Func<ServerLifecycleWorkflow, CancellationToken, Task> step,
        Func<ServerLifecycleWorkflow, string, CancellationToken, Task> giveUp)
    {
        var ct = context?.CancellationToken.ShutdownToken ?? CancellationToken.None;
        var held = await locks.TryAcquireAsync(LockResource.Server(serverId), LockWait, ct);
        if (held is null)
        {
            LogSteppedAside(logger, serverId); // the holder finishes it; if it died, the reconciler resumes
            return;
        }

        await using (held)
        {
            try
            {
                await using var scope = scopes.CreateAsyncScope();
                await step(scope.ServiceProvider.GetRequiredService<ServerLifecycleWorkflow>(), ct);
            }
            catch (NoValidHostException e)
            {
                await GiveUpAsync(giveUp, e.Message, ct); // Nova does not retry NoValidHost either
            }
            catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
            {
                var attempt = context?.GetJobParameter<int>("RetryCount") ?? MigrationJobs.Retries;
                if (attempt < MigrationJobs.Retries)
                {
                    LogStepFailed(logger, serverId, attempt + 1, e.Message);
                    throw;
                }

                await GiveUpAsync(giveUp, MigrationJobs.Describe(e, "The server operation"), ct);
            }
        }
    }

    private async Task GiveUpAsync(Func<ServerLifecycleWorkflow, string, CancellationToken, Task> giveUp, string reason, CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        await giveUp(scope.ServiceProvider.GetRequiredService<ServerLifecycleWorkflow>(), reason, ct);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Server {ServerId}: attempt {Attempt} failed ({Reason}); Hangfire retries it")]
    private static partial void LogStepFailed(ILogger logger, Guid serverId, int attempt, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Server {ServerId}: another worker holds its lock; this delivery steps aside")]
    private static partial void LogSteppedAside(ILogger logger, Guid serverId);
}
