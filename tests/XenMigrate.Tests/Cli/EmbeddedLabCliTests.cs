using System.Text.Json.Nodes;
using XenMigrate.Tests.Support;

namespace XenMigrate.Tests.Cli;

/// <summary>The embedded default: a gateway with its own simulated lab, listed by the real openstack CLI.</summary>
[NonParallelizable]
[Category(TestCategories.External)]
public class EmbeddedLabCliTests : EmbeddedLabCliFixture
{
    private static List<string> Column(JsonNode rows, string name) => rows.AsArray().Select(r => r![name]!.GetValue<string>()).ToList();

    [Test]
    public async Task ServerList_AsAdmin_ShowsTheLabVmsWithTheirHosts()
    {
        var cli = new OpenStackCli(Gateway, TestUsers.Admin);
        var rows = await Eventually.HoldsAsync(() => cli.JsonAsync("server", "list", "--all-projects", "--long"), r => r.AsArray().Count >= 5,
            TimeSpan.FromSeconds(30), "five demo VMs listed");
        var byName = rows.AsArray().ToDictionary(r => r!["Name"]!.GetValue<string>(), r => r!);
        Assert.That(byName.Keys, Is.SupersetOf(new[] { "web1", "db1", "web2", "build1", "infra1" }));
        Assert.That(byName["web1"]["Host"]!.GetValue<string>(), Is.EqualTo("xs-sim-1"));
        Assert.That(byName["web2"]["Host"]!.GetValue<string>(), Is.EqualTo("xs-sim-2"));
        Assert.That(byName["infra1"]["Host"]!.GetValue<string>(), Is.EqualTo("xs-sim-3"));
        Assert.That(byName["build1"]["Status"]!.GetValue<string>(), Is.EqualTo("SHUTOFF"));
        Assert.That(byName["web1"]["Status"]!.GetValue<string>(), Is.EqualTo("ACTIVE"));
        Assert.That(byName["db1"]["Flavor Name"]!.GetValue<string>(), Is.EqualTo("m1.medium"));
    }

    [Test]
    public async Task ServerShow_AsDemo_ShowsALabVm()
    {
        var cli = new OpenStackCli(Gateway, TestUsers.Demo);
        await Eventually.HoldsAsync(() => cli.JsonAsync("server", "list"), r => Column(r, "Name").Contains("web1"), TimeSpan.FromSeconds(30));
        var web1 = await cli.JsonAsync("server", "show", "web1");
        Assert.That(web1["status"]!.GetValue<string>(), Is.EqualTo("ACTIVE"));
        Assert.That(web1["flavor"]!.ToJsonString(), Does.Contain("m1.small"));
        var list = await cli.JsonAsync("server", "list");
        Assert.That(Column(list, "Name"), Is.EquivalentTo(new[] { "web1", "db1", "web2" }), "demo owns three of the five");
    }
}
