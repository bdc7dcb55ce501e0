using System.Net;
using Hangfire;
using Microsoft.Extensions.DependencyInjection;
using XenMigrate.Infrastructure.Compute.Resize;
using XenMigrate.Tests.Support;
using XenMigrate.XapiSimulator;

namespace XenMigrate.Tests.Reliability;

/// <summary>
/// XenServer faults injected through the simulator while a migration runs: each ends either
/// completed after retries or rolled back with the VM running where it was, never lost, never
/// running twice, nothing left over. A rollback leaves the server ACTIVE (its VM is fine, as Nova
/// leaves it after a failed, rolled-back resize) with the cause on the action's Error event.
/// </summary>
[NonParallelizable]
public class XenServerFaultTests : ReliabilityFixture
{
    protected override string TallyName => "faults survived";

    private SimulatedHost Xs1 => Lab[0];
    private SimulatedHost Xs2 => Lab[1];
    private SimulatedHost Xs3 => Lab[2];

    [Test]
    public async Task SessionsExpireMidMigration_TheClientLogsInAgain_AndCompletes()
    {
        Tried();
        var id = await SeedSmallAsync(0, "rel-session");
        var sha = await GuestDataShaAsync(Xs1, id);
        Xs1.Faults.DelayNext("VM.snapshot", TimeSpan.FromMilliseconds(800));
        var request = await MigrateAsync(id, Xs2);
        await WaitUntilDelayTakenAsync(Xs1, "VM.snapshot");
        Xs1.Faults.ExpireSessions();
        Xs2.Faults.ExpireSessions();
        await ExpectCompletedAsync(id, request, Xs2, sha);
        Survived();
    }

    [TestCase("VM.snapshot", 0, TestName = "OtherOperationInProgress_OnSnapshot_CompletesAfterRetry")]
    [TestCase("VM.start_on", 1, TestName = "OtherOperationInProgress_OnStart_CompletesAfterRetry")]
    public async Task OtherOperationInProgress_CompletesAfterRetry(string method, int faultyHost)
    {
        Tried();
        var id = await SeedSmallAsync(1, "rel-busy-" + method);
        var sha = await GuestDataShaAsync(Xs2, id);
        var hosts = new[] { Xs2, Xs3 };
        hosts[faultyHost].Faults.FailNext(method, "OTHER_OPERATION_IN_PROGRESS", ["VM", "OpaqueRef:busy", "clean_shutdown"], times: 2);
        var request = await MigrateAsync(id, Xs3);
        await ExpectCompletedAsync(id, request, Xs3, sha);
        Survived();
    }

    /// <summary>A host drops off the network while a step's call is in flight and comes back before the retries run out.</summary>
    [TestCase("prep", "source", "VM.get_all_records")]
    [TestCase("copy base", "dest", "VDI.create")]
    [TestCase("cut over", "source", "VM.clean_shutdown")]
    [TestCase("finish", "dest", "VM.create")]
    public async Task HostDownBriefly_DuringAStep_CompletesAfterRetries(string step, string which, string method)
    {
        Tried();
        var id = await SeedSmallAsync(0, "rel-down-" + step.Replace(' ', '-'));
        var sha = await GuestDataShaAsync(Xs1, id);
        var faulty = which == "source" ? Xs1 : Xs3;
        faulty.Faults.DelayNext(method, TimeSpan.FromSeconds(1));
        var request = await MigrateAsync(id, Xs3);
        await WaitUntilDelayTakenAsync(faulty, method);
        faulty.Faults.SetHostDown(restoreAfter: TimeSpan.FromSeconds(2));
        await ExpectCompletedAsync(id, request, Xs3, sha);
        Survived();
    }

    [Test]
    public async Task SourceDownBriefly_DuringConfirm_ConfirmsAfterRetries()
    {
        Tried();
        var id = await SeedSmallAsync(1, "rel-down-confirm");
        var sha = await GuestDataShaAsync(Xs2, id);
        await MigrateAsync(id, Xs1);
        await WaitForStatusAsync(id, "VERIFY_RESIZE");
        Xs2.Faults.DelayNext("VM.destroy", TimeSpan.FromSeconds(1)); // the snapshot goes first
        AssertStatus(await ActionAsync(id, Demo, """{"confirmResize":null}"""), HttpStatusCode.NoContent);
        await WaitUntilDelayTakenAsync(Xs2, "VM.destroy");
        Xs2.Faults.SetHostDown(restoreAfter: TimeSpan.FromSeconds(2));
        await ExpectSettledAsync(id, Xs1, "confirmed", sha);
        Survived();
    }

