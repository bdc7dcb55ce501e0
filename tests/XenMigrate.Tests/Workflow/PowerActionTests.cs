using System.Net;
using System.Text.Json.Nodes;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using XenMigrate.Domain.Servers;
using XenMigrate.Infrastructure.Persistence;
using XenMigrate.Tests.Support;

namespace XenMigrate.Tests.Workflow;

/// <summary>
/// os-stop, os-start, pause, unpause, suspend, resume and reboot end to end: real HTTP, the task_state
/// before the 202, the Hangfire job driving XAPI on the simulated host, Nova's 409s and policy.
/// </summary>
[NonParallelizable]
public abstract class PowerActionTests : WorkflowFixture
{
    private static readonly (string Body, string Action, string Task, string Status, int Power, string Xapi)[] Cycle =
    [
        ("""{"os-stop":null}""", "stop", "powering-off", "SHUTOFF", 4, "Halted"),
        ("""{"os-start":null}""", "start", "powering-on", "ACTIVE", 1, "Running"),
        ("""{"pause":null}""", "pause", "pausing", "PAUSED", 3, "Paused"),
        ("""{"unpause":null}""", "unpause", "unpausing", "ACTIVE", 1, "Running"),
        ("""{"suspend":{}}""", "suspend", "suspending", "SUSPENDED", 7, "Suspended"),
        ("""{"resume":null}""", "resume", "resuming", "ACTIVE", 1, "Running"),
    ];

    [Test]
    public async Task EveryPowerAction_ShowsItsTaskBeforeThe202_ThenReachesItsState_OnTheHost()
    {
        var id = await SeedServerAsync(0, "pw-cycle", memoryMb: 512, diskGb: 1);
        var requests = new List<string>();
        foreach (var (body, action, task, status, power, xapi) in Cycle)
        {
            // The XAPI call is held a moment, so the answer is seen while the job still works.
            Lab[0].Faults.DelayNext(XapiMethod(action), TimeSpan.FromSeconds(1));
            var accepted = await ActionAsync(id, Demo, body);
            AssertStatus(accepted, HttpStatusCode.Accepted);
            Assert.That(accepted.Text, Is.Empty);
            requests.Add(accepted.Header("x-openstack-request-id"));
            var during = await ServerAsync(id);
            Assert.That(during["OS-EXT-STS:task_state"]?.GetValue<string>(), Is.EqualTo(task), $"{action}: task_state before the answer");

            var done = await WaitForStatusAsync(id, status);
            Assert.That(done["OS-EXT-STS:power_state"]!.GetValue<int>(), Is.EqualTo(power), action);
            Assert.That(done["OS-EXT-STS:vm_state"]!.GetValue<string>(), Is.EqualTo(status == "SHUTOFF" ? "stopped" : status.ToLowerInvariant()), action);
            Assert.That((await VmsOfServerAsync(Lab[0], id)).Single().PowerState, Is.EqualTo(xapi), $"{action} on the host");
        }

        // Instance actions: one per request, newest first, each with Nova's compute event, all successful.
        var list = (await Gateway.GetAsync($"/v2.1/servers/{id}/os-instance-actions", Demo)).Json!["instanceActions"]!.AsArray();
        Assert.That(list.Select(a => a!["action"]!.GetValue<string>()).Take(6), Is.EqualTo(new[] { "resume", "suspend", "unpause", "pause", "start", "stop" }));
        string[] events = ["compute_stop_instance", "compute_start_instance", "compute_pause_instance", "compute_unpause_instance", "compute_suspend_instance", "compute_resume_instance"];
        for (var i = 0; i < requests.Count; i++)
        {
            var detail = (await Gateway.GetAsync($"/v2.1/servers/{id}/os-instance-actions/{requests[i]}", Admin)).Json!["instanceAction"]!;
            Assert.That(detail["events"]!.AsArray().Select(e => (e!["event"]!.GetValue<string>(), e["result"]!.GetValue<string>())),
                Is.EqualTo(new[] { (events[i], "Success") }));
        }

        // Each step's versioned notifications went out: start and end, in order.
        await using var scope = Gateway.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<XenMigrateDbContext>();
        var types = await db.Set<Infrastructure.Notifications.OutboxMessage>().AsNoTracking()
            .Where(m => m.Payload.Contains(id)).OrderBy(m => m.Id).Select(m => m.EventType).ToListAsync();
        Assert.That(types, Is.EqualTo(new[]
        {
            "instance.power_off.start", "instance.power_off.end", "instance.power_on.start", "instance.power_on.end",
            "instance.pause.start", "instance.pause.end", "instance.unpause.start", "instance.unpause.end",
            "instance.suspend.start", "instance.suspend.end", "instance.resume.start", "instance.resume.end",
        }));
    }

