using XenMigrate.Domain.Common;

namespace XenMigrate.Domain.InstanceActions;

/// <summary>
/// Nova's instance action: one user request against a server (keyed by the request id the API
/// returned) and the events the services recorded while carrying it out.
/// </summary>
public sealed class InstanceAction
{
    public const string ResultSuccess = "Success";
    public const string ResultError = "Error";

    private readonly List<InstanceActionEvent> _events = [];

    private InstanceAction()
    {
        Action = string.Empty;
        RequestId = string.Empty;
        UserId = string.Empty;
        ProjectId = string.Empty;
    }

    public InstanceAction(Guid serverId, string action, string requestId, string userId, string projectId, DateTime now)
    {
        if (string.IsNullOrWhiteSpace(requestId)) throw new InvalidInstanceActionException("An action needs a request id.");
        ServerId = serverId;
        Action = action;
        RequestId = requestId;
        UserId = userId;
        ProjectId = projectId;
        StartTime = now;
        UpdatedAt = now;
    }

    public int Id { get; private set; }
    public Guid ServerId { get; private set; }

    /// <summary>Nova's action name: resize, migrate, confirmResize, revertResize, live-migration…</summary>
    public string Action { get; private set; }

    public string RequestId { get; private set; }
    public string UserId { get; private set; }
    public string ProjectId { get; private set; }
    public DateTime StartTime { get; private set; }
    public DateTime UpdatedAt { get; private set; }

    /// <summary>Null, or "Error" once any event failed (as Nova reports it).</summary>
    public string? Message { get; private set; }

    public IReadOnlyList<InstanceActionEvent> Events => _events;

    public InstanceActionEvent StartEvent(string eventName, string? host, DateTime now)
    {
        var existing = _events.FirstOrDefault(e => e.EventName == eventName);
        if (existing is not null) return existing; // a re-run step resumes its event instead of adding a twin
        var started = new InstanceActionEvent(eventName, host, now);
        _events.Add(started);
        UpdatedAt = now;
        return started;
    }

    public void FinishEvent(string eventName, bool succeeded, string? traceback, string? details, DateTime now)
    {
        var evt = _events.FirstOrDefault(e => e.EventName == eventName)
                  ?? throw new InvalidInstanceActionException($"Event '{eventName}' was never started.");
        evt.Finish(succeeded ? ResultSuccess : ResultError, traceback, details, now);
        if (!succeeded) Message = ResultError;
        UpdatedAt = now;
    }
}

public sealed class InstanceActionEvent
{
    private InstanceActionEvent()
    {
        EventName = string.Empty;
    }

    internal InstanceActionEvent(string eventName, string? host, DateTime now)
    {
        EventName = eventName;
        Host = host;
        StartTime = now;
    }

    public int Id { get; private set; }
    public string EventName { get; private set; }
    public string? Host { get; private set; }
    public DateTime StartTime { get; private set; }
    public DateTime? FinishTime { get; private set; }

    /// <summary>Null while running, then Success or Error.</summary>
    public string? Result { get; private set; }

    public string? Traceback { get; private set; }
    public string? Details { get; private set; }

    internal void Finish(string result, string? traceback, string? details, DateTime now)
    {
        Result = result;
        Traceback = traceback;
        Details = details;
        FinishTime = now;
    }
}

public sealed class InvalidInstanceActionException(string message) : DomainException(message);
