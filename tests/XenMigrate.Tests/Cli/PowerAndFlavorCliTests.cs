using System.Text.Json.Nodes;
using XenMigrate.Tests.Support;

namespace XenMigrate.Tests.Cli;

/// <summary>server stop/start/pause/unpause/suspend/resume and flavor create/set/delete with the unmodified openstack CLI.</summary>
[NonParallelizable]
[Category(TestCategories.External)]
public class PowerAndFlavorCliTests : EmbeddedLabCliFixture
{
    [Test]
    public async Task ServerPowerCommands_EachReachesItsStatus()
    {
        var cli = new OpenStackCli(Gateway, TestUsers.Demo);
        foreach (var (command, status) in new[] { ("stop", "SHUTOFF"), ("start", "ACTIVE"), ("pause", "PAUSED"), ("unpause", "ACTIVE"), ("suspend", "SUSPENDED"), ("resume", "ACTIVE") })
        {
            var (exit, _, stderr) = await cli.RunAsync("server", command, "web1");
            Assert.That(exit, Is.Zero, $"{command}: {stderr}");
            await Eventually.HoldsAsync(() => cli.JsonAsync("server", "show", "web1"), s => Field(s, "status") == status, TimeSpan.FromSeconds(30), $"web1 {status} after {command}");
        }

        var events = await cli.JsonAsync("server", "event", "list", "web1");
        Assert.That(events.AsArray().Select(e => e!["Action"]!.GetValue<string>()).Take(6),
            Is.EqualTo(new[] { "resume", "suspend", "unpause", "pause", "start", "stop" }));
    }

    [Test]
    public async Task FlavorCreateSetDelete_AsAdmin()
    {
        var admin = new OpenStackCli(Gateway, TestUsers.Admin);
        var created = await admin.JsonAsync("flavor", "create", "--ram", "1024", "--vcpus", "1", "--disk", "10", "cli.custom");
        Assert.That((Field(created, "name"), created["ram"]!.GetValue<int>()), Is.EqualTo(("cli.custom", 1024)));
        var id = Field(created, "id");

        var (exit, _, stderr) = await admin.RunAsync("flavor", "set", "--property", "hw:cpu_policy=shared", "cli.custom");
        Assert.That(exit, Is.Zero, stderr);
        Assert.That((await admin.JsonAsync("flavor", "show", id))["properties"]!.ToJsonString(), Does.Contain("hw:cpu_policy"));

        var member = new OpenStackCli(Gateway, TestUsers.Demo);
        (exit, _, stderr) = await member.RunAsync("flavor", "create", "--ram", "512", "--vcpus", "1", "--disk", "1", "cli.member");
        Assert.That(exit, Is.Not.Zero);
        Assert.That(stderr, Does.Contain("os_compute_api:os-flavor-manage:create"));

        (exit, _, stderr) = await admin.RunAsync("flavor", "delete", "cli.custom");
        Assert.That(exit, Is.Zero, stderr);
        var list = await admin.JsonAsync("flavor", "list", "--all");
        Assert.That(list.AsArray().Select(f => Field(f!, "Name")), Does.Not.Contain("cli.custom"));
    }
}
