using XenMigrate.Domain.Common;

namespace XenMigrate.Domain.Drains;

/// <summary>
/// An admin's request to empty a XenServer host (user story: evacuate a host with failing
/// hardware): the host is disabled, then every server on it is moved, a few at a time, live where
/// it runs and cold otherwise. Each server is one <see cref="HostDrainItem"/>; together they are
/// the final report of what moved where and what did not.
/// </summary>
public sealed class HostDrain
{
    private readonly List<HostDrainItem> _items = [];

    private HostDrain()
    {
        Host = string.Empty;
        UserId = string.Empty;
        ProjectId = string.Empty;
        RequestId = string.Empty;
    }

    public HostDrain(Guid uuid, string host, string? reason, int maxConcurrent, string userId, string projectId, string requestId, DateTime now)
    {
        if (string.IsNullOrWhiteSpace(host)) throw new InvalidHostDrainException("A drain needs a host.");
        if (maxConcurrent is < MinConcurrent or > MaxConcurrentLimit)
            throw new InvalidHostDrainException($"max_concurrent must be between {MinConcurrent} and {MaxConcurrentLimit}.");
        Uuid = uuid;
        Host = host;
        Reason = reason;
        MaxConcurrent = maxConcurrent;
        UserId = userId;
        ProjectId = projectId;
        RequestId = requestId;
        Status = HostDrainStatus.Running;
        CreatedAt = now;
        UpdatedAt = now;
    }

    public const int MinConcurrent = 1;
    public const int MaxConcurrentLimit = 20;

    public int Id { get; private set; }
    public Guid Uuid { get; private set; }
    public string Host { get; private set; }
    public string? Reason { get; private set; }
    public int MaxConcurrent { get; private set; }
    public HostDrainStatus Status { get; private set; }
    public string UserId { get; private set; }
    public string ProjectId { get; private set; }

    /// <summary>The request id the drain's own migrations are recorded under.</summary>
    public string RequestId { get; private set; }

    public DateTime CreatedAt { get; private set; }
    public DateTime UpdatedAt { get; private set; }
    public DateTime? FinishedAt { get; private set; }

    public IReadOnlyList<HostDrainItem> Items => _items;

    public bool IsFinished => Status is HostDrainStatus.Completed or HostDrainStatus.CompletedWithErrors or HostDrainStatus.Cancelled;

    public HostDrainItem AddServer(Guid serverId, string serverName, DrainMethod method, DateTime now)
    {
        var item = new HostDrainItem(serverId, serverName, method, now);
        _items.Add(item);
        UpdatedAt = now;
        return item;
    }

    /// <summary>How many more moves may start now without exceeding the concurrency limit.</summary>
    public int FreeSlots => Math.Max(0, MaxConcurrent - _items.Count(i => i.IsActive));

    /// <summary>Ends the drain once every server is settled: moved, failed or skipped.</summary>
    public void FinishIfSettled(DateTime now)
    {
        if (Status != HostDrainStatus.Running || _items.Any(i => !i.IsSettled)) return;
        Status = _items.Any(i => i.Status == DrainItemStatus.Failed) ? HostDrainStatus.CompletedWithErrors : HostDrainStatus.Completed;
        FinishedAt = now;
        UpdatedAt = now;
    }

    /// <summary>Stops starting new moves; moves already under way finish and are reported.</summary>
    public void Cancel(DateTime now)
    {
        if (Status != HostDrainStatus.Running) throw new InvalidHostDrainException($"Drain {Uuid} is not running.");
        foreach (var item in _items.Where(i => i.Status == DrainItemStatus.Pending)) item.Skip("the drain was cancelled", now);
        Status = HostDrainStatus.Cancelling;
        UpdatedAt = now;
    }

    /// <summary>A cancelled drain ends once its moves under way have settled.</summary>
    public void FinishCancelIfSettled(DateTime now)
    {
        if (Status != HostDrainStatus.Cancelling || _items.Any(i => !i.IsSettled)) return;
        Status = HostDrainStatus.Cancelled;
        FinishedAt = now;
        UpdatedAt = now;
    }

