using XenMigrate.Domain.Servers;
using XenMigrate.Infrastructure.Compute.Api;
using XenMigrate.Infrastructure.Persistence;

namespace XenMigrate.Api.Nova.Servers;

/// <summary>
/// The power actions (<c>os-stop</c>, <c>os-start</c>, <c>pause</c>, <c>unpause</c>, <c>suspend</c>,
/// <c>resume</c>): 404, then policy (owner or admin), then lock, host and state (409), then the
/// task_state is committed and the job enqueued before the 202. Their bodies are not read (Nova
/// takes null, {} or anything under the action's key).
/// </summary>
public static partial class ServerActionsApi
{
    private static readonly Dictionary<PowerAction, NovaPolicy.Rule> PowerPolicies = new()
    {
        [PowerAction.Stop] = NovaPolicy.ServersStop,
        [PowerAction.Start] = NovaPolicy.ServersStart,
        [PowerAction.Pause] = NovaPolicy.PauseServer,
        [PowerAction.Unpause] = NovaPolicy.UnpauseServer,
        [PowerAction.Suspend] = NovaPolicy.SuspendServer,
        [PowerAction.Resume] = NovaPolicy.ResumeServer,
    };

    private static async Task<IResult> PowerAsync(string serverId, PowerAction action, NovaCaller caller, XenMigrateDbContext db, CancellationToken ct)
    {
        var server = await ServersApi.FindVisibleAsync(caller, db, serverId, ct, tracked: true);
        caller.Authorize(PowerPolicies[action], server.ProjectId);
        if (action.ChecksHost && !string.IsNullOrEmpty(server.Host)) await EnsureSourceUpAsync(db, server, ct);
        var starter = caller.Http.RequestServices.GetRequiredService<PowerActionStarter>();
        await CommitAsync(db, () => starter.StartAsync(server, action, Of(caller), ct));
        return Results.Accepted();
    }
}
