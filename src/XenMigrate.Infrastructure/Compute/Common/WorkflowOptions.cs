
namespace XenMigrate.Infrastructure.Compute.Common;

/// <summary>Configuration section <c>Workflow</c>: how migrations are carried out.</summary>
public sealed class WorkflowOptions
{
    public const string Section = "Workflow";

    /// <summary>Nova's allow_resize_to_same_host: may the scheduler pick the server's own host?</summary>
    public bool AllowResizeToSameHost { get; set; }

    /// <summary>How long a clean shutdown may take before the VM is powered off hard.</summary>
    public TimeSpan CleanShutdownTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>Bound on one disk copy (a large disk over a slow link needs a large one).</summary>
    public TimeSpan TransferTimeout { get; set; } = TimeSpan.FromHours(12);

    /// <summary>Bound on one XAPI async operation (snapshot, start, destroy…).</summary>
    public TimeSpan OperationTimeout { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>
    /// A migration in a working status that no worker holds and whose rows have not changed for
    /// this long gets its step enqueued again (a killed process, a lost enqueue).
    /// </summary>
    public TimeSpan ReconcileAfter { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How often the reconciler looks (under a minute: a seconds cron).</summary>
    public TimeSpan ReconcileEvery { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>
    /// How long a job fetched by a worker stays invisible to the others. PostgreSQL and SQL Server
    /// slide it with a heartbeat while the job runs, so a dead worker's job is taken over after
    /// this long. SQLite's storage cannot slide: it uses <see cref="TransferTimeout"/> (the longest
    /// a step may run) and leaves a killed process's step to the reconciler.
    /// </summary>
    public TimeSpan InvisibilityTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How often workers look for new jobs (Hangfire's default, seconds, would dominate a resize).</summary>
    /// <summary>
    /// Nova's resize_confirm_window: how long a finished resize or cold migration may wait in
    /// VERIFY_RESIZE before the gateway confirms it. Zero (the default) never confirms on its own.
    /// </summary>
    public TimeSpan ResizeConfirmWindow { get; set; } = TimeSpan.Zero;

    public TimeSpan QueuePollInterval { get; set; } = TimeSpan.FromMilliseconds(100);

    public int WorkerCount { get; set; } = 8;
}