    [Test]
    public async Task WrongState_Lock_Policy_AndAMigrationInProgress_AreRefusedAsNovaDoes()
    {
        var id = await SeedServerAsync(1, "pw-refuse", memoryMb: 512, diskGb: 1);

        await AssertConflictAsync(id, Demo, """{"os-start":null}""", $"Cannot 'start' instance {id} while it is in vm_state active");
        await AssertConflictAsync(id, Demo, """{"unpause":null}""", $"Cannot 'unpause' instance {id} while it is in vm_state active");
        await AssertConflictAsync(id, Demo, """{"resume":null}""", $"Cannot 'resume' instance {id} while it is in vm_state active");

        // Policy: another project's member does not see it; the project's reader may not act.
        var other = await Gateway.TokenAsync(TestUsers.Other);
        var reader = await Gateway.TokenAsync(TestUsers.Reader);
        AssertStatus(await ActionAsync(id, other, """{"os-stop":null}"""), HttpStatusCode.NotFound);
        var forbidden = await ActionAsync(id, reader, """{"pause":null}""");
        AssertStatus(forbidden, HttpStatusCode.Forbidden);
        Assert.That(forbidden.Json!["forbidden"]!["message"]!.GetValue<string>(), Is.EqualTo("Policy doesn't allow os_compute_api:os-pause-server:pause to be performed."));

        // Locked: 409 for the owner, while an admin may still act.
        await ChangeServerAsync(id, s => s.Lock("maintenance", DateTime.UtcNow));
        await AssertConflictAsync(id, Demo, """{"os-stop":null}""", $"Instance {id} is locked");
        AssertStatus(await ActionAsync(id, Admin, """{"suspend":null}"""), HttpStatusCode.Accepted);
        await WaitForStatusAsync(id, "SUSPENDED");
        await ChangeServerAsync(id, s => s.Unlock(DateTime.UtcNow));

        // Suspended: migrate and resize are refused (tempest test_migrate_server_invalid_state), as is stop.
        await AssertConflictAsync(id, Admin, """{"migrate":null}""", $"Cannot 'migrate' instance {id} while it is in vm_state suspended");
        await AssertConflictAsync(id, Demo, """{"resize":{"flavorRef":"2"}}""", $"Cannot 'resize' instance {id} while it is in vm_state suspended");
        await AssertConflictAsync(id, Demo, """{"pause":null}""", $"Cannot 'pause' instance {id} while it is in vm_state suspended");
        AssertStatus(await ActionAsync(id, Demo, """{"resume":null}"""), HttpStatusCode.Accepted);
        await WaitForStatusAsync(id, "ACTIVE");

        // A migration in progress: every power action is refused on its task_state.
        Lab[1].Faults.Throttle(5);
        try
        {
            AssertStatus(await ActionAsync(id, Demo, """{"resize":{"flavorRef":"2"}}"""), HttpStatusCode.Accepted);
            var conflict = await ActionAsync(id, Demo, """{"os-stop":null}""");
            AssertStatus(conflict, HttpStatusCode.Conflict);
            Assert.That(conflict.Json!["conflictingRequest"]!["message"]!.GetValue<string>(),
                Does.Match($"^Cannot 'stop' instance {id} while it is in task_state resize_(prep|migrating)$"));
        }
        finally
        {
            Lab[1].Faults.Throttle(null);
        }

        await WaitForStatusAsync(id, "VERIFY_RESIZE");
        await AssertConflictAsync(id, Demo, """{"pause":null}""", $"Cannot 'pause' instance {id} while it is in vm_state resized");
        AssertStatus(await ActionAsync(id, Demo, """{"revertResize":null}"""), HttpStatusCode.Accepted);
        await WaitForStatusAsync(id, "ACTIVE");
    }