    [Test]
    public async Task DestinationDownBriefly_DuringRevert_RevertsAfterRetries()
    {
        Tried();
        var id = await SeedSmallAsync(2, "rel-down-revert");
        var sha = await GuestDataShaAsync(Xs3, id);
        await MigrateAsync(id, Xs2);
        await WaitForStatusAsync(id, "VERIFY_RESIZE");
        Xs2.Faults.DelayNext("VM.hard_shutdown", TimeSpan.FromSeconds(1)); // stopping the destination copy
        AssertStatus(await ActionAsync(id, Demo, """{"revertResize":null}"""), HttpStatusCode.Accepted);
        await WaitUntilDelayTakenAsync(Xs2, "VM.hard_shutdown");
        Xs2.Faults.SetHostDown(restoreAfter: TimeSpan.FromSeconds(2));
        await ExpectSettledAsync(id, Xs3, "reverted", sha);
        Survived();
    }

    /// <summary>
    /// The destination stays down past every retry: the rollback needs it too and fails, so the
    /// migration waits (the source VM keeps running, never lost) until the host is back and the
    /// reconciler resumes it — as the rollback it had begun, naming the first cause; it then ends with one VM.
    /// </summary>
    [Test]
    public async Task DestinationDownTooLong_DuringCopyBase_WaitsWithTheSourceRunning_ThenRollsBack()
    {
        Tried();
        var id = await SeedSmallAsync(0, "rel-down-long");
        var sha = await GuestDataShaAsync(Xs1, id);
        var storage = Gateway.Services.GetRequiredService<JobStorage>();
        var deletedBefore = storage.GetMonitoringApi().DeletedListCount();
        Xs2.Faults.DelayNext("VDI.create", TimeSpan.FromSeconds(1));
        var request = await MigrateAsync(id, Xs2);
        await WaitUntilDelayTakenAsync(Xs2, "VDI.create");
        Xs2.Faults.SetHostDown();

        // The step's last attempt and its rollback both failed: Hangfire deleted the job.
        await Eventually.HoldsAsync(() => Task.FromResult(storage.GetMonitoringApi().DeletedListCount()), n => n > deletedBefore,
            TimeSpan.FromSeconds(60), "the step gave up");
        var source = (await VmsOfServerAsync(Xs1, id)).Single();
        Assert.That(source.PowerState, Is.EqualTo("Running"), "the source VM runs on while the destination is away");
        Assert.That((await ServerAsync(id))["status"]!.GetValue<string>(), Is.EqualTo("RESIZE"), "the migration is still open, not forgotten");

        Xs2.Faults.SetHostUp();
        await ResumeStalledAsync(id);
        await ExpectRolledBackAsync(id, request, Xs1, sha, cause: "A XenServer host stopped answering (xs-2)");
        Survived();
    }

    /// <summary>
    /// The source drops off after it halted, past every retry: the rollback removes the destination
    /// copy but cannot restart the source, so the VM waits there, stopped, start-blocked, and nothing
    /// runs it elsewhere. Once the source is back, the resumed migration finishes rolling back.
    /// </summary>
    [Test]
    public async Task SourceDownTooLong_DuringCutOver_KeepsTheStoppedSource_ThenRollsBack()
    {
        Tried();
        var id = await SeedSmallAsync(2, "rel-down-cutover");
        var sha = await GuestDataShaAsync(Xs3, id);
        var storage = Gateway.Services.GetRequiredService<JobStorage>();
        var deletedBefore = storage.GetMonitoringApi().DeletedListCount();
        Xs3.Faults.DelayNext("VM.clean_shutdown", TimeSpan.FromSeconds(1));
        var request = await MigrateAsync(id, Xs1);
        await WaitUntilDelayTakenAsync(Xs3, "VM.clean_shutdown");
        Xs3.Faults.SetHostDown();

        await Eventually.HoldsAsync(() => Task.FromResult(storage.GetMonitoringApi().DeletedListCount()), n => n > deletedBefore,
            TimeSpan.FromSeconds(60), "the step gave up");
        Assert.That(await VmsOfServerAsync(Xs1, id), Is.Empty, "no copy runs (or waits) on the destination");
        Assert.That((await ServerAsync(id))["status"]!.GetValue<string>(), Is.EqualTo("RESIZE"), "the migration is still open, not forgotten");

        Xs3.Faults.SetHostUp();
        var source = (await VmsOfServerAsync(Xs3, id)).Single();
        Assert.That(source.PowerState, Is.EqualTo("Halted"), "the source VM is there, stopped, while its rollback could not finish");
        await ResumeStalledAsync(id);
        // The resumed migration finishes the rollback it had begun, under its first cause.
        await ExpectRolledBackAsync(id, request, Xs3, sha, cause: "A XenServer host stopped answering (xs-3)");
        Survived();
    }

