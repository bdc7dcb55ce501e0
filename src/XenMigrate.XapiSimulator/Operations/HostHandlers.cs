using System.Text.Json.Nodes;
using XenMigrate.XapiSimulator.Rpc;

namespace XenMigrate.XapiSimulator.Operations;

/// <summary>Host calls with behaviour: free memory and the host's clock.</summary>
internal static class HostHandlers
{
    public static void Register(HandlerRegistry registry)
    {
        registry.Add("host.compute_free_memory", call =>
        {
            lock (call.Db.Sync)
            {
                var member = call.Host.Pool.Member(call.Db.Require("host", call.Ref(1)).Ref)!;
                return ValueTask.FromResult<JsonNode?>(member.FreeMemory());
            }
        });
        registry.Add("host.get_servertime", call =>
        {
            lock (call.Db.Sync) call.Db.Require("host", call.Ref(1));
            return ValueTask.FromResult<JsonNode?>(call.Host.Now());
        });
    }
}
