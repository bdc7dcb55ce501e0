using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;

namespace XenMigrate.Bench.Support;

/// <summary>The gateway as an OpenStack client sees it: a token and the Nova calls the benchmarks make.</summary>
internal sealed class NovaClient : IDisposable
{
    public const string AdminName = "admin";
    public const string AdminPassword = "bench-admin-pw";

    private NovaClient(HttpClient http, string token)
    {
        Http = http;
        Token = token;
    }

    public HttpClient Http { get; }

    public string Token { get; }

    /// <summary>The configuration arguments that give the gateway the one admin user the benchmarks log in as.</summary>
    public static IEnumerable<string> UserArgs() =>
    [
        $"--Identity:Users:0:Name={AdminName}", $"--Identity:Users:0:Password={AdminPassword}",
        "--Identity:Users:0:Roles:0:Project=admin", "--Identity:Users:0:Roles:0:Role=admin",
    ];

    public static async Task<NovaClient> LoginAsync(string baseUrl)
    {
        var http = new HttpClient { BaseAddress = new Uri(baseUrl), Timeout = TimeSpan.FromMinutes(2) };
        var body = new JsonObject
        {
            ["auth"] = new JsonObject
            {
                ["identity"] = new JsonObject
                {
                    ["methods"] = new JsonArray("password"),
                    ["password"] = new JsonObject { ["user"] = new JsonObject { ["name"] = AdminName, ["domain"] = new JsonObject { ["name"] = "Default" }, ["password"] = AdminPassword } },
                },
                ["scope"] = new JsonObject { ["project"] = new JsonObject { ["name"] = "admin", ["domain"] = new JsonObject { ["name"] = "Default" } } },
            },
        };
        using var response = await http.PostAsJsonAsync("/identity/v3/auth/tokens", body);
        response.EnsureSuccessStatusCode();
        return new NovaClient(http, response.Headers.GetValues("X-Subject-Token").Single());
    }

    public async Task<JsonNode> GetAsync(string path)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Add("X-Auth-Token", Token);
        using var response = await Http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        if (!response.IsSuccessStatusCode) throw new InvalidOperationException($"GET {path}: {(int)response.StatusCode} {text}");
        return JsonNode.Parse(text)!;
    }

    /// <summary>Posts a server action; returns its request id (the instance action's key).</summary>
    public async Task<string> ActionAsync(string id, string body)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/v2.1/servers/{id}/action") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.Add("X-Auth-Token", Token);
        using var response = await Http.SendAsync(request);
        if (!response.IsSuccessStatusCode) throw new InvalidOperationException($"{body}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        return response.Headers.GetValues("x-openstack-request-id").First();
    }

    /// <summary>GET with a microversion.</summary>
    public async Task<JsonNode> GetAsync(string path, string microversion)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Add("X-Auth-Token", Token);
        request.Headers.Add("OpenStack-API-Version", $"compute {microversion}");
        using var response = await Http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        if (!response.IsSuccessStatusCode) throw new InvalidOperationException($"GET {path}: {(int)response.StatusCode} {text}");
        return JsonNode.Parse(text)!;
    }

    /// <summary>Ids of the ACTIVE servers with these names, once the inventory has imported all of them.</summary>
    public async Task<Dictionary<string, string>> WaitForServersAsync(IReadOnlyCollection<string> names, TimeSpan within)
    {
        var deadline = DateTime.UtcNow + within;
        var wanted = names.ToHashSet(StringComparer.Ordinal);
        while (true)
        {
            var found = new Dictionary<string, string>(StringComparer.Ordinal);
            string? marker = null;
            while (true)
            {
                var page = (await GetAsync($"/v2.1/servers/detail?all_tenants=1&limit=1000{(marker is null ? "" : $"&marker={marker}")}"))["servers"]!.AsArray();
                foreach (var s in page)
                {
                    var name = s!["name"]!.GetValue<string>();
                    if (wanted.Contains(name) && s["status"]!.GetValue<string>() == "ACTIVE") found[name] = s["id"]!.GetValue<string>();
                }

                if (page.Count < 1000) break;
                marker = page[^1]!["id"]!.GetValue<string>();
            }

            if (found.Count == wanted.Count) return found;
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"{found.Count} of {wanted.Count} servers showed up.");
            await Task.Delay(100);
        }
    }

    public async Task<string> WaitForServerAsync(string name) => (await WaitForServersAsync([name], TimeSpan.FromMinutes(2)))[name];

    public async Task<JsonNode> ServerAsync(string id) => (await GetAsync($"/v2.1/servers/{id}"))["server"]!;

    public async Task<string> HostOfAsync(string id) => (await ServerAsync(id))["OS-EXT-SRV-ATTR:host"]!.GetValue<string>();

    public static string Status(JsonNode server) => server["status"]!.GetValue<string>();

    /// <summary>Polls the server every <paramref name="every"/> until the condition holds; a server in ERROR ends the wait.</summary>
    public async Task WaitForAsync(string id, Func<JsonNode, bool> condition, TimeSpan? every = null, TimeSpan? within = null)
    {
        var deadline = DateTime.UtcNow + (within ?? TimeSpan.FromMinutes(10));
        while (true)
        {
            var server = await ServerAsync(id);
            if (condition(server)) return;
            if (Status(server) == "ERROR") throw new InvalidOperationException($"Server {id} went to ERROR: {server["fault"]?.ToJsonString()}");
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"Server {id} stayed {Status(server)}.");
            await Task.Delay(every ?? TimeSpan.FromMilliseconds(50));
        }
    }

    public Task WaitForStatusAsync(string id, string status, TimeSpan? every = null, TimeSpan? within = null) =>
        WaitForAsync(id, s => Status(s) == status, every, within);

    public void Dispose() => Http.Dispose();
}