    [Test]
    public async Task LockAndUnlock_GateTheOwnersActions_AndAnAdminsLockIsTheAdminsToLift()
    {
        var id = await SeedServerAsync(0, "pw-lock", memoryMb: 512, diskGb: 1);
        AssertStatus(await ActionAsync(id, Demo, """{"lock":{"locked_reason":"kernel update"}}""", "2.73"), HttpStatusCode.Accepted);
        var locked = (await Gateway.GetAsync($"/v2.1/servers/{id}", Demo, "2.73")).Json!["server"]!;
        Assert.That((locked["locked"]!.GetValue<bool>(), locked["locked_reason"]!.GetValue<string>()), Is.EqualTo((true, "kernel update")));
        await AssertConflictAsync(id, Demo, """{"os-stop":null}""", $"Instance {id} is locked");

        // The owner's lock: the owner lifts it, and so may an admin (the override).
        AssertStatus(await ActionAsync(id, Admin, """{"unlock":null}"""), HttpStatusCode.Accepted);
        Assert.That((await ServerAsync(id))["locked"]!.GetValue<bool>(), Is.False);

        // An admin's lock: the owner may not lift it.
        AssertStatus(await ActionAsync(id, Admin, """{"lock":null}""", "2.73"), HttpStatusCode.Accepted);
        var refused = await ActionAsync(id, Demo, """{"unlock":null}""");
        AssertStatus(refused, HttpStatusCode.Forbidden);
        Assert.That(refused.Json!["forbidden"]!["message"]!.GetValue<string>(),
            Is.EqualTo("Policy doesn't allow os_compute_api:os-lock-server:unlock:override to be performed."));
        AssertStatus(await ActionAsync(id, Admin, """{"unlock":null}"""), HttpStatusCode.Accepted);

        var bad = await ActionAsync(id, Demo, """{"lock":{"locked_reason":""}}""", "2.73");
        AssertStatus(bad, HttpStatusCode.BadRequest);
        Assert.That(bad.Json!["badRequest"]!["message"]!.GetValue<string>(), Is.EqualTo("Invalid input for field/attribute locked_reason. Value: . '' is too short"));
        AssertStatus(await ActionAsync(id, Demo, """{"lock":{"locked_reason":""}}""", "2.72"), HttpStatusCode.Accepted); // before 2.73 the body is not read
        AssertStatus(await ActionAsync(id, Demo, """{"unlock":null}"""), HttpStatusCode.Accepted);
        AssertStatus(await ActionAsync(id, await Gateway.TokenAsync(TestUsers.Reader), """{"lock":null}"""), HttpStatusCode.Forbidden);

        var actions = (await Gateway.GetAsync($"/v2.1/servers/{id}/os-instance-actions", Demo)).Json!["instanceActions"]!.AsArray()
            .Select(a => a!["action"]!.GetValue<string>()).ToList();
        Assert.That(actions.Count(a => a == "lock"), Is.EqualTo(3));
        Assert.That(actions.Count(a => a == "unlock"), Is.EqualTo(3));
    }

    [Test]
    public async Task StopResizeConfirm_StaysShutoff_ThenStartsOnTheDestination()
    {
        // tempest test_resize_server_confirm_from_stopped, step by step.
        var id = await SeedServerAsync(2, "pw-stopped", memoryMb: 512, diskGb: 1);
        AssertStatus(await ActionAsync(id, Demo, """{"os-stop":null}"""), HttpStatusCode.Accepted);
        await WaitForStatusAsync(id, "SHUTOFF");
        AssertStatus(await ActionAsync(id, Demo, """{"resize":{"flavorRef":"2"}}"""), HttpStatusCode.Accepted);
        var resized = await WaitForStatusAsync(id, "VERIFY_RESIZE");
        Assert.That(resized["OS-EXT-STS:power_state"]!.GetValue<int>(), Is.EqualTo(4));
        var dest = HostNamed(resized["OS-EXT-SRV-ATTR:host"]!.GetValue<string>());
        AssertStatus(await ActionAsync(id, Demo, """{"confirmResize":{}}"""), HttpStatusCode.NoContent);
        var confirmed = await WaitForStatusAsync(id, "SHUTOFF");
        Assert.That(confirmed["flavor"]!["original_name"]!.GetValue<string>(), Is.EqualTo("m1.small"));
        Assert.That((await VmsOfServerAsync(dest, id)).Single().PowerState, Is.EqualTo("Halted"));

        AssertStatus(await ActionAsync(id, Demo, """{"os-start":null}"""), HttpStatusCode.Accepted);
        var started = await WaitForStatusAsync(id, "ACTIVE");
        Assert.That(started["OS-EXT-SRV-ATTR:host"]!.GetValue<string>(), Is.EqualTo(dest.Name));
        Assert.That((await VmsOfServerAsync(dest, id)).Single().PowerState, Is.EqualTo("Running"));
        Assert.That(await VmsOfServerAsync(Lab[2], id), Is.Empty);
    }

