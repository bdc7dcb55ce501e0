using System.Text.Json.Nodes;
using XenMigrate.Tests.Support;

namespace XenMigrate.Tests.Cli;

/// <summary>Live migration with the unmodified openstack CLI against the embedded lab.</summary>
[NonParallelizable]
[Category(TestCategories.External)]
public class LiveMigrationCliTests : EmbeddedLabCliFixture
{
    [Test]
    public async Task LiveMigrateWait_AsAdmin_MovesTheActiveServer()
    {
        var admin = new OpenStackCli(Gateway, TestUsers.Admin);
        var demo = new OpenStackCli(Gateway, TestUsers.Demo);
        var web1 = await demo.JsonAsync("server", "show", "web1");
        var id = Field(web1, "id");
        var before = Field(await admin.JsonAsync("server", "show", id), "OS-EXT-SRV-ATTR:host");

        var (exit, _, stderr) = await admin.RunAsync("server", "migrate", "--live-migration", "--block-migration", "--wait", id);
        Assert.That(exit, Is.Zero, stderr);

        var moved = await admin.JsonAsync("server", "show", id);
        Assert.That(Field(moved, "status"), Is.EqualTo("ACTIVE"));
        Assert.That(Field(moved, "OS-EXT-SRV-ATTR:host"), Is.Not.EqualTo(before));
        var list = await admin.JsonAsync("--os-compute-api-version", "2.80", "server", "migration", "list", "--server", id);
        var row = list.AsArray().Single()!;
        Assert.That((row["Type"]!.GetValue<string>(), row["Status"]!.GetValue<string>()), Is.EqualTo(("live-migration", "completed")));
        Assert.That(row["Source Compute"]!.GetValue<string>(), Is.EqualTo(before));
    }
}
