using System.Net;
using Microsoft.Extensions.DependencyInjection;
using XenMigrate.Domain.Flavors;
using XenMigrate.Domain.Servers;
using XenMigrate.Infrastructure.Persistence;
using XenMigrate.Tests.Support;

namespace XenMigrate.Tests.Api;

/// <summary>GET /v2.1/limits as `openstack limits show --absolute` and `nova limits` read it.</summary>
public class LimitsTests : GatewayFixture
{
    private string _demoProject = "";

    private static void AssertStatus(ApiResponse r, HttpStatusCode expected) => Assert.That(r.Status, Is.EqualTo(expected), r.Text);

    protected override async Task SeedAsync()
    {
        _demoProject = await Gateway.ProjectIdAsync("demo");
        await using var scope = Gateway.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<XenMigrateDbContext>();
        var now = DateTime.UtcNow;
        FlavorSnapshot Flavor(int memoryMb, int vcpus) => new(1, "x", "x", memoryMb, vcpus, 1, 0, 0, new Dictionary<string, string>());
        db.Servers.AddRange(
            new Server(Guid.NewGuid(), "lim-a", _demoProject, "u", Flavor(1024, 2), "xs-1", "xs-1", VmState.Active, PowerState.Running, now),
            new Server(Guid.NewGuid(), "lim-b", _demoProject, "u", Flavor(512, 1), "xs-1", "xs-1", VmState.Stopped, PowerState.Shutdown, now));
        await db.SaveChangesAsync();
    }

    [Test]
    public async Task Absolute_ShowsTheProjectsQuotaLimits_AndWhatItsServersUse()
    {
        var r = await Gateway.GetAsync("/v2.1/limits", DemoToken, "latest");
        AssertStatus(r, HttpStatusCode.OK);
        Assert.That(r.Json!["limits"]!["rate"]!.AsArray(), Is.Empty);
        var absolute = r.Json["limits"]!["absolute"]!.AsObject().ToDictionary(p => p.Key, p => p.Value!.GetValue<int>());
        Assert.That(absolute, Is.EquivalentTo(new Dictionary<string, int>
        {
            ["maxTotalRAMSize"] = 51200, ["maxTotalInstances"] = 10, ["maxTotalCores"] = 20, ["maxTotalKeypairs"] = 100,
            ["maxServerMeta"] = 128, ["maxServerGroups"] = 10, ["maxServerGroupMembers"] = 10,
            ["totalRAMUsed"] = 1536, ["totalCoresUsed"] = 3, ["totalInstancesUsed"] = 2, ["totalServerGroupsUsed"] = 0,
        }));
    }

    [TestCase("2.1", new[] { "maxImageMeta", "maxPersonality", "maxPersonalitySize", "maxTotalFloatingIps", "maxSecurityGroups", "maxSecurityGroupRules", "totalFloatingIpsUsed", "totalSecurityGroupsUsed" }, new string[0])]
    [TestCase("2.36", new[] { "maxImageMeta", "maxPersonality", "maxPersonalitySize" }, new[] { "maxTotalFloatingIps", "maxSecurityGroups", "totalSecurityGroupsUsed" })]
    [TestCase("2.39", new[] { "maxPersonality", "maxPersonalitySize" }, new[] { "maxImageMeta", "maxTotalFloatingIps" })]
    [TestCase("2.57", new string[0], new[] { "maxImageMeta", "maxPersonality", "maxPersonalitySize", "maxTotalFloatingIps" })]
    public async Task Names_FollowTheMicroversion_AsNovaDroppedThem(string version, string[] present, string[] absent)
    {
        var absolute = (await Gateway.GetAsync("/v2.1/limits", DemoToken, version)).Json!["limits"]!["absolute"]!.AsObject();
        Assert.That(absolute.Select(p => p.Key), Is.SupersetOf(present).And.SupersetOf(new[] { "maxTotalRAMSize", "totalRAMUsed" }));
        Assert.That(absolute.Select(p => p.Key).Intersect(absent), Is.Empty);
        if (version == "2.1")
            Assert.That((absolute["maxTotalFloatingIps"]!.GetValue<int>(), absolute["totalFloatingIpsUsed"]!.GetValue<int>(), absolute["maxImageMeta"]!.GetValue<int>()),
                Is.EqualTo((-1, 0, 128)));
    }

    [Test]
    public async Task AnotherProject_IsForAdmins_AndUnknownQueryIsRefusedFrom275()
    {
        var admin = await Gateway.GetAsync($"/v2.1/limits?tenant_id={_demoProject}", AdminToken);
        AssertStatus(admin, HttpStatusCode.OK);
        Assert.That(admin.Json!["limits"]!["absolute"]!["totalInstancesUsed"]!.GetValue<int>(), Is.EqualTo(2), "the demo project's usage, not admin's");
        Assert.That((await Gateway.GetAsync("/v2.1/limits", AdminToken)).Json!["limits"]!["absolute"]!["totalInstancesUsed"]!.GetValue<int>(), Is.Zero);

        var member = await Gateway.GetAsync($"/v2.1/limits?tenant_id={_demoProject}", DemoToken);
        AssertStatus(member, HttpStatusCode.Forbidden);
        Assert.That(member.Json!["forbidden"]!["message"]!.GetValue<string>(),
            Is.EqualTo("Policy doesn't allow os_compute_api:limits:other_project to be performed."));

        AssertStatus(await Gateway.GetAsync("/v2.1/limits?foo=1", DemoToken, "2.74"), HttpStatusCode.OK);
        var strict = await Gateway.GetAsync("/v2.1/limits?foo=1", DemoToken, "2.75");
        AssertStatus(strict, HttpStatusCode.BadRequest);
        Assert.That(strict.Json!["badRequest"]!["message"]!.GetValue<string>(), Does.Contain("Additional properties are not allowed ('foo' was unexpected)"));
    }
}