    public void Touch(DateTime now) => UpdatedAt = now;
}

/// <summary>One server of a drain: how it is being moved and how that went.</summary>
public sealed class HostDrainItem
{
    private HostDrainItem()
    {
        ServerName = string.Empty;
    }

    internal HostDrainItem(Guid serverId, string serverName, DrainMethod method, DateTime now)
    {
        ServerId = serverId;
        ServerName = serverName;
        Method = method;
        Status = DrainItemStatus.Pending;
        UpdatedAt = now;
    }

    public int Id { get; private set; }
    public int HostDrainId { get; private set; }
    public Guid ServerId { get; private set; }
    public string ServerName { get; private set; }

    /// <summary>The method planned at the start; a failed live move falls back to cold.</summary>
    public DrainMethod Method { get; private set; }

    public DrainItemStatus Status { get; private set; }

    /// <summary>The migration moving it now (or last), by Nova uuid.</summary>
    public Guid? MigrationUuid { get; private set; }

    public string? DestinationHost { get; private set; }
    public string? Error { get; private set; }
    public int Attempts { get; private set; }
    public DateTime? StartedAt { get; private set; }
    public DateTime? FinishedAt { get; private set; }
    public DateTime UpdatedAt { get; private set; }

    /// <summary>Holding one of the drain's concurrency slots.</summary>
    public bool IsActive => Status is DrainItemStatus.Moving or DrainItemStatus.Confirming;

    public bool IsSettled => Status is DrainItemStatus.Moved or DrainItemStatus.Failed or DrainItemStatus.Skipped;

    public void Start(DrainMethod method, Guid migrationUuid, DateTime now)
    {
        if (Status is not (DrainItemStatus.Pending or DrainItemStatus.Moving))
            throw new InvalidHostDrainException($"Server {ServerId} cannot start moving from {Status}.");
        Method = method;
        MigrationUuid = migrationUuid;
        Status = DrainItemStatus.Moving;
        Attempts++;
        StartedAt ??= now;
        Error = null;
        UpdatedAt = now;
    }

    public void Confirming(string destinationHost, DateTime now)
    {
        DestinationHost = destinationHost;
        Status = DrainItemStatus.Confirming;
        UpdatedAt = now;
    }

    public void Moved(string destinationHost, DateTime now)
    {
        DestinationHost = destinationHost;
        Settle(DrainItemStatus.Moved, now);
    }

    public void Fail(string error, DateTime now)
    {
        Error = error;
        Settle(DrainItemStatus.Failed, now);
    }

    public void Skip(string why, DateTime now)
    {
        Error = why;
        Settle(DrainItemStatus.Skipped, now);
    }

    private void Settle(DrainItemStatus outcome, DateTime now)
    {
        Status = outcome;
        FinishedAt = now;
        UpdatedAt = now;
    }

    /// <summary>Back to pending after its resize was confirmed onto this very host: it still has to move.</summary>
    public void Requeue(DateTime now)
    {
        Status = DrainItemStatus.Pending;
        MigrationUuid = null;
        UpdatedAt = now;
    }

    /// <summary>Records why it has not started yet (e.g. the server is busy), keeping it pending.</summary>
    public void Wait(string why, DateTime now)
    {
        if (Error == why) return;
        Error = why;
        UpdatedAt = now;
    }
}

public enum HostDrainStatus
{
    Running,
    Completed,
    CompletedWithErrors,
    Cancelling,
    Cancelled,
}

public enum DrainMethod
{
    /// <summary>Running or paused: moved live, without stopping the guest.</summary>
    Live,

    /// <summary>Stopped or suspended (or live refused): cold migration, confirmed by the drain.</summary>
    Cold,

    /// <summary>In VERIFY_RESIZE with its old copy on this host: confirming the resize frees the host.</summary>
    Confirm,
}

public enum DrainItemStatus
{
    Pending,
    Moving,
    Confirming,
    Moved,
    Failed,
    Skipped,
}

public sealed class InvalidHostDrainException(string message) : DomainException(message);
