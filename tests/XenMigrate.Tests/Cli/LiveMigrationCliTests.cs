using System.Text.Json.Nodes;
using XenMigrate.Tests.Support;

namespace XenMigrate.Tests.Cli;

/// <summary>Live migration with the unmodified openstack CLI against the embedded lab.</summary>
[NonParallelizable]
public class LiveMigrationCliTests
{
    private TestDatabase _db = null!;
    private GatewayInstance _gateway = null!;

    [OneTimeSetUp]
    public async Task Start()
    {
        OpenStackCli.RequireInstalled();
        _db = TestDatabase.Create(DatabaseKind.Sqlite);
        _gateway = await GatewayInstance.StartAsync(_db, ["--XenServer:EmbeddedLab=true", "--XenServer:EventTimeout=00:00:02"]);
        var demo = new OpenStackCli(_gateway, TestUsers.Demo);
        await Eventually.HoldsAsync(() => demo.JsonAsync("server", "list"), r => r.AsArray().Count == 3, TimeSpan.FromSeconds(30), "the lab's demo VMs");
    }

    [OneTimeTearDown]
    public async Task Stop()
    {
        if (_gateway is not null) await _gateway.DisposeAsync();
        if (_db is not null) await _db.DisposeAsync();
    }

    private static string Field(JsonNode server, string name) => server[name]!.GetValue<string>();

    [Test]
    public async Task LiveMigrateWait_AsAdmin_MovesTheActiveServer()
    {
        var admin = new OpenStackCli(_gateway, TestUsers.Admin);
        var demo = new OpenStackCli(_gateway, TestUsers.Demo);
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
