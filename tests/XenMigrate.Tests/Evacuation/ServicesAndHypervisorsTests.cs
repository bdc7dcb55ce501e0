using System.Net;
using System.Text.Json.Nodes;
using XenMigrate.Tests.Support;
using XenMigrate.Tests.Workflow;

namespace XenMigrate.Tests.Evacuation;

/// <summary>os-services and os-hypervisors over three simulated hosts: Nova's shapes per microversion, and the scheduler obeying a disabled service.</summary>
[NonParallelizable]
public class ServicesAndHypervisorsTests : WorkflowFixture
{
    private Task<ApiResponse> PutAsync(string path, string body, string microversion, string? token = null) =>
        Gateway.SendJsonAsync(HttpMethod.Put, path, token ?? Admin, body, microversion);

    private async Task<JsonArray> ServicesAsync(string microversion = "2.53") =>
        (await Gateway.GetAsync("/v2.1/os-services", Admin, microversion)).Json!["services"]!.AsArray();

    [Test]
    public async Task Services_ListEveryHostAsAnUpEnabledComputeService_InEachMicroversionShape()
    {
        var legacy = await ServicesAsync("2.1");
        Assert.That(legacy.Select(s => s!["host"]!.GetValue<string>()), Is.EquivalentTo(new[] { "xs-1", "xs-2", "xs-3" }));
        var first = legacy[0]!.AsObject();
        Assert.That(first.Select(p => p.Key), Is.EquivalentTo(new[] { "id", "binary", "disabled_reason", "host", "state", "status", "updated_at", "zone" }));
        Assert.That(first["id"]!.GetValueKind(), Is.EqualTo(System.Text.Json.JsonValueKind.Number));
        Assert.That((first["binary"]!.GetValue<string>(), first["state"]!.GetValue<string>(), first["status"]!.GetValue<string>()),
            Is.EqualTo(("nova-compute", "up", "enabled")));
        Assert.That(first["updated_at"]!.GetValue<string>(), Does.Match(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$"));

        var v211 = await ServicesAsync("2.11");
        Assert.That(v211[0]!["forced_down"]!.GetValue<bool>(), Is.False);
        var v253 = await ServicesAsync("2.53");
        Assert.That(Guid.TryParse(v253[0]!["id"]!.GetValue<string>(), out _), "uuid ids from 2.53");

        var filtered = (await Gateway.GetAsync("/v2.1/os-services?binary=nova-compute&host=xs-2", Admin)).Json!["services"]!.AsArray();
        Assert.That(filtered.Select(s => s!["host"]!.GetValue<string>()), Is.EqualTo(new[] { "xs-2" }));
        Assert.That((await Gateway.GetAsync("/v2.1/os-services?binary=nova-scheduler", Admin)).Json!["services"]!.AsArray(), Is.Empty);
        Assert.That((await Gateway.GetAsync("/v2.1/os-services", Demo)).Status, Is.EqualTo(HttpStatusCode.Forbidden));
    }

    [Test]
    public async Task DisabledService_IsSkippedByTheScheduler_AndEnablingItAgainRestoresIt()
    {
        var xs2 = (await ServicesAsync()).Single(s => s!["host"]!.GetValue<string>() == "xs-2")!["id"]!.GetValue<string>();
        var disabled = await PutAsync($"/v2.1/os-services/{xs2}", """{"status":"disabled","disabled_reason":"failing PSU"}""", "2.53");
        AssertStatus(disabled, HttpStatusCode.OK);
        Assert.That((disabled.Json!["service"]!["status"]!.GetValue<string>(), disabled.Json["service"]!["disabled_reason"]!.GetValue<string>()),
            Is.EqualTo(("disabled", "failing PSU")));
        try
        {
            // With xs-2 disabled, a cold migration off xs-1 can only land on xs-3.
            var id = await SeedServerAsync(0, "svc-mig", memoryMb: 512, diskGb: 1);
            AssertStatus(await ActionAsync(id, Admin, """{"migrate":null}"""), HttpStatusCode.Accepted);
            var moved = await WaitForStatusAsync(id, "VERIFY_RESIZE");
            Assert.That(moved["OS-EXT-SRV-ATTR:host"]!.GetValue<string>(), Is.EqualTo("xs-3"));
            AssertStatus(await ActionAsync(id, Admin, """{"confirmResize":null}"""), HttpStatusCode.NoContent);
            await WaitForStatusAsync(id, "ACTIVE");

            // Asking for the disabled host by name is refused by the scheduler: the migration errors, the server stays.
            AssertStatus(await ActionAsync(id, Admin, """{"migrate":{"host":"xs-2"}}""", "2.56"), HttpStatusCode.Accepted);
            await Eventually.HoldsAsync(() => MigrationAsync(id), m => m["status"]!.GetValue<string>() == "error", TimeSpan.FromSeconds(30));
            var after = await WaitForStatusAsync(id, "ACTIVE");
            Assert.That(after["OS-EXT-SRV-ATTR:host"]!.GetValue<string>(), Is.EqualTo("xs-3"));
        }
        finally
        {
            AssertStatus(await PutAsync($"/v2.1/os-services/{xs2}", """{"status":"enabled"}""", "2.53"), HttpStatusCode.OK);
        }

        var again = (await ServicesAsync()).Single(s => s!["host"]!.GetValue<string>() == "xs-2")!;
        Assert.That((again["status"]!.GetValue<string>(), again["disabled_reason"]), Is.EqualTo(("enabled", (JsonNode?)null)));
    }

    [Test]
    public async Task LegacyActions_DisableLogReason_Enable_ForceDown()
    {
        var disabled = await PutAsync("/v2.1/os-services/disable-log-reason", """{"host":"xs-3","binary":"nova-compute","disabled_reason":"maintenance"}""", "2.1");
        AssertStatus(disabled, HttpStatusCode.OK);
        Assert.That(disabled.Json!["service"]!.ToJsonString(), Is.EqualTo("""{"host":"xs-3","binary":"nova-compute","status":"disabled","disabled_reason":"maintenance"}"""));
        var down = await PutAsync("/v2.1/os-services/force-down", """{"host":"xs-3","binary":"nova-compute","forced_down":true}""", "2.11");
        AssertStatus(down, HttpStatusCode.OK);
        var listed = (await ServicesAsync("2.11")).Single(s => s!["host"]!.GetValue<string>() == "xs-3")!;
        Assert.That((listed["state"]!.GetValue<string>(), listed["forced_down"]!.GetValue<bool>()), Is.EqualTo(("down", true)));

        AssertStatus(await PutAsync("/v2.1/os-services/force-down", """{"host":"xs-3","binary":"nova-compute","forced_down":false}""", "2.11"), HttpStatusCode.OK);
        var enabled = await PutAsync("/v2.1/os-services/enable", """{"host":"xs-3","binary":"nova-compute"}""", "2.1");
        Assert.That(enabled.Json!["service"]!.ToJsonString(), Is.EqualTo("""{"host":"xs-3","binary":"nova-compute","status":"enabled"}"""));
    }

    [TestCase("2.53", "/v2.1/os-services/not-a-uuid", """{"status":"disabled"}""", HttpStatusCode.BadRequest, "Invalid uuid not-a-uuid")]
    [TestCase("2.53", "/v2.1/os-services/00000000-0000-0000-0000-000000000001", """{"status":"disabled"}""", HttpStatusCode.NotFound, "Service 00000000-0000-0000-0000-000000000001 could not be found.")]
    [TestCase("2.53", "/v2.1/os-services/{xs1}", """{"status":"enabled","disabled_reason":"x"}""", HttpStatusCode.BadRequest, "Specifying 'disabled_reason' with status 'enabled' is invalid.")]
    [TestCase("2.53", "/v2.1/os-services/{xs1}", """{}""", HttpStatusCode.BadRequest, "No updates were requested. Fields 'status' or 'forced_down' should be specified.")]
    [TestCase("2.53", "/v2.1/os-services/{xs1}", """{"status":"off"}""", HttpStatusCode.BadRequest, "'off' is not one of ['enabled', 'disabled']")]
    [TestCase("2.53", "/v2.1/os-services/{xs1}", """{"forced_down":"maybe"}""", HttpStatusCode.BadRequest, "Invalid input for field/attribute forced_down")]
    [TestCase("2.53", "/v2.1/os-services/{xs1}", """{"forced_down":"t"}""", HttpStatusCode.BadRequest, "Invalid input for field/attribute forced_down. Value: t. 't' is not one of [True, 'True'")]
    [TestCase("2.53", "/v2.1/os-services/{xs1}", """{"forced_down":1}""", HttpStatusCode.BadRequest, "Value: 1. 1 is not of type 'boolean', 'string'")]
    [TestCase("2.1", "/v2.1/os-services/reboot", """{"host":"xs-1","binary":"nova-compute"}""", HttpStatusCode.NotFound, "Unknown action")]
    [TestCase("2.1", "/v2.1/os-services/disable", """{"host":"xs-1","binary":"nova-compute","forced_down":true}""", HttpStatusCode.BadRequest, "Additional properties are not allowed")]
    [TestCase("2.1", "/v2.1/os-services/force-down", """{"host":"xs-1","binary":"nova-compute","forced_down":true}""", HttpStatusCode.BadRequest, "Additional properties are not allowed")]
    [TestCase("2.11", "/v2.1/os-services/force-down", """{"host":"xs-1","binary":"nova-compute"}""", HttpStatusCode.BadRequest, "Missing forced_down field")]
    [TestCase("2.1", "/v2.1/os-services/disable", """{"host":"nowhere","binary":"nova-compute"}""", HttpStatusCode.NotFound, "Could not find binary nova-compute on host nowhere.")]
    [TestCase("2.1", "/v2.1/os-services/disable", """{"host":"xs-1","binary":"nova-scheduler"}""", HttpStatusCode.BadRequest, "Updating a nova-scheduler service is not supported.")]
    [TestCase("2.1", "/v2.1/os-services/disable-log-reason", """{"host":"xs-1","binary":"nova-compute"}""", HttpStatusCode.BadRequest, "Missing disabled reason field")]
    [TestCase("2.1", "/v2.1/os-services/disable", """[]""", HttpStatusCode.BadRequest, "Malformed request body")]
    public async Task BadServiceUpdates_GetNovasErrors(string microversion, string path, string body, HttpStatusCode status, string message)
    {
        var xs1 = (await ServicesAsync()).Single(s => s!["host"]!.GetValue<string>() == "xs-1")!["id"]!.GetValue<string>();
        var response = await PutAsync(path.Replace("{xs1}", xs1, StringComparison.Ordinal), body, microversion);
        AssertStatus(response, status);
        var fault = response.Json!.AsObject().Single().Value!["message"]!.GetValue<string>();
        Assert.That(fault, Does.Contain(message));
        Assert.That((await ServicesAsync()).All(s => s!["status"]!.GetValue<string>() == "enabled"), "nothing changed");
    }

    [Test]
    public async Task Hypervisors_ShowMemoryAndDiskUseReadFromTheHosts()
    {
        var id = await SeedServerAsync(1, "hyp-guest", memoryMb: 1024, vcpus: 2, diskGb: 1);
        var list = (await Gateway.GetAsync("/v2.1/os-hypervisors", Admin, "2.1")).Json!["hypervisors"]!.AsArray();
        Assert.That(list.Select(h => h!["hypervisor_hostname"]!.GetValue<string>()), Is.EquivalentTo(new[] { "xs-1", "xs-2", "xs-3" }));

        var detail = (await Gateway.GetAsync("/v2.1/os-hypervisors/detail", Admin, "2.28")).Json!["hypervisors"]!.AsArray();
        var xs2 = detail.Single(h => h!["hypervisor_hostname"]!.GetValue<string>() == "xs-2")!;
        var memoryTotal = Lab[1].Options.MemoryBytes >> 20;
        Assert.That(xs2["memory_mb"]!.GetValue<long>(), Is.EqualTo(memoryTotal));
        Assert.That(xs2["memory_mb_used"]!.GetValue<long>(), Is.GreaterThanOrEqualTo(1024), "the running guest's memory is in use");
        Assert.That(xs2["free_ram_mb"]!.GetValue<long>(), Is.EqualTo(memoryTotal - xs2["memory_mb_used"]!.GetValue<long>()));
        Assert.That(xs2["local_gb"]!.GetValue<long>(), Is.EqualTo(Lab[1].Options.StorageBytes >> 30));
        Assert.That(xs2["running_vms"]!.GetValue<int>(), Is.GreaterThanOrEqualTo(1));
        Assert.That(xs2["vcpus_used"]!.GetValue<int>(), Is.GreaterThanOrEqualTo(2));
        Assert.That(xs2["cpu_info"]!.GetValueKind(), Is.EqualTo(System.Text.Json.JsonValueKind.Object), "an object from 2.28");
        Assert.That(xs2["service"]!["host"]!.GetValue<string>(), Is.EqualTo("xs-2"));

        var uuidList = (await Gateway.GetAsync("/v2.1/os-hypervisors?with_servers=true", Admin, "2.53")).Json!["hypervisors"]!.AsArray();
        var withServer = uuidList.Single(h => h!["hypervisor_hostname"]!.GetValue<string>() == "xs-2")!;
        Assert.That(withServer["servers"]!.AsArray().Select(s => s!["uuid"]!.GetValue<string>()), Does.Contain(id));
        var shown = await Gateway.GetAsync($"/v2.1/os-hypervisors/{withServer["id"]!.GetValue<string>()}", Admin, "2.88");
        AssertStatus(shown, HttpStatusCode.OK);
        Assert.That(shown.Json!["hypervisor"]!.AsObject().ContainsKey("memory_mb"), Is.False, "2.88 dropped the usage fields");

        var stats = (await Gateway.GetAsync("/v2.1/os-hypervisors/statistics", Admin, "2.1")).Json!["hypervisor_statistics"]!;
        Assert.That(stats["count"]!.GetValue<int>(), Is.EqualTo(3));
        Assert.That(stats["memory_mb"]!.GetValue<long>(), Is.EqualTo(Lab.Hosts.Sum(h => h.Options.MemoryBytes >> 20)));
        AssertStatus(await Gateway.GetAsync("/v2.1/os-hypervisors/statistics", Admin, "2.88"), HttpStatusCode.NotFound);
        AssertStatus(await Gateway.GetAsync("/v2.1/os-hypervisors/999", Admin, "2.1"), HttpStatusCode.NotFound);
        AssertStatus(await Gateway.GetAsync("/v2.1/os-hypervisors/999", Admin, "2.53"), HttpStatusCode.BadRequest);
        AssertStatus(await Gateway.GetAsync("/v2.1/os-hypervisors/detail", Demo), HttpStatusCode.Forbidden);
    }
}