    [Test]
    public async Task ExportCut_DuringCopyBase_CompletesAfterRetry()
    {
        Tried();
        var id = await SeedSmallAsync(1, "rel-cut");
        var sha = await GuestDataShaAsync(Xs2, id);
        Xs2.Faults.CutNextExportAfter(1 << 20);
        var request = await MigrateAsync(id, Xs1);
        await ExpectCompletedAsync(id, request, Xs1, sha);
        Survived();
    }

    [Test]
    public async Task ImportTaskFails_CompletesAfterRetry()
    {
        Tried();
        var id = await SeedSmallAsync(2, "rel-import");
        var sha = await GuestDataShaAsync(Xs3, id);
        Xs1.Faults.FailNext("import_raw_vdi", "VDI_IO_ERROR", ["Device I/O errors"]);
        var request = await MigrateAsync(id, Xs1);
        await ExpectCompletedAsync(id, request, Xs1, sha);
        Survived();
    }

    [Test]
    public async Task GuestWithoutPvDrivers_IsPoweredOffHard_AndCompletes()
    {
        Tried();
        var id = await SeedSmallAsync(0, "rel-noagent", guestAgent: false);
        var sha = await GuestDataShaAsync(Xs1, id);
        var request = await MigrateAsync(id, Xs2);
        await ExpectCompletedAsync(id, request, Xs2, sha);
        Survived();
    }

    [Test]
    public async Task GuestIgnoringCleanShutdown_IsPoweredOffHardAfterTheTimeout_AndCompletes()
    {
        Tried();
        var id = await SeedSmallAsync(1, "rel-stuck");
        var sha = await GuestDataShaAsync(Xs2, id);
        Xs2.Faults.DelayNext("VM.clean_shutdown", TimeSpan.FromSeconds(30)); // longer than the fixture's 5 s clean-shutdown timeout
        var request = await MigrateAsync(id, Xs3);
        await ExpectCompletedAsync(id, request, Xs3, sha);
        Survived();
    }

    [Test]
    public async Task DestinationOutOfMemoryAtStart_RollsBack_WithTheVmRunningOnTheSource()
    {
        Tried();
        var id = await SeedSmallAsync(2, "rel-oom");
        var sha = await GuestDataShaAsync(Xs3, id);
        Xs1.Faults.FailNext("VM.start_on", "HOST_NOT_ENOUGH_FREE_MEMORY", ["1073741824", "0"], times: ResizeJobs.Retries + 1);
        var request = await MigrateAsync(id, Xs1);
        await ExpectRolledBackAsync(id, request, Xs3, sha, "HOST_NOT_ENOUGH_FREE_MEMORY");
        Survived();
    }

    [Test]
    public async Task DestinationSrFull_RollsBack_WithTheVmRunningOnTheSource()
    {
        Tried();
        var id = await SeedSmallAsync(0, "rel-srfull");
        var sha = await GuestDataShaAsync(Xs1, id);
        Xs3.Faults.FailNext("VDI.create", "SR_FULL", ["1073741824", "0"], times: ResizeJobs.Retries + 1);
        var request = await MigrateAsync(id, Xs3);
        await ExpectRolledBackAsync(id, request, Xs1, sha, "SR_FULL");
        Survived();
    }

    /// <summary>What the reconciler does for a migration whose rows stopped moving: enqueue its pending step.</summary>
    private async Task ResumeStalledAsync(string id)
    {
        var migrationId = (await MigrationAsync(id))["id"]!.GetValue<int>();
        Gateway.Services.GetRequiredService<IBackgroundJobClient>().Enqueue<ResizeJobs>(j => j.Resume(migrationId));
    }
}
