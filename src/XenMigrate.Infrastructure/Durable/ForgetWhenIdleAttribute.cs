using Hangfire.Common;
using Hangfire.States;
using Hangfire.Storage;

namespace XenMigrate.Infrastructure.Durable;

/// <summary>
/// A recurring run that found nothing to do (it returned 0) ends in <see cref="IdleState"/>
/// instead of Succeeded, so it is in no dashboard list — one row per tick would bury the steps
/// that did something — and expires within a minute. The recurring job's page still shows its
/// last run; a run that did something stays in Succeeded as any job does.
/// </summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class ForgetWhenIdleAttribute : JobFilterAttribute, IElectStateFilter, IApplyStateFilter
{
    private static readonly TimeSpan Keep = TimeSpan.FromMinutes(1);

    public void OnStateElection(ElectStateContext context)
    {
        if (context.CandidateState is SucceededState { Result: var result } && IsNothing(result))
            context.CandidateState = new IdleState();
    }

    // Filters run before Hangfire expires a job in a final state, so the shorter keep applies.
    public void OnStateApplied(ApplyStateContext context, IWriteOnlyTransaction transaction)
    {
        if (context.NewState is IdleState) context.JobExpirationTimeout = Keep;
    }

    public void OnStateUnapplied(ApplyStateContext context, IWriteOnlyTransaction transaction)
    {
    }

    private static bool IsNothing(object? result) => result is null or 0 or 0L;

    /// <summary>A final state with no handler: listed nowhere, counted nowhere.</summary>
    public sealed class IdleState : IState
    {
        public string Name => "Idle";
        public string Reason => "Nothing to do";
        public bool IsFinal => true;
        public bool IgnoreJobLoadException => false;
        public Dictionary<string, string> SerializeData() => [];
    }
}
