using System.Net;
using Microsoft.Extensions.DependencyInjection;
using XenMigrate.Domain.Flavors;
using XenMigrate.Infrastructure.Persistence;
using System.Text.Json.Nodes;
using XenMigrate.Infrastructure.Inventory;
using XenMigrate.Infrastructure.Xapi;
using XenMigrate.Tests.Support;
using XenMigrate.XapiSimulator;
using XenMigrate.XapiSimulator.Control;

namespace XenMigrate.Tests.Workflow;

/// <summary>A gateway (with its Hangfire worker) over three simulated hosts, and helpers to drive and inspect migrations.</summary>
public abstract class WorkflowFixture
{
    protected LabHosts Lab { get; private set; } = null!;
    protected GatewayInstance Gateway { get; private set; } = null!;
    private TestDatabase _db = null!;
    protected string Admin { get; private set; } = null!;
    protected string Demo { get; private set; } = null!;

    protected virtual DatabaseKind Kind => DatabaseKind.Sqlite;

    /// <summary>More gateway settings for a fixture (e.g. a message broker).</summary>
    protected virtual IEnumerable<string> ExtraGatewayArgs => [];

    /// <summary>Adjusts a lab host's options before it starts (all three by default alike).</summary>
    protected virtual void ConfigureHost(SimulatedHostOptions options)
    {
    }

    /// <summary>More gateway services for a fixture (e.g. a test exporter or log capture).</summary>
    protected virtual void ConfigureGatewayServices(IServiceCollection services)
    {
    }

    /// <summary>The hosts: three standalone ones by default.</summary>
    protected virtual Task<LabHosts> StartHostsAsync() => LabHosts.StartAsync(ConfigureHost, "xs-1", "xs-2", "xs-3");

    [OneTimeSetUp]
    public async Task StartLab()
    {
        _db = TestDatabase.Create(Kind);
        Lab = await StartHostsAsync();
        Gateway = await GatewayInstance.StartAsync(_db, Lab.GatewayArgs().Concat(["--Workflow:CleanShutdownTimeout=00:00:05"]).Concat(ExtraGatewayArgs), ConfigureGatewayServices);
        Admin = await Gateway.TokenAsync(TestUsers.Admin);
        Demo = await Gateway.TokenAsync(TestUsers.Demo);

        // Small flavors keep the disks (and the tests) quick: w1 matches a 1 GiB VM, w2 doubles it.
        await using var scope = Gateway.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<XenMigrateDbContext>();
        db.Flavors.AddRange(new Flavor("w1", "w1.small", 1024, 1, 1), new Flavor("w2", "w2.medium", 2048, 2, 2));
        await db.SaveChangesAsync();
    }

    [OneTimeTearDown]
    public async Task StopLab()
    {
        if (Gateway is not null) await Gateway.DisposeAsync();
        if (Lab is not null) await Lab.DisposeAsync();
        if (_db is not null) await _db.DisposeAsync();
    }

    /// <summary>Seeds a VM owned by demo on a host and waits until it is a server; returns its id.</summary>
    protected async Task<string> SeedServerAsync(int host, string name, long memoryMb = 2048, int vcpus = 1, int diskGb = 20,
        int dataMib = 8, string power = "Running", bool guestAgent = true, Func<SeedVmSpec, SeedVmSpec>? adjust = null)
    {
        var spec = new SeedVmSpec
        {
            Name = name, MemoryBytes = memoryMb << 20, Vcpus = vcpus, DiskBytes = (long)diskGb << 30, DataBytes = (long)dataMib << 20,
            PowerState = power, GuestAgent = guestAgent, OtherConfig = new Dictionary<string, string> { [InventoryKeys.Project] = "demo" },
        };
        await Lab[host].Control.SeedVmAsync(adjust?.Invoke(spec) ?? spec);
        var status = power == "Running" ? "ACTIVE" : "SHUTOFF";
        var server = await Eventually.HoldsAsync(() => FindAsync(name), s => s?["status"]?.GetValue<string>() == status,
            TimeSpan.FromSeconds(15), $"{name} listed as {status}");
        return server!["id"]!.GetValue<string>();
    }

    protected async Task<JsonNode?> FindAsync(string name)
    {
        var list = (await Gateway.GetAsync("/v2.1/servers/detail?all_tenants=1", Admin, "2.47")).Json!["servers"]!.AsArray();
        return list.FirstOrDefault(s => s!["name"]!.GetValue<string>() == name);
    }

    protected async Task<JsonNode> ServerAsync(string id) =>
        (await Gateway.GetAsync($"/v2.1/servers/{id}", Admin, "2.47")).Json!["server"]!;

    protected Task<ApiResponse> ActionAsync(string id, string token, string body, string? microversion = null) =>
        Gateway.ActionAsync(id, token, body, microversion);

    /// <summary>Waits for a status with task_state null (as tempest's waiter does).</summary>
    protected async Task<JsonNode> WaitForStatusAsync(string id, string status, int seconds = 60) =>
        await Eventually.HoldsAsync(() => ServerAsync(id),
            s => s["status"]!.GetValue<string>() == status && s["OS-EXT-STS:task_state"] is null,
            TimeSpan.FromSeconds(seconds), $"server {id} {status}");

    protected async Task<JsonNode> MigrationAsync(string serverId) =>
        (await Gateway.GetAsync($"/v2.1/os-migrations?instance_uuid={serverId}", Admin, "2.80")).Json!["migrations"]![0]!;

    protected SimulatedHost HostNamed(string name) => Lab.Hosts.Single(h => h.Name == name);

    protected static Task<XapiSession> OpenAsync(SimulatedHost host) => LabInspector.OpenAsync(host);

    /// <summary>The guest VMs on a host carrying this server id.</summary>
    protected static Task<List<XapiVm>> VmsOfServerAsync(SimulatedHost host, string serverId) => LabInspector.VmsOfServerAsync(host, serverId);

    /// <summary>Every VDI on the host that belongs to no VM (an orphan).</summary>
    protected static Task<List<XapiVdi>> OrphanVdisAsync(SimulatedHost host) => LabInspector.OrphanVdisAsync(host);

    protected static void AssertStatus(ApiResponse r, HttpStatusCode expected) =>
        Assert.That(r.Status, Is.EqualTo(expected), r.Text);
}
