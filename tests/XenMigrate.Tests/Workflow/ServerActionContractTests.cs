using System.Net;
using System.Text;
using XenMigrate.Tests.Support;

namespace XenMigrate.Tests.Workflow;

/// <summary>The action endpoint's codes and messages (Nova's api-ref for server actions and its faults), races, and failures that roll back.</summary>
[NonParallelizable]
public class ServerActionContractTests : WorkflowFixture
{
    private string _id = null!;

    [OneTimeSetUp]
    public async Task SeedOne() => _id = await SeedServerAsync(0, "contract-1", memoryMb: 1024, diskGb: 1);

    private static IEnumerable<TestCaseData> BadBodies()
    {
        yield return new TestCaseData("{not json", "Malformed request body").SetName("malformed JSON");
        yield return new TestCaseData("""{"resize":{"flavorRef":"2"},"migrate":null}""", "Malformed request body").SetName("two actions");
        yield return new TestCaseData("{}", "Malformed request body").SetName("no action");
        yield return new TestCaseData("[]", "Malformed request body").SetName("array");
        yield return new TestCaseData("""{"shelve":null}""", "There is no such action: shelve").SetName("unknown action");
        yield return new TestCaseData("""{"reboot":null}""", "Invalid input for field/attribute reboot. Value: None. None is not of type 'object'").SetName("reboot not an object");
        yield return new TestCaseData("""{"reboot":{}}""", "Invalid input for field/attribute reboot. Value: {}. 'type' is a required property").SetName("reboot without type");
        yield return new TestCaseData("""{"reboot":{"type":"WARM"}}""", "Invalid input for field/attribute type. Value: WARM. 'WARM' is not one of ['HARD', 'Hard', 'hard', 'SOFT', 'Soft', 'soft']").SetName("reboot of an unknown type");
        yield return new TestCaseData("""{"reboot":{"type":"hard","force":true}}""", "Additional properties are not allowed ('force' was unexpected)").SetName("reboot with an extra key");
        yield return new TestCaseData("""{"resize":{}}""", "'flavorRef' is a required property").SetName("resize without flavorRef");
        yield return new TestCaseData("""{"resize":{"flavorRef":""}}""", "is not valid under any of the given schemas").SetName("empty flavorRef");
        yield return new TestCaseData("""{"resize":{"flavorRef":"2","colour":"red"}}""", "Additional properties are not allowed ('colour' was unexpected)").SetName("extra key");
        yield return new TestCaseData("""{"resize":{"flavorRef":"2","OS-DCF:diskConfig":"SIDEWAYS"}}""", "is not one of ['AUTO', 'MANUAL']").SetName("bad diskConfig");
        yield return new TestCaseData("""{"resize":"2"}""", "is not of type 'object'").SetName("resize not an object");
        yield return new TestCaseData("""{"resize":{"flavorRef":"99"}}""", "Flavor 99 could not be found.").SetName("unknown flavor");
        yield return new TestCaseData("""{"resize":{"flavorRef":"w1"}}""", "When resizing, instances must change flavor!").SetName("same flavor");
        yield return new TestCaseData("""{"resize":{"flavorRef":"1"}}""", "Server disk was unable to be resized because").SetName("memory down is fine, disk down is not (m1.tiny has 1 GB: same)");
    }

    [TestCaseSource(nameof(BadBodies))]
    public async Task BadRequests_Are400WithNovasMessage_AndChangeNothing(string body, string message)
    {
        var r = await ActionAsync(_id, Demo, body);
        if (message.StartsWith("Server disk", StringComparison.Ordinal))
        {
            // m1.tiny keeps the 1 GB disk: memory may shrink, so this one is accepted by Nova's rules; take it back.
            AssertStatus(r, HttpStatusCode.Accepted);
            await WaitForStatusAsync(_id, "VERIFY_RESIZE");
            AssertStatus(await ActionAsync(_id, Demo, """{"revertResize":null}"""), HttpStatusCode.Accepted);
            await WaitForStatusAsync(_id, "ACTIVE");
            return;
        }

        AssertStatus(r, HttpStatusCode.BadRequest);
        Assert.That(r.Json!["badRequest"]!["message"]!.GetValue<string>(), Does.Contain(message));
        Assert.That((await ServerAsync(_id))["status"]!.GetValue<string>(), Is.EqualTo("ACTIVE"));
    }

