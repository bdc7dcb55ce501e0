using Microsoft.EntityFrameworkCore;
using XenMigrate.Domain.InstanceActions;
using XenMigrate.Domain.Servers;
using XenMigrate.Infrastructure.Notifications;
using XenMigrate.Infrastructure.Persistence;

namespace XenMigrate.Infrastructure.Compute.Common;

/// <summary>
/// What every workflow step records, in one place: Nova's EventReporter (an instance-action event
/// opened and closed with its result) together with notify_about_instance_action (the versioned
/// ".start", ".end" or ".error" notification). Both are added to the step's context, so they commit,
/// or not, with the transition they describe. Opening a step a re-run already opened resumes it.
/// </summary>
public sealed class StepJournal(XenMigrateDbContext db, TimeProvider time)
{
    /// <summary>The journal of one request against a server (the action may be gone: a purged row records nothing, notifies still).</summary>
    public async Task<ActionJournal> ForAsync(Server server, string? requestId, CancellationToken ct)
    {
        var action = requestId is null ? null
            : db.InstanceActions.Local.FirstOrDefault(a => a.ServerId == server.Id && a.RequestId == requestId)
              ?? await db.InstanceActions.FirstOrDefaultAsync(a => a.ServerId == server.Id && a.RequestId == requestId, ct);
        return new ActionJournal(db, time, server, requestId, action);
    }

    /// <summary>The journal of the newest request of <paramref name="actionName"/> against a server (a build's or a delete's).</summary>
    public async Task<ActionJournal> ForLatestAsync(Server server, string actionName, CancellationToken ct)
    {
        var requestId = await db.InstanceActions.Where(a => a.ServerId == server.Id && a.Action == actionName).OrderByDescending(a => a.Id)
            .Select(a => a.RequestId).FirstOrDefaultAsync(ct);
        return await ForAsync(server, requestId, ct);
    }
}

/// <summary>The steps of one instance action; see <see cref="StepJournal"/>.</summary>
public sealed class ActionJournal
{
    private readonly XenMigrateDbContext _db;
    private readonly TimeProvider _time;
    private readonly Server _server;
    private readonly InstanceAction? _action;

    internal ActionJournal(XenMigrateDbContext db, TimeProvider time, Server server, string? requestId, InstanceAction? action)
    {
        _db = db;
        _time = time;
        _server = server;
        RequestId = requestId;
        _action = action;
    }

    public string? RequestId { get; }

    /// <summary>The name of the newest step still open, if any.</summary>
    public string? OpenStep => _action?.Events.LastOrDefault(e => e.Result is null)?.EventName;

    private DateTime Now => _time.GetUtcNow().UtcDateTime;

    /// <summary>Opens a step on <paramref name="host"/>; with a notification name, also "{notification}.start".</summary>
    public void Begin(string eventName, string? host, string? notification = null)
    {
        _action?.StartEvent(eventName, host, Now);
        if (notification is not null) Notify(notification + ".start");
    }

    /// <summary>Closes a step as done; with a notification name, also "{notification}.end".</summary>
    public void End(string eventName, string? notification = null)
    {
        if (_action is not null)
        {
            _action.StartEvent(eventName, null, Now); // a step recorded only at its end (a resumed run)
            _action.FinishEvent(eventName, succeeded: true, traceback: null, details: null, Now);
        }

        if (notification is not null) Notify(notification + ".end");
    }

    /// <summary>
    /// Closes a step as failed. One rule for what it shows: the failure's message is both the
    /// traceback and the details (Nova's event_finish_with_failure stores the exception's text as
    /// details, shown from 2.84); the action's message becomes Error.
    /// </summary>
    public void Fail(string eventName, string reason, string? host = null)
    {
        if (_action is null) return;
        _action.StartEvent(eventName, host, Now);
        _action.FinishEvent(eventName, succeeded: false, traceback: reason, details: reason, Now);
    }

    /// <summary>A versioned notification about the server (with its new flavor during a resize, and a fault on ".error").</summary>
    public void Notify(string eventType, ServerFault? fault = null) =>
        NovaNotifications.Add(_db, eventType, _server, RequestId, Now, _server.NewFlavor, fault);
}
