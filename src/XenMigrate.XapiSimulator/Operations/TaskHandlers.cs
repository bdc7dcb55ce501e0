using System.Text.Json.Nodes;
using XenMigrate.XapiSimulator.Rpc;

namespace XenMigrate.XapiSimulator.Operations;

/// <summary>task.create / cancel / destroy; the getters and setters are the generic ones.</summary>
internal static class TaskHandlers
{
    public static void Register(HandlerRegistry registry)
    {
        registry.Add("task.create", call =>
        {
            lock (call.Db.Sync) return ValueTask.FromResult<JsonNode?>(call.Host.Tasks.Create(call.String(1), call.String(2), call.Session, call.Host.HostRef).Ref);
        });
        registry.Add("task.cancel", call =>
        {
            lock (call.Db.Sync) call.Host.Tasks.Cancel(call.Db.Require("task", call.Ref(1)));
            return ValueTask.FromResult<JsonNode?>(null);
        });
        registry.Add("task.destroy", call =>
        {
            lock (call.Db.Sync)
            {
                call.Host.Tasks.Destroy(call.Db.Require("task", call.Ref(1)));
            }

            return ValueTask.FromResult<JsonNode?>(null);
        });
    }
}
