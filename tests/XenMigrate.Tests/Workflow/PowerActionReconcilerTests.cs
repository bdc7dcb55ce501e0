using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using XenMigrate.Domain.InstanceActions;
using XenMigrate.Domain.Servers;
using XenMigrate.Infrastructure.Persistence;
using XenMigrate.Tests.Support;

namespace XenMigrate.Tests.Workflow;

/// <summary>
/// A power action whose process died between its commit and its job (or mid-job) is finished by the
/// reconciler, which runs every second here; the inventory leaves the task alone meanwhile.
/// </summary>
[NonParallelizable]
public abstract class PowerActionReconcilerTests : WorkflowFixture
{
    protected override IEnumerable<string> ExtraGatewayArgs => ["--Workflow:ReconcileAfter=00:00:02", "--Workflow:ReconcileEvery=00:00:01"];

    [Test]
    public async Task ATaskCommittedWithoutItsJob_IsFinishedByTheReconciler_WithoutTouchingTheVmTwice()
    {
        // The process died after committing stop and after halting the VM, before recording it:
        // the inventory must leave the task alone, and the re-run only records the halted VM.
        var id = await SeedServerAsync(2, "pw-crash", memoryMb: 512, diskGb: 1);
        var requestId = "req-" + Guid.NewGuid();
        await ChangeServerAsync(Gateway, id, (s, db) =>
        {
            s.BeginPowerAction(PowerAction.Stop, callerIsAdmin: false, DateTime.UtcNow);
            db.InstanceActions.Add(new InstanceAction(s.Id, "stop", requestId, s.UserId, s.ProjectId, DateTime.UtcNow));
        });
        await using (var session = await OpenAsync(Lab[2]))
        {
            var vm = (await VmsOfServerAsync(Lab[2], id)).Single();
            await session.CallAsync("VM.hard_shutdown", CancellationToken.None, vm.Ref);
        }

        var stopped = await WaitForStatusAsync(id, "SHUTOFF", seconds: 30);
        Assert.That(stopped["OS-EXT-STS:power_state"]!.GetValue<int>(), Is.EqualTo(4));
        var detail = (await Gateway.GetAsync($"/v2.1/servers/{id}/os-instance-actions/{requestId}", Admin)).Json!["instanceAction"]!;
        Assert.That(detail["events"]!.AsArray().Select(e => (e!["event"]!.GetValue<string>(), e["result"]!.GetValue<string>())),
            Is.EqualTo(new[] { ("compute_stop_instance", "Success") }));
    }

    internal static async Task ChangeServerAsync(GatewayInstance gateway, string id, Action<Server, XenMigrateDbContext> change)
    {
        await using var scope = gateway.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<XenMigrateDbContext>();
        var server = await db.Servers.SingleAsync(s => s.Id == Guid.Parse(id));
        change(server, db);
        await db.SaveChangesAsync();
    }
}

public sealed class SqlitePowerActionReconcilerTests : PowerActionReconcilerTests
{
    protected override DatabaseKind Kind => DatabaseKind.Sqlite;
}

/// <summary>The same on PostgreSQL: advisory locks, and the reconciler's query on its provider.</summary>
[Category(TestCategories.External)]
public sealed class PostgreSqlPowerActionReconcilerTests : PowerActionReconcilerTests
{
    protected override DatabaseKind Kind => DatabaseKind.PostgreSql;
}
