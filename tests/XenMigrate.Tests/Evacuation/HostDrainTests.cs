using System.Net;
using System.Text.Json.Nodes;
using XenMigrate.Tests.Support;
using XenMigrate.Tests.Workflow;

namespace XenMigrate.Tests.Evacuation;

/// <summary>
/// User story 1, evacuate a host with failing hardware: one admin call disables the host and moves
/// every server off it, a few at a time, with progress to poll and a final report.
/// </summary>
[NonParallelizable]
public class HostDrainTests : WorkflowFixture
{
    protected override IEnumerable<string> ExtraGatewayArgs => ["--HostDrain:PollInterval=00:00:00.300"];

    private Task<ApiResponse> DrainAsync(string body, string? token = null) =>
        Gateway.SendJsonAsync(HttpMethod.Post, "/xenmigrate/v1/host-drains", token ?? Admin, body);

    private async Task<JsonNode> ShowAsync(string drainId) =>
        (await Gateway.GetAsync($"/xenmigrate/v1/host-drains/{drainId}", Admin)).Json!["drain"]!;

    [Test]
    public async Task DrainingAHost_MovesEveryServerOff_AtMostMaxConcurrentAtOnce_AndReportsWhereEachWent()
    {
        // xs-1 holds: two running servers, a stopped one, one whose resize from xs-1 waits for a confirm
        // (its old copy is still on xs-1), and a suspended one, which cannot be moved.
        var running1 = await SeedServerAsync(0, "ev-run1", memoryMb: 512, diskGb: 1, dataMib: 4);
        var running2 = await SeedServerAsync(0, "ev-run2", memoryMb: 512, diskGb: 1, dataMib: 4);
        var stopped = await SeedServerAsync(0, "ev-stop", memoryMb: 512, diskGb: 1, dataMib: 4, power: "Halted");
        var resized = await SeedServerAsync(0, "ev-resized", memoryMb: 512, diskGb: 1, dataMib: 4);
        await Lab[0].Control.SeedVmAsync(new XenMigrate.XapiSimulator.Control.SeedVmSpec
        {
            Name = "ev-susp", MemoryBytes = 512L << 20, Vcpus = 1, DiskBytes = 1L << 30, DataBytes = 1L << 20, PowerState = "Suspended",
            OtherConfig = new Dictionary<string, string> { [XenMigrate.Infrastructure.Inventory.InventoryKeys.Project] = "demo" },
        });
        var suspended = (await Eventually.HoldsAsync(() => FindAsync("ev-susp"), s => s?["status"]?.GetValue<string>() == "SUSPENDED"))!["id"]!.GetValue<string>();
        AssertStatus(await ActionAsync(resized, Demo, """{"resize":{"flavorRef":"w2"}}"""), HttpStatusCode.Accepted);
        await WaitForStatusAsync(resized, "VERIFY_RESIZE");
        var hashes = new[] { "ev-run1", "ev-run2", "ev-stop" }.ToDictionary(n => n, n => Lab[0].Control.GetVmDiskSha256(n));

        var accepted = await DrainAsync("""{"drain":{"host":"xs-1","max_concurrent":2,"reason":"failing PSU"}}""");
        AssertStatus(accepted, HttpStatusCode.Accepted);
        Assert.That(accepted.Headers["Location"], Does.EndWith("/xenmigrate/v1/host-drains/" + accepted.Json!["drain"]!["id"]!.GetValue<string>()));
        var drainId = accepted.Json["drain"]!["id"]!.GetValue<string>();
        Assert.That(accepted.Json["drain"]!["progress"]!["total"]!.GetValue<int>(), Is.EqualTo(5));

        // The host is disabled at once, with the reason, so nothing new lands on it.
        var services = (await Gateway.GetAsync("/v2.1/os-services?host=xs-1", Admin)).Json!["services"]!.AsArray();
        Assert.That((services[0]!["status"]!.GetValue<string>(), services[0]!["disabled_reason"]!.GetValue<string>()), Is.EqualTo(("disabled", "failing PSU")));
        AssertStatus(await DrainAsync("""{"drain":{"host":"xs-1"}}"""), HttpStatusCode.Conflict);

        var peak = 0;
        var report = await Eventually.HoldsAsync(async () =>
        {
            var d = await ShowAsync(drainId);
            peak = Math.Max(peak, d["progress"]!["moving"]!.GetValue<int>());
            return d;
        }, d => d["finished_at"] is not null, TimeSpan.FromSeconds(180), "the drain finished");
        await TestContext.Out.WriteLineAsync(report.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));

        Assert.That(peak, Is.InRange(1, 2), "never more moves at once than max_concurrent");
        Assert.That(report["status"]!.GetValue<string>(), Is.EqualTo("completed-with-errors"));
        var rows = report["servers"]!.AsArray().ToDictionary(r => r!["server_id"]!.GetValue<string>(), r => r!);
        foreach (var id in new[] { running1, running2, stopped, resized })
        {
            Assert.That(rows[id]["status"]!.GetValue<string>(), Is.EqualTo("moved"), rows[id].ToJsonString());
            Assert.That(rows[id]["destination_host"]!.GetValue<string>(), Is.AnyOf("xs-2", "xs-3"));
        }

