using Hangfire;
using Microsoft.Extensions.DependencyInjection;

namespace XenMigrate.Infrastructure.Durable;

/// <summary>
/// The base of every class of durable jobs. Hangfire's retry policy is written here once: Hangfire
/// reads job filters from the job's class and its bases. A job's last failed attempt gives up with a
/// reason instead of failing (see <see cref="DurableJob.RunAsync"/>), so nothing is left Failed.
/// </summary>
[AutomaticRetry(Attempts = DurableJob.Retries, DelaysInSeconds = [1, 3, 5], OnAttemptsExceeded = AttemptsExceededAction.Delete)]
public abstract class DurableJobs(IServiceScopeFactory scopes)
{
    protected IServiceScopeFactory Scopes { get; } = scopes;

    /// <summary>Runs <paramref name="work"/> on a workflow of its own scope (its own DbContext, as every attempt needs).</summary>
    protected async Task InScopeAsync<TWorkflow>(Func<TWorkflow, Task> work) where TWorkflow : notnull
    {
        await using var scope = Scopes.CreateAsyncScope();
        await work(scope.ServiceProvider.GetRequiredService<TWorkflow>());
    }
}
