using Hangfire.Server;
using Microsoft.Extensions.Logging;
using XenMigrate.Domain.Hosts;
using XenMigrate.Infrastructure.Compute.Resize;

namespace XenMigrate.Infrastructure.Durable;

/// <summary>
/// One delivery of a durable Hangfire job — a migration step, a live migration, a server's build or
/// delete, a power action — all of which run the same way: under a worker lock of their own (a
/// duplicate delivery finds it held and steps aside), retried by Hangfire, and given up with a
/// reason a user may read once the last retry fails (or at once when no host fits: Nova does not
/// retry NoValidHost either).
/// </summary>
public static partial class DurableJob
{
    /// <summary>Retries after the first attempt; the job gives up when the last one fails.</summary>
    public const int Retries = 3;

    /// <summary>How long a delivery waits for a lock another worker holds before it steps aside.</summary>
    private static readonly TimeSpan LockWait = TimeSpan.FromSeconds(5);

    /// <summary>How a delivery ended (a failure before the last attempt is rethrown for Hangfire to retry instead).</summary>
    public enum Outcome
    {
        Done,

        /// <summary>Another worker holds the lock: it finishes the work; if it dies, its lock dies with it and the reconciler resumes.</summary>
        SteppedAside,

        GaveUp,
    }

    /// <summary>Runs the attempt under the lock; see <see cref="Outcome"/>.</summary>
    /// <param name="job">Names the job in logs, e.g. "Migration 12".</param>
    /// <param name="what">Names the work in a user's fault, e.g. "The migration" (see <see cref="Describe"/>).</param>
    public static async Task<Outcome> RunAsync(WorkerLocks locks, LockResource resource, PerformContext? context, ILogger logger,
        string job, string what, Func<CancellationToken, Task> attempt, Func<string, CancellationToken, Task> giveUp)
    {
        var ct = context?.CancellationToken.ShutdownToken ?? CancellationToken.None;
        var held = await locks.TryAcquireAsync(resource, LockWait, ct);
        if (held is null)
        {
            LogSteppedAside(logger, job);
            return Outcome.SteppedAside;
        }

        await using (held)
        {
            try
            {
                await attempt(ct);
                return Outcome.Done;
            }
            catch (NoValidHostException e)
            {
                await giveUp(e.Message, ct);
                return Outcome.GaveUp;
            }
            catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
            {
                var retried = context?.GetJobParameter<int>("RetryCount") ?? Retries;
                if (retried < Retries)
                {
                    LogAttemptFailed(logger, job, retried + 1, e.Message);
                    throw;
                }

                await giveUp(Describe(e, what), ct);
                return Outcome.GaveUp;
            }
        }
    }

    /// <summary>What a user may read in the server's fault: the XAPI error code, not a stack trace.</summary>
    public static string Describe(Exception e, string what) => e switch
    {
        Xapi.XapiException x => $"XenServer refused {x.Method}: {x.Code}",
        Xapi.XapiTransportException t => $"A XenServer host stopped answering ({t.Host}).",
        TimeoutException => "A XenServer operation timed out.",
        _ => $"{what} failed: " + e.Message,
    };

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Job}: attempt {Attempt} failed ({Reason}); Hangfire retries it")]
    private static partial void LogAttemptFailed(ILogger logger, string job, int attempt, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "{Job}: another worker holds its lock; this delivery steps aside")]
    private static partial void LogSteppedAside(ILogger logger, string job);
}
