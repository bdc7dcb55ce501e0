using System.Text.Json.Nodes;
using XenMigrate.XapiSimulator.Model;
using XenMigrate.XapiSimulator.Rpc;

namespace XenMigrate.XapiSimulator.Operations;

/// <summary>
/// The master role: pool.designate_new_master (an orderly hand-over) and
/// pool.emergency_transition_to_master (a member takes over when the master is gone; xapi takes
/// it on a session from session.slave_local_login_with_password).
/// </summary>
internal static class PoolHandlers
{
    public static void Register(HandlerRegistry registry)
    {
        registry.Add("pool.designate_new_master", call =>
        {
            lock (call.Db.Sync)
            {
                var target = call.Host.Pool.Member(call.Db.Require("host", call.Ref(1)).Ref)
                             ?? throw new XapiException(XapiErrors.HandleInvalid, "host", call.Ref(1));
                MakeMaster(call.Host.Pool, target);
            }

            return ValueTask.FromResult<JsonNode?>(null);
        });
        registry.Add("pool.emergency_transition_to_master", call =>
        {
            lock (call.Db.Sync) MakeMaster(call.Host.Pool, call.Host);
            return ValueTask.FromResult<JsonNode?>(null);
        });
    }

    /// <summary>Names <paramref name="member"/> master in the pool record. Call under the database lock.</summary>
    public static void MakeMaster(PoolRuntime pool, HostRuntime member)
    {
        var record = pool.Database.Require("pool", pool.PoolRef);
        if (record.GetString("master") != member.HostRef) record.Set("master", member.HostRef);
    }
}
