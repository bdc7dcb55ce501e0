namespace XenMigrate.Infrastructure;

/// <summary>What one gateway process does; several processes share one database (and broker).</summary>
public enum ProcessRole
{
    /// <summary>The embedded default: the Nova API and the worker in one process.</summary>
    All,

    /// <summary>Answers the API and enqueues jobs; runs no jobs and watches no hosts.</summary>
    Api,

    /// <summary>Runs the Hangfire jobs, the host inventory and the notification outbox; serves only health.</summary>
    Worker,
}

/// <summary>Configuration section <c>Gateway</c>.</summary>
public sealed class GatewayRoleOptions
{
    public const string Section = "Gateway";

    public ProcessRole Role { get; set; } = ProcessRole.All;

    public bool ServesApi => Role != ProcessRole.Worker;

    public bool RunsWorker => Role != ProcessRole.Api;
}
