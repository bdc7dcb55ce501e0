using System.Text.Json.Nodes;
using XenMigrate.Tests.Support;

namespace XenMigrate.Tests.Cli;

/// <summary>
/// A gateway on its embedded lab (SQLite, three simulated hosts, the demo VMs) for tests that drive
/// it with the unmodified openstack CLI; set-up waits until demo sees its three servers.
/// </summary>
[Category(TestCategories.External)]
public abstract class EmbeddedLabCliFixture
{
    private TestDatabase _db = null!;

    protected GatewayInstance Gateway { get; private set; } = null!;

    [OneTimeSetUp]
    public async Task StartEmbeddedLab()
    {
        OpenStackCli.RequireInstalled();
        _db = TestDatabase.Create(DatabaseKind.Sqlite);
        Gateway = await GatewayInstance.StartAsync(_db, ["--XenServer:EmbeddedLab=true", "--XenServer:EventTimeout=00:00:02"]);
        var demo = new OpenStackCli(Gateway, TestUsers.Demo);
        await Eventually.HoldsAsync(() => demo.JsonAsync("server", "list"), r => r.AsArray().Count == 3, TimeSpan.FromSeconds(30), "the lab's demo VMs");
    }

    [OneTimeTearDown]
    public async Task StopEmbeddedLab()
    {
        if (Gateway is not null) await Gateway.DisposeAsync();
        if (_db is not null) await _db.DisposeAsync();
    }

    protected static string Field(JsonNode server, string name) => server[name]!.GetValue<string>();
}
