using System.Text.Json.Nodes;
using XenMigrate.Tests.Support;

namespace XenMigrate.Tests.Cli;

/// <summary>The unmodified openstack CLI against a gateway on loopback.</summary>
[NonParallelizable]
[Category(TestCategories.External)]
public class OpenStackCliTests : GatewayFixture
{
    private string _web1Id = null!;

    protected override async Task SeedAsync()
    {
        OpenStackCli.RequireInstalled();
        _web1Id = (await Gateway.AddServerAsync("web1", TestUsers.Demo, "2", createdAt: DateTime.UtcNow.AddMinutes(-2))).Id.ToString();
        await Gateway.AddServerAsync("db1", TestUsers.Demo, "3", host: "xs-sim-2");
        await Gateway.AddServerAsync("infra1", TestUsers.Admin, "1");
    }

    private OpenStackCli As(TestUsers.Account account) => new(Gateway, account);

    private static List<string> Column(JsonNode rows, string name) =>
        rows.AsArray().Select(r => r![name]!.GetValue<string>()).ToList();

    [Test]
    public async Task FlavorList_ShowsNovasStandardFlavors()
    {
        var rows = await As(TestUsers.Demo).JsonAsync("flavor", "list");
        Assert.That(Column(rows, "Name"), Is.EqualTo(new[] { "m1.tiny", "m1.small", "m1.medium", "m1.large", "m1.xlarge" }));
        Assert.That(rows[0]!["RAM"]!.GetValue<int>(), Is.EqualTo(512));
    }

    [Test]
    public async Task LimitsShowAbsolute_ShowsTheProjectsLimitsAndUsage()
    {
        var rows = await As(TestUsers.Demo).JsonAsync("limits", "show", "--absolute");
        var values = rows.AsArray().ToDictionary(r => r!["Name"]!.GetValue<string>(), r => r!["Value"]!.GetValue<int>());
        Assert.That((values["maxTotalInstances"], values["maxTotalCores"], values["maxTotalRAMSize"]), Is.EqualTo((10, 20, 51200)));
        Assert.That((values["totalInstancesUsed"], values["totalRAMUsed"]), Is.EqualTo((2, 2048 + 4096)), "web1 (m1.small) and db1 (m1.medium)");
    }

    [Test]
    public async Task QuotaShow_ByProjectName_AsAdmin()
    {
        // The CLI resolves "demo" through Keystone's project lookup, then reads Nova's quota set by id.
        var quota = await As(TestUsers.Admin).JsonAsync("quota", "show", "demo");
        var values = quota is JsonArray rows
            ? rows.ToDictionary(r => r!["Resource"]!.GetValue<string>(), r => r!["Limit"]!.GetValue<int>())
            : quota.AsObject().Where(p => p.Value is JsonValue v && v.TryGetValue<int>(out _)).ToDictionary(p => p.Key, p => p.Value!.GetValue<int>());
        Assert.That((values["instances"], values["cores"], values["ram"]), Is.EqualTo((10, 20, 51200)));
    }

    [Test]
    public async Task TokenIssueThenRevoke_TheTokenIsRefusedFromThen()
    {
        var cli = new OpenStackCli(Gateway, TestUsers.Demo);
        var token = (await cli.JsonAsync("token", "issue"))["id"]!.GetValue<string>();
        Assert.That((await Gateway.GetAsync("/v2.1/servers", token)).Status, Is.EqualTo(System.Net.HttpStatusCode.OK));

        var (exit, _, stderr) = await cli.RunAsync("token", "revoke", token);
        Assert.That(exit, Is.Zero, stderr);
        Assert.That((await Gateway.GetAsync("/v2.1/servers", token)).Status, Is.EqualTo(System.Net.HttpStatusCode.Unauthorized));
    }

