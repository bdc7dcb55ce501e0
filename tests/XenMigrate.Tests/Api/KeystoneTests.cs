using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using XenMigrate.Infrastructure.Identity;
using XenMigrate.Infrastructure.Persistence;
using XenMigrate.Tests.Support;

namespace XenMigrate.Tests.Api;

public class KeystoneTests : GatewayFixture
{
    [Test]
    public async Task Discovery_AnswersAsKeystoneDoes()
    {
        var root = await Gateway.GetAsync("/identity", token: null);
        Assert.That(root.Status, Is.EqualTo(HttpStatusCode.MultipleChoices));
        var v3 = root.Json!["versions"]!["values"]![0]!;
        Assert.That(v3["id"]!.GetValue<string>(), Is.EqualTo("v3.14"));
        Assert.That(v3["links"]![0]!["href"]!.GetValue<string>(), Is.EqualTo(Gateway.BaseUrl + "/identity/v3/"));

        var doc = await Gateway.GetAsync("/identity/v3", token: null);
        Assert.That(doc.Status, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(doc.Json!["version"]!["status"]!.GetValue<string>(), Is.EqualTo("stable"));
    }

    [Test]
    public async Task PasswordAuth_ByNames_Returns201WithTheFullTokenBody()
    {
        using var response = await Gateway.Http.PostAsync("/identity/v3/auth/tokens",
            GatewayInstance.Json(GatewayInstance.AuthBody("demo", TestUsers.Demo.Password, "demo")));
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Created));
        Assert.That(response.Headers.GetValues("X-Subject-Token").Single(), Is.Not.Empty);
        var token = JsonNode.Parse(await response.Content.ReadAsStringAsync())!["token"]!;
        Assert.Multiple(() =>
        {
            Assert.That(token["expires_at"]!.GetValue<string>(), Does.Match(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$"));
            Assert.That(token["issued_at"]!.GetValue<string>(), Does.Match(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$"));
            Assert.That(token["user"]!["name"]!.GetValue<string>(), Is.EqualTo("demo"));
            Assert.That(token["user"]!["domain"]!["id"]!.GetValue<string>(), Is.EqualTo("default"));
            Assert.That(token["user"]!["domain"]!["name"]!.GetValue<string>(), Is.EqualTo("Default"));
            Assert.That(token["project"]!["name"]!.GetValue<string>(), Is.EqualTo("demo"));
            Assert.That(token["project"]!["id"]!.GetValue<string>(), Does.Match("^[0-9a-f]{32}$"));
            Assert.That(token["project"]!["domain"]!["name"]!.GetValue<string>(), Is.EqualTo("Default"));
            Assert.That(token["roles"]!.AsArray().Select(r => r!["name"]!.GetValue<string>()), Is.EquivalentTo(new[] { "member", "reader" }));
            Assert.That(token["methods"]![0]!.GetValue<string>(), Is.EqualTo("password"));
        });
        var catalog = token["catalog"]!.AsArray();
        var compute = catalog.Single(s => s!["type"]!.GetValue<string>() == "compute")!["endpoints"]![0]!;
        Assert.That(compute["url"]!.GetValue<string>(), Is.EqualTo(Gateway.BaseUrl + "/v2.1"));
        Assert.That((compute["region"]!.GetValue<string>(), compute["region_id"]!.GetValue<string>(), compute["interface"]!.GetValue<string>()),
            Is.EqualTo(("RegionOne", "RegionOne", "public")));
        Assert.That(catalog.Select(s => s!["type"]!.GetValue<string>()), Does.Contain("image"));
        var interfaces = catalog.Single(s => s!["type"]!.GetValue<string>() == "compute")!["endpoints"]!.AsArray();
        Assert.That(interfaces.Select(e => e!["interface"]!.GetValue<string>()), Is.EqualTo(new[] { "public", "internal", "admin" }));
        Assert.That(interfaces.Select(e => e!["id"]!.GetValue<string>()).Distinct().Count(), Is.EqualTo(3));
    }

    [Test]
    public async Task Projects_AdminsListAndFindByName_AMemberSeesOnlyItsOwn()
    {
        var demoId = await Gateway.ProjectIdAsync("demo");
        var all = await Gateway.GetAsync("/identity/v3/projects", AdminToken);
        Assert.That(all.Status, Is.EqualTo(HttpStatusCode.OK), all.Text);
        Assert.That(all.Json!["projects"]!.AsArray().Select(p => p!["name"]!.GetValue<string>()), Is.SupersetOf(new[] { "admin", "demo", "other" }));

        // How `openstack quota show demo` turns a name into an id.
        var byName = (await Gateway.GetAsync("/identity/v3/projects?name=demo", AdminToken)).Json!["projects"]!.AsArray();
        Assert.That(byName.Select(p => (p!["id"]!.GetValue<string>(), p["domain_id"]!.GetValue<string>(), p["enabled"]!.GetValue<bool>())),
            Is.EqualTo(new[] { (demoId, "default", true) }));
        Assert.That((await Gateway.GetAsync("/identity/v3/projects?name=nope", AdminToken)).Json!["projects"]!.AsArray(), Is.Empty);

        var own = await Gateway.GetAsync($"/identity/v3/projects/{demoId}", DemoToken);
        Assert.That((own.Status, own.Json!["project"]!["name"]!.GetValue<string>()), Is.EqualTo((HttpStatusCode.OK, "demo")));
        var adminProject = await Gateway.ProjectIdAsync("admin");
        var other = await Gateway.GetAsync($"/identity/v3/projects/{adminProject}", DemoToken);
        Assert.That((other.Status, other.Json!["error"]!["message"]!.GetValue<string>()),
            Is.EqualTo((HttpStatusCode.Forbidden, "You are not authorized to perform the requested action: identity:get_project.")));
        var list = await Gateway.GetAsync("/identity/v3/projects", DemoToken);
        Assert.That(list.Status, Is.EqualTo(HttpStatusCode.Forbidden));
        var missing = await Gateway.GetAsync("/identity/v3/projects/0123456789abcdef0123456789abcdef", AdminToken);
        Assert.That((missing.Status, missing.Json!["error"]!["message"]!.GetValue<string>()),
            Is.EqualTo((HttpStatusCode.NotFound, "Could not find project: 0123456789abcdef0123456789abcdef.")));
        var anonymous = await Gateway.GetAsync("/identity/v3/projects", null);
        Assert.That(anonymous.Status, Is.EqualTo(HttpStatusCode.Unauthorized));

        // A user's own projects (`openstack project list --my-projects`).
        using var validate = new HttpRequestMessage(HttpMethod.Get, "/identity/v3/auth/tokens");
        validate.Headers.Add("X-Auth-Token", DemoToken);
        validate.Headers.Add("X-Subject-Token", DemoToken);
        var demoUser = (await Gateway.SendAsync(validate)).Json!["token"]!["user"]!["id"]!.GetValue<string>();
        var mine = await Gateway.GetAsync($"/identity/v3/users/{demoUser}/projects", DemoToken);
        Assert.That(mine.Json!["projects"]!.AsArray().Select(p => p!["name"]!.GetValue<string>()), Is.EqualTo(new[] { "demo" }));
        Assert.That((await Gateway.GetAsync($"/identity/v3/users/{demoUser}/projects", Tokens[TestUsers.Other])).Status, Is.EqualTo(HttpStatusCode.Forbidden));
    }

    [Test]
    public async Task PasswordAuth_ByIds_Works()
    {
        var projectId = await Gateway.ProjectIdAsync("admin");
        var body = new JsonObject
        {
            ["auth"] = new JsonObject
            {
                ["identity"] = new JsonObject
                {
                    ["methods"] = new JsonArray("password"),
                    ["password"] = new JsonObject
                    {
                        ["user"] = new JsonObject { ["name"] = "admin", ["domain"] = new JsonObject { ["id"] = "default" }, ["password"] = TestUsers.Admin.Password },
                    },
                },
                ["scope"] = new JsonObject { ["project"] = new JsonObject { ["id"] = projectId } },
            },
        };
        using var response = await Gateway.Http.PostAsync("/identity/v3/auth/tokens", GatewayInstance.Json(body));
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Created));
    }

    [TestCase("demo", "wrong-password", "demo")]
    [TestCase("nobody", "whatever", "demo")]
    [TestCase("demo", "demo-test-secret", "admin")] // no role on that project
    [TestCase("demo", "demo-test-secret", "no-such-project")]
    [TestCase("demo", "", "demo")]
    public async Task BadCredentialsOrScope_Are401WithKeystonesBody(string user, string password, string project)
    {
        using var response = await Gateway.Http.PostAsync("/identity/v3/auth/tokens", GatewayInstance.Json(GatewayInstance.AuthBody(user, password, project)));
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
        Assert.That(response.Content.Headers.ContentType!.MediaType, Is.EqualTo("application/json"));
        var error = JsonNode.Parse(await response.Content.ReadAsStringAsync())!["error"]!;
        Assert.That(error["code"]!.GetValue<int>(), Is.EqualTo(401));
        Assert.That(error["title"]!.GetValue<string>(), Is.EqualTo("Unauthorized"));
        Assert.That(error["message"]!.GetValue<string>(), Is.EqualTo("The request you have made requires authentication."));
        Assert.That(response.Headers.Contains("X-Subject-Token"), Is.False);
    }

    [TestCase("{not json", "application/json")]
    [TestCase("[]", "application/json")]
    [TestCase("{}", "application/json")]
    [TestCase("{\"auth\":{}}", "application/json")]
    [TestCase("{\"auth\":{\"identity\":{\"methods\":\"password\"}}}", "application/json")]
    [TestCase("{\"auth\":{\"identity\":{\"methods\":[\"password\"],\"password\":{\"user\":{\"name\":\"demo\"}}}}}", "application/json")]
    [TestCase("{\"auth\":{\"identity\":{\"methods\":[\"password\"],\"password\":{\"user\":{\"name\":5,\"password\":[]}}}}}", "application/json")]
    [TestCase("{\"auth\":{},\"auth\":{}}", "application/json")]
    [TestCase("{\"auth\":{\"identity\":[1,2]}}", "application/json")]
    [TestCase("null", "application/json")]
    [TestCase("", "application/json")]
    [TestCase("auth=demo", "application/x-www-form-urlencoded")]
    [TestCase("<auth/>", "text/xml")]
    public async Task MalformedAuthRequests_Are400WithKeystonesBody(string body, string contentType)
    {
        using var response = await Gateway.Http.PostAsync("/identity/v3/auth/tokens", new StringContent(body, Encoding.UTF8, contentType));
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        var error = JsonNode.Parse(await response.Content.ReadAsStringAsync())!["error"]!;
        Assert.That(error["code"]!.GetValue<int>(), Is.EqualTo(400));
        Assert.That(error["title"]!.GetValue<string>(), Is.EqualTo("Bad Request"));
    }

    [Test]
    public async Task OversizedAuthRequest_Is413()
    {
        using var response = await Gateway.Http.PostAsync("/identity/v3/auth/tokens",
            new StringContent("{\"auth\":\"" + new string('x', 100_000) + "\"}", Encoding.UTF8, "application/json"));
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.RequestEntityTooLarge));
    }

    [Test]
    public async Task OtherAuthMethods_Are401()
    {
        var body = JsonNode.Parse("""{"auth":{"identity":{"methods":["token"],"token":{"id":"x"}},"scope":{"project":{"name":"demo","domain":{"name":"Default"}}}}}""")!;
        using var response = await Gateway.Http.PostAsync("/identity/v3/auth/tokens", GatewayInstance.Json(body));
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
    }

    [Test]
    public async Task ValidateToken_ReturnsTheSubjectsBody_Or404()
    {
        using var ok = new HttpRequestMessage(HttpMethod.Get, "/identity/v3/auth/tokens");
        ok.Headers.Add("X-Auth-Token", AdminToken);
        ok.Headers.Add("X-Subject-Token", DemoToken);
        var valid = await Gateway.SendAsync(ok);
        Assert.That(valid.Status, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(valid.Json!["token"]!["user"]!["name"]!.GetValue<string>(), Is.EqualTo("demo"));

        using var bad = new HttpRequestMessage(HttpMethod.Get, "/identity/v3/auth/tokens");
        bad.Headers.Add("X-Auth-Token", AdminToken);
        bad.Headers.Add("X-Subject-Token", "garbage");
        var invalid = await Gateway.SendAsync(bad);
        Assert.That(invalid.Status, Is.EqualTo(HttpStatusCode.NotFound));
        Assert.That(invalid.Text, Does.Not.Contain("garbage"), "tokens are never echoed");

        using var anonymous = new HttpRequestMessage(HttpMethod.Get, "/identity/v3/auth/tokens");
        anonymous.Headers.Add("X-Subject-Token", DemoToken);
        Assert.That((await Gateway.SendAsync(anonymous)).Status, Is.EqualTo(HttpStatusCode.Unauthorized));
    }

    [Test]
    public async Task RevokeToken_OwnOrAsAdmin_IsRefusedFromTheNextRequest_AnotherUsersIs403()
    {
        async Task<ApiResponse> Revoke(string caller, string subject)
        {
            using var request = new HttpRequestMessage(HttpMethod.Delete, "/identity/v3/auth/tokens");
            request.Headers.Add("X-Auth-Token", caller);
            request.Headers.Add("X-Subject-Token", subject);
            return await Gateway.SendAsync(request);
        }

        var own = await Gateway.TokenAsync(TestUsers.Demo);
        Assert.That((await Gateway.GetAsync("/v2.1/servers", own)).Status, Is.EqualTo(HttpStatusCode.OK), "validated and cached first");
        Assert.That((await Revoke(own, own)).Status, Is.EqualTo(HttpStatusCode.NoContent));
        Assert.That((await Gateway.GetAsync("/v2.1/servers", own)).Status, Is.EqualTo(HttpStatusCode.Unauthorized));
        Assert.That((await Revoke(AdminToken, own)).Status, Is.EqualTo(HttpStatusCode.NotFound), "a revoked token is no token");

        var demo = await Gateway.TokenAsync(TestUsers.Demo);
        var other = await Gateway.TokenAsync(TestUsers.Other);
        var refused = await Revoke(other, demo);
        Assert.That(refused.Status, Is.EqualTo(HttpStatusCode.Forbidden));
        Assert.That(refused.Json!["error"]!["message"]!.GetValue<string>(),
            Is.EqualTo("You are not authorized to perform the requested action: identity:revoke_token."));
        Assert.That((await Gateway.GetAsync("/v2.1/servers", demo)).Status, Is.EqualTo(HttpStatusCode.OK), "untouched");
        Assert.That((await Revoke(AdminToken, demo)).Status, Is.EqualTo(HttpStatusCode.NoContent));
        Assert.That((await Gateway.GetAsync("/v2.1/servers", demo)).Status, Is.EqualTo(HttpStatusCode.Unauthorized));
        Assert.That((await Gateway.GetAsync("/v2.1/servers", other)).Status, Is.EqualTo(HttpStatusCode.OK), "other tokens are not touched");
        Assert.That((await Revoke(AdminToken, "garbage")).Status, Is.EqualTo(HttpStatusCode.NotFound));
    }

    [Test]
    public async Task RevokedToken_InAnotherProcess_IsRefusedOnceTheTokenCacheTimeHasPassed()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var db = TestDatabase.Create(DatabaseKind.Sqlite);
        await using var gw = await GatewayInstance.StartAsync(db, ["--Identity:TokenCacheTime=00:00:05"],
            services => services.AddSingleton<TimeProvider>(clock));
        var token = await gw.TokenAsync(TestUsers.Other);
        Assert.That((await gw.GetAsync("/v2.1/servers", token)).Status, Is.EqualTo(HttpStatusCode.OK));
        using var validate = new HttpRequestMessage(HttpMethod.Get, "/identity/v3/auth/tokens");
        validate.Headers.Add("X-Auth-Token", token);
        validate.Headers.Add("X-Subject-Token", token);
        var auditId = (await gw.SendAsync(validate)).Json!["token"]!["audit_ids"]![0]!.GetValue<string>();

        // As another gateway process revokes it: its own connection, none of this gateway's caches told.
        await using (var ctx = db.NewContext())
        {
            ctx.RevokedTokens.Add(new RevokedToken { AuditId = auditId, ExpiresAt = clock.GetUtcNow().UtcDateTime.AddHours(1), RevokedAt = clock.GetUtcNow().UtcDateTime });
            await ctx.SaveChangesAsync();
        }

        Assert.That((await gw.GetAsync("/v2.1/servers", token)).Status, Is.EqualTo(HttpStatusCode.OK), "still trusted from the cache");
        clock.Advance(TimeSpan.FromSeconds(5));
        Assert.That((await gw.GetAsync("/v2.1/servers", token)).Status, Is.EqualTo(HttpStatusCode.Unauthorized));
    }

    [Test]
    public async Task ComputeWithoutToken_Is401WithKeystoneBodyAndChallenge()
    {
        var r = await Gateway.GetAsync("/v2.1/servers", token: null);
        Assert.That(r.Status, Is.EqualTo(HttpStatusCode.Unauthorized));
        Assert.That(r.Json!["error"]!["message"]!.GetValue<string>(), Is.EqualTo("The request you have made requires authentication."));
        Assert.That(r.Header("WWW-Authenticate"), Is.EqualTo($"Keystone uri=\"{Gateway.BaseUrl}/identity\""));
        Assert.That(r.ContentType!.MediaType, Is.EqualTo("application/json"));
    }

    [Test]
    public async Task ForgedOrTamperedTokens_Are401()
    {
        var tampered = new StringBuilder(DemoToken);
        tampered[tampered.Length / 2] = tampered[tampered.Length / 2] == 'A' ? 'B' : 'A';
        foreach (var token in new[] { tampered.ToString(), "gAAAAAB-forged", DemoToken + "x", DemoToken[..^4], new string('A', 2000), "a b" })
        {
            var r = await Gateway.GetAsync("/v2.1/servers", token);
            Assert.That(r.Status, Is.EqualTo(HttpStatusCode.Unauthorized), token);
        }
    }

    [Test]
    public async Task TokenSealedWithAnotherKey_Is401()
    {
        await using var otherDb = TestDatabase.Create(DatabaseKind.Sqlite);
        await using var other = await GatewayInstance.StartAsync(otherDb, ["--Identity:TokenSigningKey=a different deployment's secret"]);
        var foreignToken = await other.TokenAsync(TestUsers.Demo);
        Assert.That((await Gateway.GetAsync("/v2.1/servers", foreignToken)).Status, Is.EqualTo(HttpStatusCode.Unauthorized));
    }

    [Test]
    public async Task Token_ExpiresAfterItsLifetime()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var db = TestDatabase.Create(DatabaseKind.Sqlite);
        await using var gw = await GatewayInstance.StartAsync(db, ["--Identity:TokenLifetime=00:30:00"],
            services => services.AddSingleton<TimeProvider>(clock));
        var token = await gw.TokenAsync(TestUsers.Demo);
        Assert.That((await gw.GetAsync("/v2.1/servers", token)).Status, Is.EqualTo(HttpStatusCode.OK));
        clock.Advance(TimeSpan.FromMinutes(29));
        Assert.That((await gw.GetAsync("/v2.1/servers", token)).Status, Is.EqualTo(HttpStatusCode.OK));
        clock.Advance(TimeSpan.FromMinutes(2));
        var expired = await gw.GetAsync("/v2.1/servers", token);
        Assert.That(expired.Status, Is.EqualTo(HttpStatusCode.Unauthorized));
        Assert.That(expired.Json!["error"]!["code"]!.GetValue<int>(), Is.EqualTo(401));
    }

    [Test]
    public async Task Token_IsValidAcrossProcessesAndRestarts_WithTheKeyKeptInTheDatabase()
    {
        await using var db = TestDatabase.Create(DatabaseKind.Sqlite);
        string token;
        await using (var first = await GatewayInstance.StartAsync(db))
        {
            token = await first.TokenAsync(TestUsers.Demo);
            await using var second = await GatewayInstance.StartAsync(db);
            Assert.That((await second.GetAsync("/v2.1/servers", token)).Status, Is.EqualTo(HttpStatusCode.OK), "another process");
        }

        await using var restarted = await GatewayInstance.StartAsync(db);
        Assert.That((await restarted.GetAsync("/v2.1/servers", token)).Status, Is.EqualTo(HttpStatusCode.OK), "after a restart");
    }

    [Test]
    public async Task Passwords_AreStoredOnlyAsHashes()
    {
        await using var scope = Gateway.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<XenMigrateDbContext>();
        foreach (var account in TestUsers.All)
        {
            var user = await db.Users.SingleAsync(u => u.Name == account.Name);
            Assert.That(user.PasswordHash, Does.Not.Contain(account.Password));
            Assert.That(user.PasswordHash.Length, Is.GreaterThan(40));
        }
    }

    [Test]
    public async Task RevokedRole_InvalidatesTheTokenAtOnce()
    {
        await using var db = TestDatabase.Create(DatabaseKind.Sqlite);
        await using var gw = await GatewayInstance.StartAsync(db);
        var token = await gw.TokenAsync(TestUsers.Other);
        await using (var scope = gw.Services.CreateAsyncScope())
        {
            var ctx = scope.ServiceProvider.GetRequiredService<XenMigrateDbContext>();
            var user = await ctx.Users.SingleAsync(u => u.Name == TestUsers.Other.Name);
            ctx.RoleAssignments.RemoveRange(ctx.RoleAssignments.Where(r => r.UserId == user.Id));
            await ctx.SaveChangesAsync();
        }

        Assert.That((await gw.GetAsync("/v2.1/servers", token)).Status, Is.EqualTo(HttpStatusCode.Unauthorized));
    }

    [Test]
    public async Task RevokedRole_InAnotherProcess_FailsOnceTheTokenCacheTimeHasPassed()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var db = TestDatabase.Create(DatabaseKind.Sqlite);
        await using var gw = await GatewayInstance.StartAsync(db, ["--Identity:TokenCacheTime=00:00:05"],
            services => services.AddSingleton<TimeProvider>(clock));
        var token = await gw.TokenAsync(TestUsers.Other);
        Assert.That((await gw.GetAsync("/v2.1/servers", token)).Status, Is.EqualTo(HttpStatusCode.OK));

        await RevokeEveryRoleOutsideTheGatewayAsync(db, TestUsers.Other);
        clock.Advance(TimeSpan.FromSeconds(5));

        Assert.That((await gw.GetAsync("/v2.1/servers", token)).Status, Is.EqualTo(HttpStatusCode.Unauthorized));
    }

    [Test]
    public async Task TokenCacheOff_RevokedRoleInAnotherProcess_FailsTheNextRequest()
    {
        await using var db = TestDatabase.Create(DatabaseKind.Sqlite);
        await using var gw = await GatewayInstance.StartAsync(db, ["--Identity:TokenCacheTime=00:00:00"]);
        var token = await gw.TokenAsync(TestUsers.Other);
        Assert.That((await gw.GetAsync("/v2.1/servers", token)).Status, Is.EqualTo(HttpStatusCode.OK));

        await RevokeEveryRoleOutsideTheGatewayAsync(db, TestUsers.Other);

        Assert.That((await gw.GetAsync("/v2.1/servers", token)).Status, Is.EqualTo(HttpStatusCode.Unauthorized));
    }

    /// <summary>As another gateway process would: its own connection, none of this gateway's caches told.</summary>
    private static async Task RevokeEveryRoleOutsideTheGatewayAsync(TestDatabase db, TestUsers.Account account)
    {
        await using var ctx = db.NewContext();
        var user = await ctx.Users.SingleAsync(u => u.Name == account.Name);
        ctx.RoleAssignments.RemoveRange(ctx.RoleAssignments.Where(r => r.UserId == user.Id));
        await ctx.SaveChangesAsync();
    }
}
