using System.Net;
using XenMigrate.Tests.Support;

namespace XenMigrate.Tests.Workflow;

/// <summary>What an admin sees in the Hangfire dashboard after real moves: names, no buttons, no paths, no reconciler flood.</summary>
public class DashboardJobsTests : WorkflowFixture
{
    protected override IEnumerable<string> ExtraGatewayArgs => ["--Workflow:ReconcileEvery=00:00:01"];

    private async Task<string> PageAsync(string path)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Add("X-Auth-Token", Admin);
        using var response = await Gateway.Http.SendAsync(request);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), path);
        return WebUtility.HtmlDecode(await response.Content.ReadAsStringAsync());
    }

    [Test]
    public async Task Steps_AreNamedByServerAndMigration_CannotBeRequeued_AndIdleReconcilerRunsAreNotListed()
    {
        var id = await SeedServerAsync(0, "dash-1", memoryMb: 1024, diskGb: 1);
        AssertStatus(await ActionAsync(id, Admin, """{"migrate":null}"""), HttpStatusCode.Accepted);
        await WaitForStatusAsync(id, "VERIFY_RESIZE");
        var migration = (await MigrationAsync(id))["uuid"]!.GetValue<string>();

        // The reconciler has ticked every second meanwhile, finding nothing.
        var succeeded = await PageAsync("/hangfire/jobs/succeeded");
        Assert.That(succeeded, Does.Contain($"Migration {migration} of server dash-1 ({id}): copy the disks while the server runs"));
        Assert.That(succeeded, Does.Contain($"Migration {migration} of server dash-1 ({id}): plan the move and prepare the destination"));
        Assert.That(succeeded, Does.Not.Contain("Resume stalled"), "idle reconciler runs are listed nowhere");
        Assert.That(succeeded, Does.Not.Contain("Requeue").And.Not.Contain("Delete selected"), "a finished step cannot be re-run from here");

        var home = await PageAsync("/hangfire");
        Assert.That(home, Does.Not.Contain(".db").And.Not.Contain(Path.GetTempPath().TrimEnd('/')), "no storage path in the footer");
        var recurring = await PageAsync("/hangfire/recurring");
        Assert.That(recurring, Does.Not.Contain("Trigger now"), "read-only: the reconciler runs on its own schedule");

        AssertStatus(await ActionAsync(id, Demo, """{"confirmResize":null}"""), HttpStatusCode.NoContent);
        await WaitForStatusAsync(id, "ACTIVE");
    }
}
