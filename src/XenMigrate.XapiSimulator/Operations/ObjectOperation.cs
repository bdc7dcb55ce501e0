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
        lock (db.Sync)
        {
            var obj = db.Require(className, objectRef);
            assertAllowed(obj);
            obj.SetMapEntry("current_operations", task, operation);
            AfterChange(call.Host, obj);
        }

        try
        {
            await call.SimulateWorkAsync(duration);
            lock (db.Sync) return apply(db.Require(className, objectRef));
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

    private static void AfterChange(HostRuntime host, XapiObject obj)
    {
        if (obj.ClassName == "VM") VmLifecycle.UpdateAllowedOperations(host, obj);
    }
}