    [Test]
    public async Task StopResizeRevert_StaysShutoff_OnTheSource()
    {
        var id = await SeedServerAsync(0, "pw-revert", memoryMb: 512, diskGb: 1);
        AssertStatus(await ActionAsync(id, Demo, """{"os-stop":null}"""), HttpStatusCode.Accepted);
        await WaitForStatusAsync(id, "SHUTOFF");
        AssertStatus(await ActionAsync(id, Demo, """{"resize":{"flavorRef":"2"}}"""), HttpStatusCode.Accepted);
        await WaitForStatusAsync(id, "VERIFY_RESIZE");
        AssertStatus(await ActionAsync(id, Demo, """{"revertResize":null}"""), HttpStatusCode.Accepted);
        var reverted = await WaitForStatusAsync(id, "SHUTOFF");
        Assert.That((reverted["OS-EXT-SRV-ATTR:host"]!.GetValue<string>(), reverted["OS-EXT-STS:power_state"]!.GetValue<int>()), Is.EqualTo(("xs-1", 4)));
        Assert.That((await VmsOfServerAsync(Lab[0], id)).Single().PowerState, Is.EqualTo("Halted"));
    }

    [Test]
    public async Task AFailingHost_DropsTheTask_WithAFaultAndAnErrorEvent()
    {
        var id = await SeedServerAsync(1, "pw-fail", memoryMb: 512, diskGb: 1);
        Lab[1].Faults.FailNext("VM.pause", "INTERNAL_ERROR", ["injected"], times: 1 + 3); // the first try and every retry
        var accepted = await ActionAsync(id, Demo, """{"pause":null}""");
        AssertStatus(accepted, HttpStatusCode.Accepted);
        var after = await WaitForStatusAsync(id, "ACTIVE", seconds: 60);
        Assert.That(after["OS-EXT-STS:power_state"]!.GetValue<int>(), Is.EqualTo(1));
        Assert.That((await VmsOfServerAsync(Lab[1], id)).Single().PowerState, Is.EqualTo("Running"));
        var detail = (await Gateway.GetAsync($"/v2.1/servers/{id}/os-instance-actions/{accepted.Header("x-openstack-request-id")}", Admin)).Json!["instanceAction"]!;
        Assert.That(detail["message"]!.GetValue<string>(), Is.EqualTo("Error"));
        Assert.That(detail["events"]![0]!["result"]!.GetValue<string>(), Is.EqualTo("Error"));
        Assert.That(detail["events"]![0]!["traceback"]!.GetValue<string>(), Does.StartWith("XenServer refused").And.EndWith("VM.pause: INTERNAL_ERROR"));

        // The server works again afterwards.
        AssertStatus(await ActionAsync(id, Demo, """{"pause":null}"""), HttpStatusCode.Accepted);
        await WaitForStatusAsync(id, "PAUSED");
    }

    [Test]
    public async Task Reboot_SoftAsksTheGuest_HardResetsIt_AndBothEndActive()
    {
        var id = await SeedServerAsync(0, "pw-reboot", memoryMb: 512, diskGb: 1);
        var cleanBefore = Lab[0].Control.CallCount("VM.clean_reboot");

        // A soft reboot asks the guest (it has PV drivers): REBOOT while it runs, ACTIVE after.
        Lab[0].Faults.DelayNext("VM.clean_reboot", TimeSpan.FromSeconds(1));
        var soft = await ActionAsync(id, Demo, """{"reboot":{"type":"SOFT"}}""");
        AssertStatus(soft, HttpStatusCode.Accepted);
        var during = await ServerAsync(id);
        Assert.That((during["status"]!.GetValue<string>(), during["OS-EXT-STS:task_state"]?.GetValue<string>()), Is.EqualTo(("REBOOT", "rebooting")));
        await WaitForStatusAsync(id, "ACTIVE");
        Assert.That(Lab[0].Control.CallCount("VM.clean_reboot"), Is.EqualTo(cleanBefore + 1), "the guest was asked to reboot");
        Assert.That((await VmsOfServerAsync(Lab[0], id)).Single().PowerState, Is.EqualTo("Running"));

        // Nova refuses a soft reboot of a server that is not active; a hard one boots it afresh.
        AssertStatus(await ActionAsync(id, Demo, """{"os-stop":null}"""), HttpStatusCode.Accepted);
        await WaitForStatusAsync(id, "SHUTOFF");
        await AssertConflictAsync(id, Demo, """{"reboot":{"type":"soft"}}""", $"Cannot 'reboot' instance {id} while it is in vm_state stopped");
        Lab[0].Faults.DelayNext("VM.start_on", TimeSpan.FromSeconds(1));
        var hard = await ActionAsync(id, Demo, """{"reboot":{"type":"HARD"}}""");
        AssertStatus(hard, HttpStatusCode.Accepted);
        // Nova's status map has no reboot entry for a stopped server: SHUTOFF, with the task showing.
        var rebooting = await ServerAsync(id);
        Assert.That((rebooting["status"]!.GetValue<string>(), rebooting["OS-EXT-STS:task_state"]?.GetValue<string>()), Is.EqualTo(("SHUTOFF", "rebooting_hard")));
        var after = await WaitForStatusAsync(id, "ACTIVE");
        Assert.That(after["OS-EXT-STS:power_state"]!.GetValue<int>(), Is.EqualTo(1));
        Assert.That((await VmsOfServerAsync(Lab[0], id)).Single().PowerState, Is.EqualTo("Running"));

        foreach (var request in new[] { soft.Header("x-openstack-request-id"), hard.Header("x-openstack-request-id") })
        {
            var detail = (await Gateway.GetAsync($"/v2.1/servers/{id}/os-instance-actions/{request}", Admin)).Json!["instanceAction"]!;
            Assert.That(detail["action"]!.GetValue<string>(), Is.EqualTo("reboot"));
            Assert.That(detail["events"]!.AsArray().Select(e => (e!["event"]!.GetValue<string>(), e["result"]!.GetValue<string>())),
                Is.EqualTo(new[] { ("compute_reboot_instance", "Success") }));
        }

        await using var scope = Gateway.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<XenMigrateDbContext>();
        var types = await db.Set<Infrastructure.Notifications.OutboxMessage>().AsNoTracking()
            .Where(m => m.Payload.Contains(id) && m.EventType.StartsWith("instance.reboot")).OrderBy(m => m.Id).Select(m => m.EventType).ToListAsync();
        Assert.That(types, Is.EqualTo(new[] { "instance.reboot.start", "instance.reboot.end", "instance.reboot.start", "instance.reboot.end" }));
    }

