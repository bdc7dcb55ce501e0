using System.Net;
using System.Text;
using XenMigrate.Tests.Support;

namespace XenMigrate.Tests.Api;

/// <summary>Every error a client can provoke comes back as a JSON fault in Nova's (or Keystone's) shape, never a 500.</summary>
public class FaultTests : GatewayFixture
{
    [TestCase("GET", "/v2.1/no-such-collection", 404, "itemNotFound")]
    [TestCase("GET", "/v2.1/servers/x/y/z", 404, "itemNotFound")]
    [TestCase("GET", "/nothing/here", 404, "itemNotFound")]
    [TestCase("DELETE", "/v2.1/flavors", 405, "badMethod")]
    [TestCase("PUT", "/v2.1/servers/detail", 405, "badMethod")]
    [TestCase("PATCH", "/v2.1", 405, "badMethod")]
    [TestCase("DELETE", "/", 405, "badMethod")]
    public async Task UnknownRoutesAndWrongMethods_AreNovaFaults(string method, string path, int status, string fault)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        request.Headers.Add("X-Auth-Token", DemoToken);
        var r = await Gateway.SendAsync(request);
        Assert.That((int)r.Status, Is.EqualTo(status));
        Assert.That(r.ContentType!.MediaType, Is.EqualTo("application/json"));
        Assert.That(r.Json![fault]!["code"]!.GetValue<int>(), Is.EqualTo(status));
        Assert.That(r.Json![fault]!["message"]!.GetValue<string>(), Is.Not.Empty);
    }

    [Test]
    public async Task IdentityErrors_UseKeystonesShape()
    {
        var r = await Gateway.GetAsync("/identity/v3/users", DemoToken);
        Assert.That(r.Status, Is.EqualTo(HttpStatusCode.NotFound));
        Assert.That(r.Json!["error"]!["code"]!.GetValue<int>(), Is.EqualTo(404));
        Assert.That(r.Json!["error"]!["title"]!.GetValue<string>(), Is.EqualTo("Not Found"));
    }

    [Test]
    public async Task EmptyAcceptHeader_IsServed()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/v2.1/servers");
        request.Headers.Add("X-Auth-Token", DemoToken);
        request.Headers.TryAddWithoutValidation("Accept", "");
        Assert.That((await Gateway.SendAsync(request)).Status, Is.EqualTo(HttpStatusCode.OK));
    }

    private static IEnumerable<TestCaseData> HostileRequests()
    {
        string[] paths =
        [
            "/v2.1/servers?limit=%00", "/v2.1/servers?name=%E2%80%AE%F0%9F%92%A3", "/v2.1/servers?name=(a%2B)%2B%24",
            "/v2.1/servers?marker='%20OR%201=1--", "/v2.1/flavors/'%3B%20DROP%20TABLE%20Flavors%3B--",
            "/v2.1/servers/%2E%2E%2F%2E%2E%2Fidentity", "/v2.1/flavors?minRam=1e309", "/v2.1/servers?limit=1&limit=2",
            "/v2.1/flavors?is_public=", "/v2.1/servers/detail?all_tenants=%FF", "/v2.1/" + new string('a', 4000),
        ];
        foreach (var p in paths) yield return new TestCaseData(p).SetName("hostile GET " + p[..Math.Min(p.Length, 60)]);
    }

    [TestCaseSource(nameof(HostileRequests))]
    public async Task HostileInput_NeverCausesA500(string path)
    {
        var r = await Gateway.GetAsync(path, AdminToken);
        Assert.That((int)r.Status, Is.LessThan(500), r.Text);
        Assert.That(r.ContentType?.MediaType, Is.EqualTo("application/json"), r.Text);
    }

    [Test]
    public async Task NulInThePath_IsRefusedByTheHttpServerItself()
    {
        // Kestrel rejects a NUL in the request target while parsing the request line, before any
        // middleware: a bodiless 400 with Connection: close. Nothing of ours runs, nothing changes.
        var r = await Gateway.GetAsync("/v2.1/flavors/%00%01/os-extra_specs", AdminToken);
        Assert.That(r.Status, Is.EqualTo(HttpStatusCode.BadRequest));
    }

    [Test]
    public async Task NonAsciiHeaderBytes_AreRefusedNot500()
    {
        // HttpClient will not send non-ASCII header bytes, so write the request by hand.
        var uri = new Uri(Gateway.BaseUrl);
        using var tcp = new System.Net.Sockets.TcpClient();
        await tcp.ConnectAsync(uri.Host, uri.Port);
        await using var stream = tcp.GetStream();
        var head = Encoding.ASCII.GetBytes("GET /v2.1/servers HTTP/1.1\r\nHost: x\r\nX-Auth-Token: ");
        var tail = Encoding.ASCII.GetBytes("\r\nConnection: close\r\n\r\n");
        await stream.WriteAsync(head.Concat(Encoding.UTF8.GetBytes("\u202e\u00e9")).Concat(tail).ToArray());
        using var reader = new StreamReader(stream, Encoding.ASCII);
        var statusLine = await reader.ReadLineAsync() ?? string.Empty;
        Assert.That(statusLine, Does.Match("^HTTP/1.1 4(00|01) "));
    }

    [Test]
    public async Task HostileTokens_AreJust401s()
    {
        foreach (var token in new[] { "' OR 1=1 --", new string('x', 10_000), "%00", "Bearer abc", "\t" })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/v2.1/servers");
            request.Headers.TryAddWithoutValidation("X-Auth-Token", token);
            var r = await Gateway.SendAsync(request);
            Assert.That(r.Status, Is.EqualTo(HttpStatusCode.Unauthorized), token[..Math.Min(token.Length, 20)]);
        }
    }

    [Test]
    public async Task AuthBodyOfWrongTypes_IsNever500()
    {
        string[] bodies =
        [
            """{"auth":{"identity":{"methods":[1,2],"password":{"user":{"name":"demo","password":"x"}}}}}""",
            """{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"demo","password":"demo-test-secret","domain":"Default"}}},"scope":{"project":"demo"}}}""",
            """{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"demo","password":"demo-test-secret","domain":{"name":"Default"}}}},"scope":{"project":{"name":["demo"]}}}}""",
            """{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"demo","password":"demo-test-secret","domain":{"name":"Other"}}}},"scope":{"project":{"name":"demo","domain":{"name":"Default"}}}}}""",
            """{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"d\u0000emo","password":"x"}}}}}""",
            """{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"demo","password":"\ud800"}}}}}""",
            """{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"demo","password":"x"}}}},"\udfff":1}""",
        ];
        foreach (var body in bodies)
        {
            using var response = await Gateway.Http.PostAsync("/identity/v3/auth/tokens", new StringContent(body, Encoding.UTF8, "application/json"));
            Assert.That((int)response.StatusCode, Is.InRange(400, 499), body);
        }
    }

    [Test]
    public async Task UnexpectedFailure_IsA500ComputeFaultThatRevealsOnlyTheRequestId()
    {
        await using var db = TestDatabase.Create(DatabaseKind.Sqlite);
        await using var gw = await GatewayInstance.StartAsync(db);
        var token = await gw.TokenAsync(TestUsers.Demo);
        await using (var ctx = db.NewContext())
        {
            await Microsoft.EntityFrameworkCore.RelationalDatabaseFacadeExtensions.ExecuteSqlRawAsync(ctx.Database, "DROP TABLE \"Flavors\"");
        }

        var r = await gw.GetAsync("/v2.1/flavors", token);
        Assert.That((int)r.Status, Is.EqualTo(500));
        Assert.That(r.ContentType!.MediaType, Is.EqualTo("application/json"));
        var message = r.Json!["computeFault"]!["message"]!.GetValue<string>();
        Assert.That(message, Does.Contain(r.Header("x-openstack-request-id")));
        Assert.That(r.Text, Does.Not.Contain("Sqlite").And.Not.Contain("Flavors").And.Not.Contain("   at "));
    }
}
