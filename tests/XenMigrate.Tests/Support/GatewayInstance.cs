using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using XenMigrate.Api.Hosting;
using XenMigrate.Domain.Flavors;
using XenMigrate.Domain.Servers;
using XenMigrate.Infrastructure.Persistence;

namespace XenMigrate.Tests.Support;

/// <summary>
/// A real gateway on a free loopback port (real Kestrel, real HTTP) over a given database, with
/// the test users seeded. Several instances may share one database, like several processes.
/// </summary>
public sealed class GatewayInstance : GatewayEndpoint, IAsyncDisposable
{
    private readonly WebApplication _app;

    private GatewayInstance(WebApplication app, string baseUrl) : base(baseUrl)
    {
        _app = app;
    }

    public IServiceProvider Services => _app.Services;

    public static async Task<GatewayInstance> StartAsync(TestDatabase database, IEnumerable<string>? extraArgs = null,
        Action<IServiceCollection>? configureServices = null)
    {
        var baseUrl = $"http://127.0.0.1:{FreePort()}";
        var args = CommonArgs(database, baseUrl).Concat(["--Logging:LogLevel:Default=Warning"]).ToList();
        if (extraArgs is not null) args.AddRange(extraArgs);

        var app = await Gateway.BuildAsync(args.ToArray(), configureServices);
        await app.StartAsync();
        return new GatewayInstance(app, baseUrl);
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    /// <summary>The project id the gateway gave a project name.</summary>
    public async Task<string> ProjectIdAsync(string projectName)
    {
        await using var scope = Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<XenMigrateDbContext>();
        return (await db.Projects.SingleAsync(p => p.Name == projectName)).Id;
    }

    /// <summary>Puts a server straight into the database (the XenServer inventory arrives in a later issue).</summary>
    public async Task<Server> AddServerAsync(string name, TestUsers.Account owner, string flavorId = "1", string? host = "xs-sim-1",
        VmState vmState = VmState.Active, PowerState powerState = PowerState.Running, DateTime? createdAt = null)
    {
        await using var scope = Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<XenMigrateDbContext>();
        var project = await db.Projects.SingleAsync(p => p.Name == owner.Project);
        var user = await db.Users.SingleAsync(u => u.Name == owner.Name);
        var flavor = await db.Flavors.SingleAsync(f => f.FlavorId == flavorId);
        var server = new Server(Guid.NewGuid(), name, project.Id, user.Id, flavor.Snapshot(), host, host, vmState, powerState,
            createdAt ?? DateTime.UtcNow);
        db.Servers.Add(server);
        await db.SaveChangesAsync();
        return server;
    }

    public async Task<Flavor> FlavorAsync(string flavorId)
    {
        await using var scope = Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<XenMigrateDbContext>();
        return await db.Flavors.AsNoTracking().SingleAsync(f => f.FlavorId == flavorId);
    }
}

/// <summary>A gateway's HTTP face, in-process or a separate process: Keystone login and Nova requests.</summary>
public abstract class GatewayEndpoint
{
    protected GatewayEndpoint(string baseUrl)
    {
        BaseUrl = baseUrl;
        Http = new HttpClient { BaseAddress = new Uri(baseUrl) };
    }

    public string BaseUrl { get; }
    public HttpClient Http { get; }

    /// <summary>The arguments every test gateway gets: its URL, database, test users and no embedded lab.</summary>
    public static IEnumerable<string> CommonArgs(TestDatabase database, string baseUrl) =>
        new[]
        {
            $"--urls={baseUrl}",
            $"--contentRoot={Path.GetTempPath()}",
            $"--Database:Provider={database.ProviderName}",
            $"--Database:ConnectionString={database.ConnectionString}",
            "--Database:MigrateOnStartup=true",
            "--Identity:TokenSigningKey=",
            "--XenServer:EmbeddedLab=false", // API tests seed servers directly; lab tests opt in
        }.Concat(TestUsers.AsConfigurationArgs());

    /// <summary>Logs in through the Keystone API, as a client would, and returns the token.</summary>
    public async Task<string> TokenAsync(TestUsers.Account account)
    {
        using var response = await Http.PostAsync("/identity/v3/auth/tokens", Json(AuthBody(account.Name, account.Password, account.Project)));
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Created), await response.Content.ReadAsStringAsync());
        return response.Headers.GetValues("X-Subject-Token").Single();
    }

    public static JsonObject AuthBody(string user, string password, string project) => new()
    {
        ["auth"] = new JsonObject
        {
            ["identity"] = new JsonObject
            {
                ["methods"] = new JsonArray("password"),
                ["password"] = new JsonObject
                {
                    ["user"] = new JsonObject { ["name"] = user, ["domain"] = new JsonObject { ["name"] = "Default" }, ["password"] = password },
                },
            },
            ["scope"] = new JsonObject
            {
                ["project"] = new JsonObject { ["name"] = project, ["domain"] = new JsonObject { ["name"] = "Default" } },
            },
        },
    };

    public static StringContent Json(JsonNode body) => new(body.ToJsonString(), Encoding.UTF8, "application/json");

    /// <summary>GET with a token and (optionally) a microversion; returns status, headers and parsed JSON.</summary>
    public async Task<ApiResponse> GetAsync(string path, string? token, string? microversion = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (token is not null) request.Headers.Add("X-Auth-Token", token);
        if (microversion is not null) request.Headers.Add("OpenStack-API-Version", "compute " + microversion);
        return await SendAsync(request);
    }

    /// <summary>POST /v2.1/servers/{id}/action with a JSON body, a token and (optionally) a microversion.</summary>
    public Task<ApiResponse> ActionAsync(string serverId, string token, string body, string? microversion = null) =>
        SendJsonAsync(HttpMethod.Post, $"/v2.1/servers/{serverId}/action", token, body, microversion);

    /// <summary>Any method with an optional JSON body, a token and (optionally) a microversion.</summary>
    public async Task<ApiResponse> SendJsonAsync(HttpMethod method, string path, string? token, string? body, string? microversion = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (body is not null) request.Content = new StringContent(body, Encoding.UTF8, "application/json");
        if (token is not null) request.Headers.Add("X-Auth-Token", token);
        if (microversion is not null) request.Headers.Add("X-OpenStack-Nova-API-Version", microversion);
        return await SendAsync(request);
    }

    public async Task<ApiResponse> SendAsync(HttpRequestMessage request)
    {
        using var response = await Http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        JsonNode? json = null;
        if (text.Length > 0)
        {
            try
            {
                json = JsonNode.Parse(text);
            }
            catch (System.Text.Json.JsonException)
            {
                // left null: the test asserts on Text
            }
        }

        var headers = response.Headers.Concat(response.Content.Headers)
            .ToDictionary(h => h.Key, h => string.Join(", ", h.Value), StringComparer.OrdinalIgnoreCase);
        return new ApiResponse(response.StatusCode, headers, response.Content.Headers.ContentType, text, json);
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}


public sealed record ApiResponse(
    HttpStatusCode Status,
    IReadOnlyDictionary<string, string> Headers,
    MediaTypeHeaderValue? ContentType,
    string Text,
    JsonNode? Json)
{
    public string Header(string name) => Headers.TryGetValue(name, out var v) ? v : string.Empty;
}
