using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using XenMigrate.Infrastructure.Persistence;
using XenMigrate.Domain.Flavors;
using XenMigrate.Tests.Support;

namespace XenMigrate.Tests.Api;

/// <summary>
/// Our bodies against Nova's own API samples (shared/contract/nova-api-samples): the same keys
/// and value types, at every microversion for which Nova publishes a sample within our range.
/// </summary>
public class NovaContractTests : GatewayFixture
{
    // Nova allows image "" (not booted from an image) where the sample has an object.
    private static readonly HashSet<string> Alternatives = ["image"];

    private string _serverId = null!;

    protected override async Task SeedAsync()
    {
        // The samples come from an admin; our server lives in the admin's project for the admin samples.
        _serverId = (await Gateway.AddServerAsync("new-server-test", TestUsers.Admin, "1")).Id.ToString();
        await Gateway.AddServerAsync("second", TestUsers.Admin, "1", createdAt: DateTime.UtcNow.AddMinutes(-5));
        await using var scope = Gateway.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<XenMigrateDbContext>();
        var flavor = new Flavor("7", "m1.numa", 1024, 1, 10, description: "a flavor");
        flavor.SetExtraSpec("hw:numa_nodes", "1");
        db.Flavors.Add(flavor);
        await db.SaveChangesAsync();
    }

    private static IEnumerable<TestCaseData> ServerSamples()
    {
        // sample file, microversion, caller
        yield return new TestCaseData("servers/server-get-resp.json", "2.1", "admin", false).SetName("server get 2.1 (admin)");
        yield return new TestCaseData("servers/servers-details-resp.json", "2.1", "admin", true).SetName("servers detail 2.1 (admin)");
        yield return new TestCaseData("servers/v2.47/server-get-resp.json", "2.47", "admin", false).SetName("server get 2.47 (admin)");
        yield return new TestCaseData("servers/v2.47/servers-details-resp.json", "2.47", "admin", true).SetName("servers detail 2.47 (admin)");
        yield return new TestCaseData("servers/v2.73/server-get-resp.json", "2.73", "admin", false).SetName("server get 2.73 (admin)");
        yield return new TestCaseData("servers/v2.73/servers-details-resp.json", "2.73", "admin", true).SetName("servers detail 2.73 (admin)");
        yield return new TestCaseData("servers/v2.100/server-get-resp.json", "2.100", "member", false).SetName("server get 2.100 (member)");
        yield return new TestCaseData("servers/v2.100/servers-details-resp.json", "2.100", "member", true).SetName("servers detail 2.100 (member)");
    }

    [TestCaseSource(nameof(ServerSamples))]
    public async Task ServerBodies_MatchNovasSamples(string sample, string version, string caller, bool detail)
    {
        var expected = SharedContract.Load($"nova-api-samples/{sample}");
        // Ask for a page only where Nova's sample shows one (it then carries servers_links).
        var detailPath = expected.AsObject().ContainsKey("servers_links") ? "/v2.1/servers/detail?limit=1" : "/v2.1/servers/detail";
        string token;
        string path;
        if (caller == "admin")
        {
            token = AdminToken;
            path = detail ? detailPath : $"/v2.1/servers/{_serverId}";
        }
        else
        {
            var own = await Gateway.AddServerAsync("member-server-" + Guid.NewGuid().ToString("N")[..6], TestUsers.Demo, "1");
            token = DemoToken;
            path = detail ? detailPath : $"/v2.1/servers/{own.Id}";
        }

        var ours = (await Gateway.GetAsync(path, token, version)).Json;
        Assert.That(JsonShape.Differences(ours, expected, alternatives: Alternatives), Is.Empty, sample);
    }

    [TestCase("servers/servers-list-resp.json", "2.1")]
    [TestCase("servers/v2.100/servers-list-resp.json", "2.100")]
    public async Task ServerList_MatchesNovasSample(string sample, string version)
    {
        var ours = (await Gateway.GetAsync("/v2.1/servers?limit=1", AdminToken, version)).Json;
        Assert.That(JsonShape.Differences(ours, SharedContract.Load($"nova-api-samples/{sample}")), Is.Empty);
    }

    [TestCase("flavors/flavor-get-resp.json", "/v2.1/flavors/7", "2.1")]
    [TestCase("flavors/flavors-detail-resp.json", "/v2.1/flavors/detail?limit=1", "2.1")]
    [TestCase("flavors/flavors-list-resp.json", "/v2.1/flavors?limit=1", "2.1")]
    [TestCase("flavors/v2.75/flavor-get-resp.json", "/v2.1/flavors/7", "2.75")]
    public async Task FlavorBodies_MatchNovasSamples(string sample, string path, string version)
    {
        var expected = SharedContract.Load($"nova-api-samples/{sample}");
        // Nova's list samples carry no flavors_links; ours does when a limit fills the page.
        var ours = (await Gateway.GetAsync(path, AdminToken, version)).Json!.AsObject();
        ours.Remove("flavors_links");
        Assert.That(JsonShape.Differences(ours, expected), Is.Empty, sample);
    }

    [Test]
    public async Task VersionDocuments_MatchNovasSamples()
    {
        var root = (await Gateway.GetAsync("/", null)).Json;
        var rootSample = SharedContract.Load("nova-api-samples/versions/versions-get-resp.json");
        Assert.That(JsonShape.Differences(root!["versions"]![0], rootSample["versions"]![1]), Is.Empty);

        var v21 = (await Gateway.GetAsync("/v2.1", null)).Json;
        Assert.That(JsonShape.Differences(v21, SharedContract.Load("nova-api-samples/versions/v21-version-get-resp.json")), Is.Empty);
    }

    [Test]
    public void ShapeComparer_CatchesAMissingKey_AndAWrongType()
    {
        var theirs = JsonNode.Parse("""{"a":1,"b":"x","c":{"d":true}}""");
        Assert.That(JsonShape.Differences(JsonNode.Parse("""{"a":1,"c":{"d":true}}"""), theirs), Has.Count.EqualTo(1));
        Assert.That(JsonShape.Differences(JsonNode.Parse("""{"a":"1","b":"x","c":{"d":true}}"""), theirs), Has.Count.EqualTo(1));
        Assert.That(JsonShape.Differences(JsonNode.Parse("""{"a":1,"b":"x","c":{"d":true},"e":2}"""), theirs), Has.Count.EqualTo(1));
    }
}
