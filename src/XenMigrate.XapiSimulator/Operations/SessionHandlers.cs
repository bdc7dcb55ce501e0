using System.Text.Json.Nodes;
using XenMigrate.XapiSimulator.Model;
using XenMigrate.XapiSimulator.Rpc;

namespace XenMigrate.XapiSimulator.Operations;

/// <summary>Logins (the host's local superuser only) and logouts.</summary>
internal static class SessionHandlers
{
    /// <summary>xapi keeps at most this many sessions per originator and destroys the oldest beyond.</summary>
    private const int MaxSessionsPerOriginator = 500;

    public static void Register(HandlerRegistry registry)
    {
        registry.Add("session.login_with_password", Login);
        registry.Add("session.slave_local_login_with_password", SlaveLocalLogin);
        registry.Add("session.logout", Logout);
    }

    /// <summary>
    /// A member that is not the master refuses logins with the master's address (xapi_session.ml:
    /// HOST_IS_SLAVE [master address]), before it looks at the credentials.
    /// </summary>
    private static ValueTask<JsonNode?> Login(XapiCall call)
    {
        lock (call.Db.Sync)
        {
            if (!call.Host.IsMaster) throw new XapiException(XapiErrors.HostIsSlave, call.Host.Pool.Master.Address);
        }

        return NewSession(call, call.String(0), call.String(1), call.String(3));
    }

    /// <summary>The emergency login every member accepts (the local superuser, this host only).</summary>
    private static ValueTask<JsonNode?> SlaveLocalLogin(XapiCall call) => NewSession(call, call.String(0), call.String(1), "slave_local_login");

    private static async ValueTask<JsonNode?> NewSession(XapiCall call, string user, string password, string originator)
    {
        var options = call.Host.Options;
        // xapi_session.ml do_local_auth: the check runs under the host's auth semaphore and takes its time.
        using (await call.Host.AuthThrottle.EnterAsync(() => LocalAuthMaxThreads(call), call.Cancellation))
        {
            if (options.LoginLatency > TimeSpan.Zero) await Task.Delay(options.LoginLatency, call.Host.Clock, call.Cancellation);
            if (!string.Equals(user, options.Username, StringComparison.Ordinal) || !string.Equals(password, options.Password, StringComparison.Ordinal))
                throw new XapiException(XapiErrors.SessionAuthenticationFailed, user, "Authentication failure");
        }

        lock (call.Db.Sync)
        {
            var same = call.Db.All("session").Where(s => s.GetString("originator") == originator).OrderBy(s => s.CreatedGeneration).ToList();
            foreach (var oldest in same.Take(Math.Max(0, same.Count - MaxSessionsPerOriginator + 1))) call.Db.Destroy(oldest);
            var now = call.Host.Now();
            var session = call.Db.Create("session", new Dictionary<string, JsonNode?>
            {
                ["this_host"] = call.Host.HostRef,
                ["this_user"] = XapiType.NullRef,
                ["last_active"] = now,
                ["validation_time"] = now,
                ["pool"] = false,
                ["is_local_superuser"] = true,
                ["auth_user_name"] = user,
                ["originator"] = originator,
                ["tasks"] = new JsonArray(),
                ["rbac_permissions"] = new JsonArray(),
            });
            return session.Ref;
        }
    }

    /// <summary>The pool's local_auth_max_threads (SimulatedHostOptions.LoginConcurrency overrides it).</summary>
    private static int LocalAuthMaxThreads(XapiCall call)
    {
        if (call.Host.Options.LoginConcurrency is { } fixedLimit) return fixedLimit;
        lock (call.Db.Sync) return (int)Math.Clamp(call.Db.Find("pool", call.Host.PoolRef)?.GetLong("local_auth_max_threads") ?? 8, 1, int.MaxValue);
    }

    private static ValueTask<JsonNode?> Logout(XapiCall call)
    {
        lock (call.Db.Sync)
        {
            if (call.Db.Find("session", call.Ref(0)) is { } session) call.Db.Destroy(session);
            return ValueTask.FromResult<JsonNode?>(null);
        }
    }
}