        Assert.That(rows[resized]["method"]!.GetValue<string>(), Is.EqualTo("confirm"));
        Assert.That(rows[stopped]["method"]!.GetValue<string>(), Is.EqualTo("cold"));
        Assert.That(rows[running1]["method"]!.GetValue<string>(), Is.EqualTo("live"), "a running server moves live");
        Assert.That(rows[running2]["method"]!.GetValue<string>(), Is.EqualTo("live"));
        Assert.That(rows[suspended]["status"]!.GetValue<string>(), Is.EqualTo("failed"));
        Assert.That(rows[suspended]["error"]!.GetValue<string>(), Does.Contain("suspended"));
        var progress = report["progress"]!;
        Assert.That((progress["moved"]!.GetValue<int>(), progress["failed"]!.GetValue<int>(), progress["percent"]!.GetValue<int>()), Is.EqualTo((4, 1, 100)));

        // Each moved server runs (or rests) where the report says, with every byte, and nothing of it is left on xs-1.
        foreach (var (id, name) in new[] { (running1, "ev-run1"), (running2, "ev-run2"), (stopped, "ev-stop") })
        {
            var server = await ServerAsync(id);
            var host = server["OS-EXT-SRV-ATTR:host"]!.GetValue<string>();
            Assert.That(host, Is.EqualTo(rows[id]["destination_host"]!.GetValue<string>()));
            Assert.That(server["status"]!.GetValue<string>(), Is.EqualTo(name == "ev-stop" ? "SHUTOFF" : "ACTIVE"));
            Assert.That(HostNamed(host).Control.GetVmDiskSha256(name), Is.EqualTo(hashes[name]), $"{name}'s disk arrived intact");
            Assert.That(await VmsOfServerAsync(Lab[0], id), Is.Empty, $"{name} left xs-1");
        }

        Assert.That(await VmsOfServerAsync(Lab[0], resized), Is.Empty, "the resized server's old copy is gone from xs-1");
        Assert.That((await ServerAsync(resized))["status"]!.GetValue<string>(), Is.EqualTo("ACTIVE"));
        Assert.That(await OrphanVdisAsync(Lab[0]), Is.Empty);

        var listed = (await Gateway.GetAsync("/xenmigrate/v1/host-drains", Admin)).Json!["drains"]!.AsArray();
        Assert.That(listed.Select(d => d!["id"]!.GetValue<string>()), Does.Contain(drainId));
        await EnableAsync("xs-1");
    }

    [Test]
    public async Task DrainingAnEmptyHost_FinishesAtOnce_AndBadRequestsAreRefused()
    {
        var empty = await DrainAsync("""{"drain":{"host":"xs-3","max_concurrent":1}}""");
        AssertStatus(empty, HttpStatusCode.Accepted);
        Assert.That(empty.Json!["drain"]!["status"]!.GetValue<string>(), Is.AnyOf("completed", "running"));
        await EnableAsync("xs-3");

        AssertStatus(await DrainAsync("""{"drain":{"host":"nowhere"}}"""), HttpStatusCode.BadRequest);
        AssertStatus(await DrainAsync("""{"drain":{"host":"xs-2","max_concurrent":0}}"""), HttpStatusCode.BadRequest);
        AssertStatus(await DrainAsync("""{"drain":{"host":"xs-2","extra":1}}"""), HttpStatusCode.BadRequest);
        AssertStatus(await DrainAsync("""{"host":"xs-2"}"""), HttpStatusCode.BadRequest);
        AssertStatus(await DrainAsync("""{"drain":{"host":"xs-2"}}""", Demo), HttpStatusCode.Forbidden);
        AssertStatus(await Gateway.GetAsync($"/xenmigrate/v1/host-drains/{Guid.NewGuid()}", Admin), HttpStatusCode.NotFound);
        var services = (await Gateway.GetAsync("/v2.1/os-services?host=xs-2", Admin)).Json!["services"]!.AsArray();
        Assert.That(services[0]!["status"]!.GetValue<string>(), Is.EqualTo("enabled"), "a refused drain disables nothing");
    }

    [Test]
    public async Task TheDrainExtension_IsInTheOpenApiDocument()
    {
        var document = (await Gateway.GetAsync("/openapi/v1.json", null)).Json!;
        var paths = document["paths"]!.AsObject();
        Assert.That(paths.Select(p => p.Key), Is.SupersetOf(new[]
        {
            "/xenmigrate/v1/host-drains", "/xenmigrate/v1/host-drains/{drain_id}", "/xenmigrate/v1/host-drains/{drain_id}/cancel",
        }));
        Assert.That(paths["/xenmigrate/v1/host-drains"]!["post"]!["requestBody"], Is.Not.Null, "the request body is described");
    }

    private async Task EnableAsync(string host)
    {
        var response = await Gateway.SendJsonAsync(HttpMethod.Put, "/v2.1/os-services/enable", Admin, $$"""{"host":"{{host}}","binary":"nova-compute"}""");
        AssertStatus(response, HttpStatusCode.OK);
    }
}
