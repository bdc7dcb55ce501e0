using System.Text.Json.Nodes;
using XenMigrate.Infrastructure.Images;
using XenMigrate.Tests.Support;

namespace XenMigrate.Tests.Cli;

/// <summary>Image list, server create --wait, server set --name and server delete --wait with the unmodified openstack CLI, on the embedded lab.</summary>
[NonParallelizable]
[Category(TestCategories.External)]
public class ServerLifecycleCliTests : EmbeddedLabCliFixture
{
    [Test]
    public async Task ImageList_ServerCreateWait_ServerDeleteWait()
    {
        var cli = new OpenStackCli(Gateway, TestUsers.Demo);
        var images = await cli.JsonAsync("image", "list");
        var debian = TemplateImages.IdForName("Debian Bookworm 12").ToString();
        Assert.That(images.AsArray().Select(i => (i!["ID"]!.GetValue<string>(), i["Name"]!.GetValue<string>())),
            Does.Contain((debian, "Debian Bookworm 12")));

        var (exit, _, stderr) = await cli.RunAsync("server", "create", "--image", debian, "--flavor", "m1.tiny", "vm9", "--wait");
        Assert.That(exit, Is.Zero, stderr);
        var shown = await cli.JsonAsync("server", "show", "vm9");
        Assert.That(shown["status"]!.GetValue<string>(), Is.EqualTo("ACTIVE"));
        Assert.That(shown["image"]!.ToJsonString(), Does.Contain(debian));

        (exit, _, stderr) = await cli.RunAsync("server", "set", "--name", "vm9-renamed", "vm9");
        Assert.That(exit, Is.Zero, stderr);
        Assert.That(Field(await cli.JsonAsync("server", "show", "vm9-renamed"), "id"), Is.EqualTo(Field(shown, "id")));

        (exit, _, stderr) = await cli.RunAsync("server", "delete", "--wait", "vm9-renamed");
        Assert.That(exit, Is.Zero, stderr);
        var list = await cli.JsonAsync("server", "list");
        Assert.That(list.AsArray().Select(s => s!["Name"]!.GetValue<string>()), Does.Not.Contain("vm9").And.Not.Contain("vm9-renamed"));
    }

    [Test]
    public async Task AvailabilityZoneList_ShowsNovaAvailable()
    {
        var zones = await new OpenStackCli(Gateway, TestUsers.Demo).JsonAsync("availability", "zone", "list", "--compute");
        Assert.That(zones.AsArray().Select(z => (z!["Zone Name"]!.GetValue<string>(), z["Zone Status"]!.GetValue<string>())),
            Is.EqualTo(new[] { ("nova", "available") }));
    }
}
