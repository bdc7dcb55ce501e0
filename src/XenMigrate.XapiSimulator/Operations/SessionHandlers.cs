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
        registry.Add("session.logout", Logout);
    }

    private static ValueTask<JsonNode?> Login(XapiCall call)
    {
        var user = call.String(0);
        var password = call.String(1);
        var originator = call.String(3);
        var options = call.Host.Options;
        if (!string.Equals(user, options.Username, StringComparison.Ordinal) || !string.Equals(password, options.Password, StringComparison.Ordinal))
            throw new XapiException(XapiErrors.SessionAuthenticationFailed, user, "Authentication failure");
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
            return ValueTask.FromResult<JsonNode?>(session.Ref);
        }
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