    [Test]
    public async Task UsageShow_ForDemo_SinceYesterday()
    {
        var since = DateTime.UtcNow.AddDays(-1).ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture);
        var usage = await As(TestUsers.Admin).JsonAsync("usage", "show", "--project", "demo", "--start", since);
        Assert.That(usage["Servers"]!.AsArray().Select(s => s!["name"]!.GetValue<string>()), Is.SupersetOf(new[] { "web1", "db1" }),
            "demo's servers ran in the period");
        Assert.That(double.Parse(usage["CPU Hours"]!.ToString(), System.Globalization.CultureInfo.InvariantCulture), Is.GreaterThan(0));
    }

    [Test]
    public async Task FlavorShow_ByName()
    {
        var flavor = await As(TestUsers.Demo).JsonAsync("flavor", "show", "m1.small");
        Assert.That((flavor["id"]!.GetValue<string>(), flavor["ram"]!.GetValue<int>(), flavor["disk"]!.GetValue<int>()), Is.EqualTo(("2", 2048, 20)));
    }

    [Test]
    public async Task ServerList_AsDemo_ShowsOnlyDemosServers()
    {
        var rows = await As(TestUsers.Demo).JsonAsync("server", "list");
        Assert.That(Column(rows, "Name"), Is.EqualTo(new[] { "db1", "web1" }));
        Assert.That(Column(rows, "Status"), Is.All.EqualTo("ACTIVE"));
        Assert.That(Column(rows, "Flavor"), Is.EqualTo(new[] { "m1.medium", "m1.small" }));
    }

    [Test]
    public async Task ServerList_AsAdmin_AllProjectsLong_ShowsHosts()
    {
        var rows = await As(TestUsers.Admin).JsonAsync("server", "list", "--all-projects", "--long");
        Assert.That(Column(rows, "Name"), Is.EquivalentTo(new[] { "infra1", "db1", "web1" }));
        var db1 = rows.AsArray().Single(r => r!["Name"]!.GetValue<string>() == "db1")!;
        Assert.That(db1["Host"]!.GetValue<string>(), Is.EqualTo("xs-sim-2"));
        Assert.That(Column(await As(TestUsers.Admin).JsonAsync("server", "list"), "Name"), Is.EqualTo(new[] { "infra1" }));
    }

    [Test]
    public async Task ServerShow_ByNameAndById()
    {
        var byName = await As(TestUsers.Demo).JsonAsync("server", "show", "web1");
        Assert.That(byName["id"]!.GetValue<string>(), Is.EqualTo(_web1Id));
        Assert.That(byName["status"]!.GetValue<string>(), Is.EqualTo("ACTIVE"));
        Assert.That(byName["flavor"]!.ToJsonString(), Does.Contain("m1.small"));

        var byId = await As(TestUsers.Demo).JsonAsync("server", "show", _web1Id);
        Assert.That(byId["name"]!.GetValue<string>(), Is.EqualTo("web1"));
    }

    [Test]
    public async Task ServerShow_AsAdmin_AtTheLatestMicroversion_ShowsTheHost()
    {
        var server = await As(TestUsers.Admin).JsonAsync("--os-compute-api-version", "2.latest", "server", "show", _web1Id);
        Assert.That(server["OS-EXT-SRV-ATTR:host"]!.GetValue<string>(), Is.EqualTo("xs-sim-1"));
        Assert.That(server["flavor"]!.ToJsonString(), Does.Contain("m1.small"));
    }

    [Test]
    public async Task ServerShow_OfAnotherProjectsServer_IsNotFound()
    {
        var (exit, _, stderr) = await As(TestUsers.Other).RunAsync("server", "show", _web1Id);
        Assert.That(exit, Is.Not.Zero);
        Assert.That(stderr, Does.Contain("No server with a name or ID"));
    }

    [Test]
    public async Task WrongPassword_IsRefused()
    {
        var (exit, _, stderr) = await new OpenStackCli(Gateway, TestUsers.Demo with { Password = "wrong" }).RunAsync("server", "list");
        Assert.That(exit, Is.Not.Zero);
        Assert.That(stderr, Does.Contain("HTTP 401"));
    }
}