    [Test]
    public async Task SoftReboot_OfAGuestWithoutPvDrivers_FallsBackToAHardReset()
    {
        var id = await SeedServerAsync(0, "pw-reboot-noagent", memoryMb: 512, diskGb: 1, guestAgent: false);
        var hardBefore = Lab[0].Control.CallCount("VM.hard_reboot");
        AssertStatus(await ActionAsync(id, Demo, """{"reboot":{"type":"SOFT"}}"""), HttpStatusCode.Accepted);
        await WaitForStatusAsync(id, "ACTIVE");
        Assert.That(Lab[0].Control.CallCount("VM.hard_reboot"), Is.EqualTo(hardBefore + 1), "xapi refused the clean reboot, so the VM was reset");
        Assert.That((await VmsOfServerAsync(Lab[0], id)).Single().PowerState, Is.EqualTo("Running"));
    }

    [Test]
    public async Task HardReboot_OfAPausedServer_LeavesItRunning()
    {
        var id = await SeedServerAsync(1, "pw-reboot-paused", memoryMb: 512, diskGb: 1);
        AssertStatus(await ActionAsync(id, Demo, """{"pause":null}"""), HttpStatusCode.Accepted);
        await WaitForStatusAsync(id, "PAUSED");
        await AssertConflictAsync(id, Demo, """{"reboot":{"type":"SOFT"}}""", $"Cannot 'reboot' instance {id} while it is in vm_state paused");
        AssertStatus(await ActionAsync(id, Demo, """{"reboot":{"type":"hard"}}"""), HttpStatusCode.Accepted);
        await WaitForStatusAsync(id, "ACTIVE");
        Assert.That((await VmsOfServerAsync(Lab[1], id)).Single().PowerState, Is.EqualTo("Running"));
    }

    private static string XapiMethod(string action) => action switch
    {
        "stop" => "VM.clean_shutdown",
        "start" => "VM.start_on", // on the server's own host, not one xapi picks
        "resume" => "VM.resume_on",
        _ => "VM." + action,
    };

    private async Task AssertConflictAsync(string id, string token, string body, string message)
    {
        var r = await ActionAsync(id, token, body);
        AssertStatus(r, HttpStatusCode.Conflict);
        Assert.That(r.Json!["conflictingRequest"]!["message"]!.GetValue<string>(), Is.EqualTo(message));
    }

    private Task ChangeServerAsync(string id, Action<Server> change) => PowerActionReconcilerTests.ChangeServerAsync(Gateway, id, (s, _) => change(s));
}

public sealed class SqlitePowerActionTests : PowerActionTests
{
    protected override DatabaseKind Kind => DatabaseKind.Sqlite;
}

/// <summary>The power actions on PostgreSQL (advisory locks, its concurrency tokens).</summary>
[Category(TestCategories.External)]
public sealed class PostgreSqlPowerActionTests : PowerActionTests
{
    protected override DatabaseKind Kind => DatabaseKind.PostgreSql;
}
