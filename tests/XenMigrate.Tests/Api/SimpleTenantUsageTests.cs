using System.Net;
using Microsoft.Extensions.DependencyInjection;
using XenMigrate.Domain.Flavors;
using XenMigrate.Domain.Servers;
using XenMigrate.Infrastructure.Persistence;
using XenMigrate.Tests.Support;

namespace XenMigrate.Tests.Api;

/// <summary>os-simple-tenant-usage as `openstack usage list|show` and Horizon read it.</summary>
public class SimpleTenantUsageTests : GatewayFixture
{
    private static readonly DateTime T0 = new(2026, 11, 1, 12, 0, 0, DateTimeKind.Utc);
    private string _demo = "";

    protected override async Task SeedAsync()
    {
        _demo = await Gateway.ProjectIdAsync("demo");
        await using var scope = Gateway.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<XenMigrateDbContext>();
        FlavorSnapshot Flavor(string name, int memoryMb, int vcpus, int rootGb) => new(1, name, name, memoryMb, vcpus, rootGb, 0, 0, new Dictionary<string, string>());
        var running = new Server(Guid.NewGuid(), "use-running", _demo, "u", Flavor("use.a", 1024, 2, 10), "xs-1", "xs-1", VmState.Active, PowerState.Running, T0);
        var gone = new Server(Guid.NewGuid(), "use-gone", _demo, "u", Flavor("use.b", 512, 1, 1), "xs-1", "xs-1", VmState.Active, PowerState.Running, T0.AddHours(1));
        gone.BeginDelete(callerIsAdmin: true, T0.AddHours(3));
        gone.MarkDeleted(T0.AddHours(3));
        db.Servers.AddRange(running, gone);
        await db.SaveChangesAsync();
    }

    [Test]
    public async Task Show_CountsEachServersHoursInThePeriod_DeletedOnesIncluded()
    {
        var start = T0.AddHours(-1).ToString("yyyy-MM-dd'T'HH:mm:ss");
        var end = T0.AddHours(4).ToString("yyyy-MM-dd'T'HH:mm:ss");
        var r = await Gateway.GetAsync($"/v2.1/os-simple-tenant-usage/{_demo}?start={start}&end={end}", DemoToken);
        Assert.That(r.Status, Is.EqualTo(HttpStatusCode.OK), r.Text);
        var usage = r.Json!["tenant_usage"]!;
        // running: 12:00→16:00 = 4 h; gone: 13:00→15:00 (deleted) = 2 h.
        Assert.That(usage["total_hours"]!.GetValue<double>(), Is.EqualTo(6.0).Within(1e-9));
        Assert.That(usage["total_vcpus_usage"]!.GetValue<double>(), Is.EqualTo(2 * 4 + 1 * 2).Within(1e-9));
        Assert.That(usage["total_memory_mb_usage"]!.GetValue<double>(), Is.EqualTo(1024 * 4 + 512 * 2).Within(1e-9));
        Assert.That(usage["total_local_gb_usage"]!.GetValue<double>(), Is.EqualTo(10 * 4 + 1 * 2).Within(1e-9));
        Assert.That((usage["start"]!.GetValue<string>(), usage["stop"]!.GetValue<string>()), Is.EqualTo(("2026-11-01T11:00:00", "2026-11-01T16:00:00")));
        var servers = usage["server_usages"]!.AsArray();
        var gone = servers.Single(s => s!["name"]!.GetValue<string>() == "use-gone")!;
        Assert.That((gone["state"]!.GetValue<string>(), gone["ended_at"]!.GetValue<string>(), gone["uptime"]!.GetValue<long>(), gone["flavor"]!.GetValue<string>()),
            Is.EqualTo(("terminated", "2026-11-01T15:00:00", 7200L, "use.b")));
        Assert.That(servers.Single(s => s!["name"]!.GetValue<string>() == "use-running")!["state"]!.GetValue<string>(), Is.EqualTo("active"));
    }

    [Test]
    public async Task List_IsForAdmins_SummariesWithoutServersUnlessDetailed_AndBadTimesAre400()
    {
        var query = $"start={T0.AddDays(-1):yyyy-MM-dd'T'HH:mm:ss}&end={T0.AddDays(1):yyyy-MM-dd'T'HH:mm:ss}";
        Assert.That((await Gateway.GetAsync($"/v2.1/os-simple-tenant-usage?{query}", DemoToken)).Status, Is.EqualTo(HttpStatusCode.Forbidden));
        var list = (await Gateway.GetAsync($"/v2.1/os-simple-tenant-usage?{query}", AdminToken)).Json!["tenant_usages"]!.AsArray();
        var demo = list.Single(u => u!["tenant_id"]!.GetValue<string>() == _demo)!;
        Assert.That(demo["server_usages"], Is.Null, "no per-server rows unless detailed=1");
        var detailed = (await Gateway.GetAsync($"/v2.1/os-simple-tenant-usage?{query}&detailed=1", AdminToken)).Json!["tenant_usages"]!.AsArray();
        Assert.That(detailed.Single(u => u!["tenant_id"]!.GetValue<string>() == _demo)!["server_usages"]!.AsArray(), Has.Count.EqualTo(2));
        var now = (await Gateway.GetAsync($"/v2.1/os-simple-tenant-usage/{_demo}", DemoToken)).Json!["tenant_usage"]!;
        Assert.That((now["start"]!.GetValue<string>(), now["total_hours"]!.GetValue<double>()), Is.EqualTo((now["stop"]!.GetValue<string>(), 0.0)),
            "start and end default to now: an empty period, the running server in it with no hours");

        var bad = await Gateway.GetAsync($"/v2.1/os-simple-tenant-usage/{_demo}?start=yesterday", DemoToken);
        Assert.That((bad.Status, bad.Json!["badRequest"]!["message"]!.GetValue<string>()),
            Is.EqualTo((HttpStatusCode.BadRequest, "Invalid datetime string: Datetime is in invalid format")));
        var reversed = await Gateway.GetAsync($"/v2.1/os-simple-tenant-usage/{_demo}?start=2026-11-02T00:00:00&end=2026-11-01T00:00:00", DemoToken);
        Assert.That(reversed.Json!["badRequest"]!["message"]!.GetValue<string>(), Is.EqualTo("Invalid start time. The start time cannot occur after the end time."));
        var other = await Gateway.GetAsync($"/v2.1/os-simple-tenant-usage/{_demo}?{query}", Tokens[TestUsers.Other]);
        Assert.That(other.Status, Is.EqualTo(HttpStatusCode.Forbidden), "another project's usage");
    }
}
