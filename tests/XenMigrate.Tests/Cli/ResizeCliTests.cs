using System.Text.Json.Nodes;
using XenMigrate.Tests.Support;

namespace XenMigrate.Tests.Cli;

/// <summary>Resize, confirm, revert, migrate, migration list and event list with the unmodified openstack CLI.</summary>
[NonParallelizable]
[Category(TestCategories.External)]
public class ResizeCliTests : EmbeddedLabCliFixture
{
    [Test]
    public async Task ResizeWait_ThenConfirm_ThenEvents()
    {
        var cli = new OpenStackCli(Gateway, TestUsers.Demo);
        var (exit, _, stderr) = await cli.RunAsync("server", "resize", "--flavor", "m1.medium", "web2", "--wait");
        Assert.That(exit, Is.Zero, stderr);
        var resized = await cli.JsonAsync("server", "show", "web2");
        Assert.That(Field(resized, "status"), Is.EqualTo("VERIFY_RESIZE"));
        Assert.That(resized["flavor"]!.ToJsonString(), Does.Contain("m1.medium"));

        (exit, _, stderr) = await cli.RunAsync("server", "resize", "confirm", "web2");
        Assert.That(exit, Is.Zero, stderr);
        await Eventually.HoldsAsync(() => cli.JsonAsync("server", "show", "web2"), s => Field(s, "status") == "ACTIVE", TimeSpan.FromSeconds(30));

        var events = await cli.JsonAsync("server", "event", "list", "web2");
        Assert.That(events.AsArray().Select(e => e!["Action"]!.GetValue<string>()), Is.EqualTo(new[] { "confirmResize", "resize" }));
    }

    [Test]
    public async Task ResizeWait_ThenRevert_RestoresTheFlavor()
    {
        var cli = new OpenStackCli(Gateway, TestUsers.Demo);
        var (exit, _, stderr) = await cli.RunAsync("server", "resize", "--flavor", "m1.large", "db1", "--wait");
        Assert.That(exit, Is.Zero, stderr);
        Assert.That(Field(await cli.JsonAsync("server", "show", "db1"), "status"), Is.EqualTo("VERIFY_RESIZE"));
        (exit, _, stderr) = await cli.RunAsync("server", "resize", "revert", "db1");
        Assert.That(exit, Is.Zero, stderr);
        var reverted = await Eventually.HoldsAsync(() => cli.JsonAsync("server", "show", "db1"), s => Field(s, "status") == "ACTIVE", TimeSpan.FromSeconds(30));
        Assert.That(reverted["flavor"]!.ToJsonString(), Does.Contain("m1.medium"));
    }

    [Test]
    public async Task MigrateWait_AsAdmin_ThenMigrationList()
    {
        var admin = new OpenStackCli(Gateway, TestUsers.Admin);
        var infra = await admin.JsonAsync("server", "show", "infra1");
        var before = Field(infra, "OS-EXT-SRV-ATTR:host");
        var (exit, _, stderr) = await admin.RunAsync("server", "migrate", "--wait", Field(infra, "id"));
        Assert.That(exit, Is.Zero, stderr);
        var migrated = await admin.JsonAsync("server", "show", "infra1");
        Assert.That(Field(migrated, "status"), Is.EqualTo("VERIFY_RESIZE"));
        Assert.That(Field(migrated, "OS-EXT-SRV-ATTR:host"), Is.Not.EqualTo(before));

        var list = await admin.JsonAsync("--os-compute-api-version", "2.80", "server", "migration", "list", "--server", Field(infra, "id"));
        var row = list.AsArray().Single()!;
        Assert.That((row["Type"]!.GetValue<string>(), row["Status"]!.GetValue<string>()), Is.EqualTo(("migration", "finished")));
        Assert.That(row["Source Compute"]!.GetValue<string>(), Is.EqualTo(before));

        (exit, _, stderr) = await admin.RunAsync("server", "resize", "confirm", Field(infra, "id"));
        Assert.That(exit, Is.Zero, stderr);
        await Eventually.HoldsAsync(() => admin.JsonAsync("server", "show", "infra1"), s => Field(s, "status") == "ACTIVE", TimeSpan.FromSeconds(30));
    }
}
