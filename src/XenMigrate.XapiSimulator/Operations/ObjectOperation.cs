using System.Text.Json.Nodes;
using XenMigrate.XapiSimulator.Model;
using XenMigrate.XapiSimulator.Rpc;

namespace XenMigrate.XapiSimulator.Operations;

/// <summary>
/// Runs an operation on an object as xapi does: check it is allowed, record it in the object's
/// <c>current_operations</c> under the call's task (so a concurrent call meets
/// OTHER_OPERATION_IN_PROGRESS), take the operation's time, apply the change, then release.
/// </summary>
internal static class ObjectOperation
{
    private static readonly TimeSpan CancelPoll = TimeSpan.FromMilliseconds(10);

    public static async ValueTask<JsonNode?> RunAsync(
        XapiCall call,
        string className,
        string objectRef,
        string operation,
        Action<XapiObject> assertAllowed,
        Func<XapiObject, JsonNode?> apply,
        TimeSpan duration = default)
    {
        var db = call.Db;
        var task = call.OperationTask;
        List<string> cancel;
        lock (db.Sync)
        {
            var obj = db.Require(className, objectRef);
            assertAllowed(obj);
            // xapi_vdi.ml check_operation_error: a copy admits others, but not a snapshot.
            if (className == "VDI" && operation == "snapshot" && obj.GetStringMap("current_operations").Values.Contains("copy", StringComparer.Ordinal))
                throw new XapiException(XapiErrors.OperationNotAllowed, "Snapshot operation not allowed during copy.");
            obj.SetMapEntry("current_operations", task, operation);
            AfterChange(call.Host, obj);
            cancel = className == "VM"
                ? obj.GetStringMap("current_operations").Where(p => p.Key != task && VmLifecycle.CancelledBy(operation).Contains(p.Value)).Select(p => p.Key).ToList()
                : [];
        }

        // A synchronous call's task can be cancelled too (its work then ends with TASK_CANCELLED).
        using var cancellation = CancellationTokenSource.CreateLinkedTokenSource(call.Cancellation);
        using var attached = call.AsyncTask is null ? call.Host.Tasks.Attach(task, cancellation) : null;
        try
        {
            if (cancel.Count > 0) await CancelAndWaitAsync(call, className, objectRef, cancel, cancellation.Token);
            await call.SimulateWorkUntilAsync(duration, cancellation.Token);
            lock (db.Sync) return apply(db.Require(className, objectRef));
        }
        catch (OperationCanceledException) when (call.AsyncTask is null && cancellation.IsCancellationRequested && !call.Cancellation.IsCancellationRequested)
        {
            throw new XapiException(XapiErrors.TaskCancelled, task);
        }
        finally
        {
            lock (db.Sync)
            {
                if (db.Find(className, objectRef) is { } obj)
                {
                    obj.RemoveMapEntry("current_operations", task);
                    AfterChange(call.Host, obj);
                }
            }
        }
    }

    /// <summary>
    /// message_forwarding.ml cancel (VM.hard_shutdown / hard_reboot): task.cancel on each running
    /// operation it overrides, then wait_for_tasks until they have left the VM.
    /// </summary>
    private static async Task CancelAndWaitAsync(XapiCall call, string className, string objectRef, List<string> tasks, CancellationToken cancellation)
    {
        lock (call.Db.Sync)
        {
            foreach (var taskRef in tasks)
                if (call.Db.Find("task", taskRef) is { } running) call.Host.Tasks.Cancel(running);
        }

        while (true)
        {
            lock (call.Db.Sync)
            {
                var current = call.Db.Find(className, objectRef)?.GetStringMap("current_operations");
                if (current is null || !tasks.Any(current.ContainsKey)) return;
            }

            await Task.Delay(CancelPoll, call.Host.Clock, cancellation);
        }
    }

    private static void AfterChange(HostRuntime host, XapiObject obj)
    {
        if (obj.ClassName == "VM") VmLifecycle.UpdateAllowedOperations(host, obj);
    }
}
