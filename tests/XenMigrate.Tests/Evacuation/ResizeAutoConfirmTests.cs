using System.Net;
using XenMigrate.Tests.Support;
using XenMigrate.Tests.Workflow;

namespace XenMigrate.Tests.Evacuation;

/// <summary>Nova's resize_confirm_window as Workflow:ResizeConfirmWindow: an unconfirmed resize is confirmed once the window has passed.</summary>
[NonParallelizable]
public class ResizeAutoConfirmTests : WorkflowFixture
{
    protected override IEnumerable<string> ExtraGatewayArgs => ["--Workflow:ResizeConfirmWindow=00:00:03"];

    [Test]
    public async Task AResizeLeftInVerifyResize_IsConfirmedAfterTheWindow()
    {
        var id = await SeedServerAsync(0, "auto-confirm", memoryMb: 512, diskGb: 1);
        AssertStatus(await ActionAsync(id, Demo, """{"resize":{"flavorRef":"w2"}}"""), HttpStatusCode.Accepted);
        var resized = await WaitForStatusAsync(id, "VERIFY_RESIZE");
        var finishedAt = DateTime.UtcNow;
        var dest = resized["OS-EXT-SRV-ATTR:host"]!.GetValue<string>();

        var confirmed = await WaitForStatusAsync(id, "ACTIVE", seconds: 30);
        Assert.That(DateTime.UtcNow - finishedAt, Is.GreaterThanOrEqualTo(TimeSpan.FromSeconds(2)), "not before the window");
        Assert.That(confirmed["OS-EXT-SRV-ATTR:host"]!.GetValue<string>(), Is.EqualTo(dest));
        await Eventually.HoldsAsync(() => MigrationAsync(id), m => m["status"]!.GetValue<string>() == "confirmed", TimeSpan.FromSeconds(30));
        Assert.That(await VmsOfServerAsync(Lab[0], id), Is.Empty, "the source copy went as on a user's confirm");

        var actions = (await Gateway.GetAsync($"/v2.1/servers/{id}/os-instance-actions", Admin)).Json!["instanceActions"]!.AsArray();
        Assert.That(actions.Select(a => a!["action"]!.GetValue<string>()), Does.Contain("confirmResize"));
    }
}
