using System.Net;
using System.Text.RegularExpressions;
using XenMigrate.Tests.Support;

namespace XenMigrate.Tests.Api;

public partial class VersionsAndMicroversionsTests : GatewayFixture
{
    [Test]
    public async Task Root_ListsV21WithoutAToken()
    {
        var r = await Gateway.GetAsync("/", token: null);
        Assert.That(r.Status, Is.EqualTo(HttpStatusCode.OK));
        var v21 = r.Json!["versions"]!.AsArray().Single()!;
        Assert.Multiple(() =>
        {
            Assert.That(v21["id"]!.GetValue<string>(), Is.EqualTo("v2.1"));
            Assert.That(v21["status"]!.GetValue<string>(), Is.EqualTo("CURRENT"));
            Assert.That(v21["version"]!.GetValue<string>(), Is.EqualTo("2.100"));
            Assert.That(v21["min_version"]!.GetValue<string>(), Is.EqualTo("2.1"));
            Assert.That(v21["links"]![0]!["href"]!.GetValue<string>(), Is.EqualTo(Gateway.BaseUrl + "/v2.1/"));
        });
    }

    [TestCase("/v2.1")]
    [TestCase("/v2.1/")]
    public async Task V21Document_IsServedWithAndWithoutSlash(string path)
    {
        var r = await Gateway.GetAsync(path, token: null);
        Assert.That(r.Status, Is.EqualTo(HttpStatusCode.OK));
        var v = r.Json!["version"]!;
        Assert.That(v["links"]!.AsArray().Select(l => l!["rel"]!.GetValue<string>()), Is.EqualTo(new[] { "self", "describedby" }));
        Assert.That(v["media-types"]![0]!["type"]!.GetValue<string>(), Is.EqualTo("application/vnd.openstack.compute+json;version=2.1"));
    }

    [Test]
    public async Task PublicUrl_FromConfiguration_IsUsedInLinks()
    {
        await using var db = TestDatabase.Create(DatabaseKind.Sqlite);
        await using var gw = await GatewayInstance.StartAsync(db, ["--Gateway:PublicUrl=https://compute.example.org/"]);
        var r = await gw.GetAsync("/", token: null);
        Assert.That(r.Json!["versions"]![0]!["links"]![0]!["href"]!.GetValue<string>(), Is.EqualTo("https://compute.example.org/v2.1/"));
    }

    [Test]
    public async Task NoHeader_MeansV21_AndBothHeadersAndVaryAreEchoed()
    {
        var r = await Gateway.GetAsync("/v2.1/flavors", DemoToken);
        Assert.Multiple(() =>
        {
            Assert.That(r.Header("OpenStack-API-Version"), Is.EqualTo("compute 2.1"));
            Assert.That(r.Header("X-OpenStack-Nova-API-Version"), Is.EqualTo("2.1"));
            Assert.That(r.Header("Vary"), Is.EqualTo("OpenStack-API-Version, X-OpenStack-Nova-API-Version"));
        });
    }

    [TestCase("compute 2.47", null, "2.47")]
    [TestCase("compute latest", null, "2.100")]
    [TestCase(null, "2.25", "2.25")]
    [TestCase(null, "latest", "2.100")]
    [TestCase("compute 2.60", "2.25", "2.60")]
    [TestCase("placement 1.10, compute 2.30", null, "2.30")]
    [TestCase("placement 1.10", "2.19", "2.19")]
    public async Task RequestedVersion_IsUsedAndEchoed(string? header, string? legacy, string expected)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/v2.1/flavors");
        request.Headers.Add("X-Auth-Token", DemoToken);
        if (header is not null) request.Headers.TryAddWithoutValidation("OpenStack-API-Version", header);
        if (legacy is not null) request.Headers.Add("X-OpenStack-Nova-API-Version", legacy);
        var r = await Gateway.SendAsync(request);
        Assert.That(r.Status, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(r.Header("OpenStack-API-Version"), Is.EqualTo("compute " + expected));
        Assert.That(r.Header("X-OpenStack-Nova-API-Version"), Is.EqualTo(expected));
    }

    [TestCase("2.200")]
    [TestCase("2.0")]
    [TestCase("3.1")]
    [TestCase("1.1")]
    [TestCase("2.99999999999999999999")] // well-formed (Nova's numbers are unbounded), merely unsupported
    public async Task OutOfRangeVersion_Is406ComputeFault(string version)
    {
        var r = await Gateway.GetAsync("/v2.1/flavors", DemoToken, version);
        Assert.That(r.Status, Is.EqualTo(HttpStatusCode.NotAcceptable));
        Assert.That(r.Json!["computeFault"]!["code"]!.GetValue<int>(), Is.EqualTo(406));
        Assert.That(r.Json!["computeFault"]!["message"]!.GetValue<string>(),
            Is.EqualTo($"Version {version} is not supported by the API. Minimum is 2.1 and maximum is 2.100."));
        Assert.That(r.Header("X-OpenStack-Nova-API-Version"), Is.EqualTo("2.1"), "errors echo the version too");
    }

    [TestCase("x")]
    [TestCase("2")]
    [TestCase("2.")]
    [TestCase("02.1")]
    [TestCase("2.01")]
    [TestCase("2.1.1")]
    [TestCase("-2.1")]
    public async Task MalformedVersion_Is400(string version)
    {
        var r = await Gateway.GetAsync("/v2.1/flavors", DemoToken, version);
        Assert.That(r.Status, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That(r.Json!["badRequest"]!["message"]!.GetValue<string>(),
            Is.EqualTo($"API Version String {version} is of invalid format. Must be of format MajorNum.MinorNum."));
    }

    [TestCase("/")]
    [TestCase("/v2.1")]
    [TestCase("/v2.1/servers")]
    [TestCase("/v2.1/no-such-thing")]
    [TestCase("/identity/v3")]
    public async Task EveryResponse_CarriesOneNovaRequestId(string path)
    {
        var r = await Gateway.GetAsync(path, token: null);
        var id = r.Header("x-openstack-request-id");
        Assert.That(id, Does.Match(RequestIdFormat()));
        Assert.That(r.Header("x-compute-request-id"), Is.EqualTo(id));
        var again = await Gateway.GetAsync(path, token: null);
        Assert.That(again.Header("x-openstack-request-id"), Is.Not.EqualTo(id));
    }

    [GeneratedRegex("^req-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")]
    private static partial Regex RequestIdFormat();
}
