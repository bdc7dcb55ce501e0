using System.Text.Json.Nodes;
using XenMigrate.Tests.Support;

namespace XenMigrate.Tests.Cli;

/// <summary>
/// The embedded lab's pool (xs-sim-1 and xs-sim-2 sharing an SR) and its standalone host
/// (xs-sim-3) as the unmodified openstack CLI sees them: one compute service and hypervisor per
/// member, the pool as an aggregate, and moves inside the pool and out of it.
/// </summary>
[NonParallelizable]
[Category(TestCategories.External)]
public class PoolCliTests : EmbeddedLabCliFixture
{
    private static readonly string[] LabHosts = ["xs-sim-1", "xs-sim-2", "xs-sim-3"];

    [Test]
    public async Task ComputeServiceList_HypervisorList_AggregateList_ShowEveryMemberAndThePool()
    {
        var admin = new OpenStackCli(Gateway, TestUsers.Admin);

        var services = (await admin.JsonAsync("compute", "service", "list")).AsArray();
        var compute = services.Where(s => Field(s!, "Binary") == "nova-compute").ToList();
        Assert.That(compute.Select(s => Field(s!, "Host")), Is.EquivalentTo(LabHosts));
        Assert.That(compute.Select(s => Field(s!, "State")), Is.All.EqualTo("up"));

        var hypervisors = (await admin.JsonAsync("hypervisor", "list", "--long")).AsArray();
        Assert.That(hypervisors.Select(h => Field(h!, "Hypervisor Hostname")), Is.EquivalentTo(LabHosts));
        Assert.That(hypervisors.Select(h => h!["Memory MB"]!.GetValue<int>()), Is.All.GreaterThan(8 * 1024), "each member's own memory, not the pool's");

        var aggregates = (await admin.JsonAsync("aggregate", "list", "--long")).AsArray();
        Assert.That(aggregates.Select(a => Field(a!, "Name")), Is.EqualTo(new[] { "xs-sim-pool" }), "the standalone host is in no aggregate");
        var pool = await admin.JsonAsync("aggregate", "show", "xs-sim-pool");
        Assert.That(pool["hosts"]!.AsArray().Select(h => h!.GetValue<string>()), Is.EquivalentTo(new[] { "xs-sim-1", "xs-sim-2" }));
    }

    [Test]
    public async Task InsideThePool_MigrateToAMember_Revert_ThenLiveMigrate_OnTheSharedSr()
    {
        var admin = new OpenStackCli(Gateway, TestUsers.Admin);
        var id = Field(await new OpenStackCli(Gateway, TestUsers.Demo).JsonAsync("server", "show", "db1"), "id");
        var home = Field(await admin.JsonAsync("server", "show", id), "OS-EXT-SRV-ATTR:host");
        var other = home == "xs-sim-1" ? "xs-sim-2" : "xs-sim-1";

        var (exit, _, stderr) = await admin.RunAsync("--os-compute-api-version", "2.56", "server", "migrate", "--host", other, "--wait", id);
        Assert.That(exit, Is.Zero, stderr);
        var migrated = await admin.JsonAsync("server", "show", id);
        Assert.That((Field(migrated, "status"), Field(migrated, "OS-EXT-SRV-ATTR:host")), Is.EqualTo(("VERIFY_RESIZE", other)));

        (exit, _, stderr) = await admin.RunAsync("server", "resize", "revert", id);
        Assert.That(exit, Is.Zero, stderr);
        var reverted = await Eventually.HoldsAsync(() => admin.JsonAsync("server", "show", id), s => Field(s, "status") == "ACTIVE", TimeSpan.FromSeconds(30));
        Assert.That(Field(reverted, "OS-EXT-SRV-ATTR:host"), Is.EqualTo(home), "revert starts the untouched VM on its old member");

        (exit, _, stderr) = await admin.RunAsync("--os-compute-api-version", "2.30", "server", "migrate", "--live-migration", "--host", other, "--wait", id);
        Assert.That(exit, Is.Zero, stderr);
        var live = await admin.JsonAsync("server", "show", id);
        Assert.That((Field(live, "status"), Field(live, "OS-EXT-SRV-ATTR:host")), Is.EqualTo(("ACTIVE", other)));

        var migrations = (await admin.JsonAsync("--os-compute-api-version", "2.80", "server", "migration", "list", "--server", id)).AsArray();
        Assert.That(migrations.Select(m => (Field(m!, "Type"), Field(m!, "Status"))),
            Is.EquivalentTo(new[] { ("migration", "reverted"), ("live-migration", "completed") }));
    }

    [Test]
    public async Task OutOfThePool_LiveMigrateToTheStandaloneHost_ThenResizeConfirm()
    {
        var admin = new OpenStackCli(Gateway, TestUsers.Admin);
        var demo = new OpenStackCli(Gateway, TestUsers.Demo);
        var id = Field(await demo.JsonAsync("server", "show", "web2"), "id");
        Assert.That(Field(await admin.JsonAsync("server", "show", id), "OS-EXT-SRV-ATTR:host"), Is.EqualTo("xs-sim-2"));

        var (exit, _, stderr) = await admin.RunAsync("--os-compute-api-version", "2.30", "server", "migrate", "--live-migration", "--host", "xs-sim-3", "--wait", id);
        Assert.That(exit, Is.Zero, stderr);
        var moved = await admin.JsonAsync("server", "show", id);
        Assert.That((Field(moved, "status"), Field(moved, "OS-EXT-SRV-ATTR:host")), Is.EqualTo(("ACTIVE", "xs-sim-3")));

        (exit, _, stderr) = await demo.RunAsync("server", "resize", "--flavor", "m1.small", "web2", "--wait");
        Assert.That(exit, Is.Zero, stderr);
        Assert.That(Field(await demo.JsonAsync("server", "show", "web2"), "status"), Is.EqualTo("VERIFY_RESIZE"));
        (exit, _, stderr) = await demo.RunAsync("server", "resize", "confirm", "web2");
        Assert.That(exit, Is.Zero, stderr);
        var resized = await Eventually.HoldsAsync(() => demo.JsonAsync("server", "show", "web2"), s => Field(s, "status") == "ACTIVE", TimeSpan.FromSeconds(30));
        Assert.That(resized["flavor"]!.ToJsonString(), Does.Contain("m1.small"));
    }
}
