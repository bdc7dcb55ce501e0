using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using XenMigrate.Tests.Support;

namespace XenMigrate.Tests.Api;

/// <summary>
/// What an outside test found at f5efe16 (issue 14, items 5–8): a Host header that cannot be
/// decoded, a token spelled another way, 4xx answers without a body, and bodies Nova's schemas
/// refuse (an imageRef spelled otherwise: ServerLifecycleTests) — each answered as Nova or Keystone would, never with a 500.
/// </summary>
public class InputHardeningTests : GatewayFixture
{
    [TestCase("xn--")]
    [TestCase("xn--zz-9")]
    [TestCase("a.xn--.b")]
    public async Task AHostThatIsNotValidPunycode_StillGetsAnAnswer(string host)
    {
        foreach (var path in new[] { "/", "/v2.1", "/identity/v3" })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, Gateway.BaseUrl + path);
            request.Headers.Host = host;
            var response = await Gateway.SendAsync(request);
            Assert.That((int)response.Status, Is.LessThan(500), $"{path} with Host {host}: {response.Text}");
        }
    }

    [Test]
    public async Task OnlyTheTokenAsIssued_IsValid()
    {
        var token = DemoToken;
        Assert.That((await Gateway.GetAsync("/v2.1/servers", token)).Status, Is.EqualTo(HttpStatusCode.OK));
        var variants = new List<string> { token + "=", token + "==" };
        if (token.Contains('-')) variants.Add(token.Replace('-', '+'));
        if (token.Contains('_')) variants.Add(token.Replace('_', '/'));
        // The last character's unused low bits: another spelling of the same bytes.
        var alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        var last = alphabet.IndexOf(token[^1]);
        if (token.Length % 4 is 2 or 3) variants.Add(token[..^1] + alphabet[last ^ 1]);

        foreach (var variant in variants)
        {
            var r = await Gateway.GetAsync("/v2.1/servers", variant);
            Assert.That(r.Status, Is.EqualTo(HttpStatusCode.Unauthorized), $"'{variant}': {r.Text}");
        }
    }

    [Test]
    public async Task A415_HasAJsonFault()
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, Gateway.BaseUrl + "/xenmigrate/v1/host-drains")
        {
            Content = new StringContent("host=xs-sim-1", Encoding.UTF8, "application/x-www-form-urlencoded"),
        };
        request.Headers.Add("X-Auth-Token", AdminToken);
        var r = await Gateway.SendAsync(request);
        Assert.That((int)r.Status, Is.InRange(400, 499), r.Text);
        Assert.That(r.Json, Is.Not.Null, $"a JSON body: '{r.Text}'");
    }

    [TestCase("/hangfire")]
    [TestCase("/hangfire/jobs/enqueued")]
    public async Task TheDashboardsRefusals_HaveAJsonFault(string path)
    {
        var anonymous = await Gateway.GetAsync(path, null);
        Assert.That((int)anonymous.Status, Is.AnyOf(401, 403, 302), anonymous.Text);
        if ((int)anonymous.Status != 302) Assert.That(anonymous.Json, Is.Not.Null, $"a JSON body: '{anonymous.Text}'");
    }

    [Test]
    public async Task QuotaSetBodies_AreCheckedAsNovasSchema()
    {
        var project = await Gateway.ProjectIdAsync("demo");
        foreach (var body in new[] { """{"quota_set":{"force":5}}""", """{"quota_set":{"instances":" 5"}}""", """{"quota_set":{"instances":"5 "}}""", """{"quota_set":{"force":"maybe","instances":5}}""" })
        {
            var r = await Gateway.SendJsonAsync(HttpMethod.Put, $"/v2.1/os-quota-sets/{project}", AdminToken, body);
            Assert.That(r.Status, Is.EqualTo(HttpStatusCode.BadRequest), body + ": " + r.Text);
        }

        var ok = await Gateway.SendJsonAsync(HttpMethod.Put, $"/v2.1/os-quota-sets/{project}", AdminToken, """{"quota_set":{"force":"True","instances":"10"}}""");
        Assert.That(ok.Status, Is.EqualTo(HttpStatusCode.OK), ok.Text);
    }

    [TestCase("\u200b")]
    [TestCase("tab\tinside")]
    [TestCase(" padded")]
    public async Task AFlavorNameThatIsNotPrintable_IsRefused(string name)
    {
        var body = new JsonObject { ["flavor"] = new JsonObject { ["name"] = name, ["ram"] = 512, ["vcpus"] = 1, ["disk"] = 1 } };
        var r = await Gateway.SendJsonAsync(HttpMethod.Post, "/v2.1/flavors", AdminToken, body.ToJsonString());
        Assert.That(r.Status, Is.EqualTo(HttpStatusCode.BadRequest), r.Text);
    }

    [Test]
    public async Task ADrainWithANullMaxConcurrent_IsRefused()
    {
        var r = await Gateway.SendJsonAsync(HttpMethod.Post, "/xenmigrate/v1/host-drains", AdminToken, """{"drain":{"host":"xs-sim-1","max_concurrent":null}}""");
        Assert.That(r.Status, Is.EqualTo(HttpStatusCode.BadRequest), r.Text);
    }

    [Test]
    public async Task ANovaActionNotImplementedHere_OnAnotherProjectsServer_Is404()
    {
        var server = await Gateway.AddServerAsync("not-yours", TestUsers.Admin);
        var other = await Gateway.ActionAsync(server.Id.ToString(), DemoToken, """{"shelve":null}""");
        Assert.That(other.Status, Is.EqualTo(HttpStatusCode.NotFound), other.Text);
        var mine = await Gateway.ActionAsync(server.Id.ToString(), AdminToken, """{"shelve":null}""");
        Assert.That(mine.Status, Is.EqualTo(HttpStatusCode.BadRequest), mine.Text);
        var unknown = await Gateway.ActionAsync(server.Id.ToString(), DemoToken, """{"frobnicate":null}""");
        Assert.That(unknown.Status, Is.EqualTo(HttpStatusCode.BadRequest), "a name Nova does not know either: 400 before any lookup");
    }
}