    [Test]
    public async Task DiskShrink_IsRefusedBeforeAnythingMoves()
    {
        var id = await SeedServerAsync(1, "contract-big", memoryMb: 2048, diskGb: 2);
        var r = await ActionAsync(id, Demo, """{"resize":{"flavorRef":"w1"}}""");
        AssertStatus(r, HttpStatusCode.BadRequest);
        Assert.That(r.Json!["badRequest"]!["message"]!.GetValue<string>(), Does.StartWith("Server disk was unable to be resized because: "));
        Assert.That((await ServerAsync(id))["status"]!.GetValue<string>(), Is.EqualTo("ACTIVE"));
    }

    [Test]
    public async Task WrongContentType_Is415_UnknownServer_Is404_OthersServer_Is404()
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/v2.1/servers/{_id}/action")
        {
            Content = new StringContent("""{"confirmResize":null}""", Encoding.UTF8, "application/xml"),
        };
        request.Headers.Add("X-Auth-Token", Demo);
        var r = await Gateway.SendAsync(request);
        AssertStatus(r, HttpStatusCode.UnsupportedMediaType);
        Assert.That(r.Json!["badMediaType"]!["message"]!.GetValue<string>(), Is.EqualTo("Unsupported Content-Type"));

        var missing = await ActionAsync(Guid.NewGuid().ToString(), Demo, """{"resize":{"flavorRef":"w2"}}""");
        AssertStatus(missing, HttpStatusCode.NotFound);
        var other = await ActionAsync(_id, await Gateway.TokenAsync(TestUsers.Other), """{"resize":{"flavorRef":"w2"}}""");
        AssertStatus(other, HttpStatusCode.NotFound);
        var reader = await ActionAsync(_id, await Gateway.TokenAsync(TestUsers.Reader), """{"resize":{"flavorRef":"w2"}}""");
        AssertStatus(reader, HttpStatusCode.Forbidden);
        Assert.That(reader.Json!["forbidden"]!["message"]!.GetValue<string>(), Is.EqualTo("Policy doesn't allow os_compute_api:servers:resize to be performed."));
    }

    [Test]
    public async Task ConfirmOrRevert_OfAnActiveServer_Is409WithNovasMessage()
    {
        var confirm = await ActionAsync(_id, Demo, """{"confirmResize":null}""");
        AssertStatus(confirm, HttpStatusCode.Conflict);
        Assert.That(confirm.Json!["conflictingRequest"]!["message"]!.GetValue<string>(),
            Is.EqualTo($"Cannot 'confirmResize' instance {_id} while it is in vm_state active"));
        AssertStatus(await ActionAsync(_id, Demo, """{"revertResize":null}"""), HttpStatusCode.Conflict);
    }

    [Test]
    public async Task MigrateToAnUnknownOrTheSameHost_Is400()
    {
        var unknown = await ActionAsync(_id, Admin, """{"migrate":{"host":"xs-9"}}""", "2.56");
        AssertStatus(unknown, HttpStatusCode.BadRequest);
        Assert.That(unknown.Json!["badRequest"]!["message"]!.GetValue<string>(), Is.EqualTo("Compute host xs-9 could not be found."));
        var same = await ActionAsync(_id, Admin, """{"migrate":{"host":"xs-1"}}""", "2.56");
        AssertStatus(same, HttpStatusCode.BadRequest);
        Assert.That(same.Json!["badRequest"]!["message"]!.GetValue<string>(), Is.EqualTo("Cannot migrate to the host where the server exists."));
        var badHost = await ActionAsync(_id, Admin, """{"migrate":{"host":"no spaces!"}}""", "2.56");
        AssertStatus(badHost, HttpStatusCode.BadRequest);
    }

    [Test]
    public async Task ConcurrentResizes_ExactlyOneIsAccepted()
    {
        var id = await SeedServerAsync(2, "contract-race", memoryMb: 1024, diskGb: 1);
        var attempts = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => ActionAsync(id, Demo, """{"resize":{"flavorRef":"w2"}}""")));
        Assert.That(attempts.Count(a => a.Status == HttpStatusCode.Accepted), Is.EqualTo(1), string.Join("\n", attempts.Select(a => a.Text)));
        var refused = attempts.Where(a => a.Status != HttpStatusCode.Accepted).ToList();
        Assert.That(refused.Select(a => a.Status), Is.All.EqualTo(HttpStatusCode.Conflict));
        Assert.That(refused.Select(a => a.Json!["conflictingRequest"]!["message"]!.GetValue<string>()),
            Is.All.Match($"^Cannot 'resize' instance {id} while it is in (task_state resize_prep|task_state resize_migrating|task_state resize_migrated|task_state resize_finish|vm_state resized)$"));

        await WaitForStatusAsync(id, "VERIFY_RESIZE");
        var confirms = await Task.WhenAll(
            ActionAsync(id, Demo, """{"confirmResize":null}"""), ActionAsync(id, Demo, """{"revertResize":null}"""),
            ActionAsync(id, Demo, """{"confirmResize":null}"""), ActionAsync(id, Demo, """{"revertResize":null}"""));
        Assert.That(confirms.Count(c => c.Status is HttpStatusCode.NoContent or HttpStatusCode.Accepted), Is.EqualTo(1),
            "confirm racing revert: one wins; " + string.Join(" | ", confirms.Select(c => $"{(int)c.Status} {c.Text}")));
        await Eventually.HoldsAsync(() => ServerAsync(id), s => s["status"]!.GetValue<string>() == "ACTIVE" && s["OS-EXT-STS:task_state"] is null,
            TimeSpan.FromSeconds(60));
        var migrations = (await Gateway.GetAsync($"/v2.1/os-migrations?instance_uuid={id}", Admin)).Json!["migrations"]!.AsArray();
        Assert.That(migrations, Has.Count.EqualTo(1));
        Assert.That((await VmsOfServerAsync(Lab[0], id)).Count + (await VmsOfServerAsync(Lab[1], id)).Count + (await VmsOfServerAsync(Lab[2], id)).Count,
            Is.EqualTo(1), "exactly one VM for the server once it settles");
    }

    [Test]
    public async Task FailureOnTheDestination_RollsBack_VmRunningWhereItWas_NoOrphans()
    {
        var id = await SeedServerAsync(1, "contract-fail", memoryMb: 1024, diskGb: 1);
        var sha = Lab[1].Control.GetVmDiskSha256("contract-fail");
        foreach (var host in new[] { Lab[0], Lab[2] }) host.Faults.FailNext("VM.create", "INTERNAL_ERROR", ["injected"], times: 10);
        try
        {
            AssertStatus(await ActionAsync(id, Demo, """{"resize":{"flavorRef":"w2"}}"""), HttpStatusCode.Accepted);
            var settled = await Eventually.HoldsAsync(() => MigrationAsync(id), m => m["status"]!.GetValue<string>() == "error", TimeSpan.FromSeconds(60));
            Assert.That(settled["status"]!.GetValue<string>(), Is.EqualTo("error"));
        }
        finally
        {
            foreach (var host in new[] { Lab[0], Lab[2] }) host.Faults.Clear();
        }

        var server = await WaitForStatusAsync(id, "ACTIVE");
        Assert.That(server["OS-EXT-SRV-ATTR:host"]!.GetValue<string>(), Is.EqualTo("xs-2"));
        Assert.That(server["flavor"]!["original_name"]!.GetValue<string>(), Is.EqualTo("w1.small"));
        var vm = (await VmsOfServerAsync(Lab[1], id)).Single();
        Assert.That(vm.PowerState, Is.EqualTo("Running"));
        Assert.That(Lab[1].Control.GetVmDiskSha256("contract-fail"), Is.EqualTo(sha));
        foreach (var host in Lab.Hosts) Assert.That(await OrphanVdisAsync(host), Is.Empty, host.Name);
        var action = (await Gateway.GetAsync($"/v2.1/servers/{id}/os-instance-actions", Demo)).Json!["instanceActions"]![0]!;
        Assert.That(action["message"]!.GetValue<string>(), Is.EqualTo("Error"));
    }

    [Test]
    public async Task NoHostWithRoom_FailsTheMigration_ServerStaysActive()
    {
        var id = await SeedServerAsync(2, "contract-huge", memoryMb: 1024, diskGb: 1);
        await using (var scope = Microsoft.Extensions.DependencyInjection.ServiceProviderServiceExtensions.CreateAsyncScope(Gateway.Services))
        {
            var db = Microsoft.Extensions.DependencyInjection.ServiceProviderServiceExtensions.GetRequiredService<XenMigrate.Infrastructure.Persistence.XenMigrateDbContext>(scope.ServiceProvider);
            // Bigger than any 16 GiB host, yet within the default ram quota (51200 MB), which a resize must also fit.
            db.Flavors.Add(new XenMigrate.Domain.Flavors.Flavor("w-huge", "w.huge", 32 * 1024, 2, 1));
            await db.SaveChangesAsync();
        }

        AssertStatus(await ActionAsync(id, Demo, """{"resize":{"flavorRef":"w-huge"}}"""), HttpStatusCode.Accepted);
        await Eventually.HoldsAsync(() => MigrationAsync(id), m => m["status"]!.GetValue<string>() == "error", TimeSpan.FromSeconds(30));
        var server = await WaitForStatusAsync(id, "ACTIVE");
        Assert.That(server["flavor"]!["original_name"]!.GetValue<string>(), Is.EqualTo("w1.small"));
    }
}
