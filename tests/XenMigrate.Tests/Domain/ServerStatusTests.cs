using XenMigrate.Domain.Servers;

namespace XenMigrate.Tests.Domain;

/// <summary>Every row of Nova's _STATE_MAP (nova/api/openstack/common.py), plus the fall-backs.</summary>
public class ServerStatusTests
{
    private static readonly object?[][] Rows =
    [
        // vm_state, task_state, status
        [VmState.Active, null, "ACTIVE"],
        [VmState.Active, TaskState.Rebooting, "REBOOT"],
        [VmState.Active, TaskState.RebootPending, "REBOOT"],
        [VmState.Active, TaskState.RebootStarted, "REBOOT"],
        [VmState.Active, TaskState.RebootingHard, "HARD_REBOOT"],
        [VmState.Active, TaskState.RebootPendingHard, "HARD_REBOOT"],
        [VmState.Active, TaskState.RebootStartedHard, "HARD_REBOOT"],
        [VmState.Active, TaskState.UpdatingPassword, "PASSWORD"],
        [VmState.Active, TaskState.Rebuilding, "REBUILD"],
        [VmState.Active, TaskState.RebuildBlockDeviceMapping, "REBUILD"],
        [VmState.Active, TaskState.RebuildSpawning, "REBUILD"],
        [VmState.Active, TaskState.Migrating, "MIGRATING"],
        [VmState.Active, TaskState.ResizePrep, "RESIZE"],
        [VmState.Active, TaskState.ResizeMigrating, "RESIZE"],
        [VmState.Active, TaskState.ResizeMigrated, "RESIZE"],
        [VmState.Active, TaskState.ResizeFinish, "RESIZE"],
        [VmState.Active, TaskState.PoweringOff, "ACTIVE"],
        [VmState.Building, null, "BUILD"],
        [VmState.Building, TaskState.Spawning, "BUILD"],
        [VmState.Stopped, null, "SHUTOFF"],
        [VmState.Stopped, TaskState.ResizePrep, "RESIZE"],
        [VmState.Stopped, TaskState.ResizeMigrating, "RESIZE"],
        [VmState.Stopped, TaskState.ResizeMigrated, "RESIZE"],
        [VmState.Stopped, TaskState.ResizeFinish, "RESIZE"],
        [VmState.Stopped, TaskState.Rebuilding, "REBUILD"],
        [VmState.Stopped, TaskState.RebuildBlockDeviceMapping, "REBUILD"],
        [VmState.Stopped, TaskState.RebuildSpawning, "REBUILD"],
        [VmState.Stopped, TaskState.PoweringOn, "SHUTOFF"],
        [VmState.Resized, null, "VERIFY_RESIZE"],
        [VmState.Resized, TaskState.ResizeReverting, "REVERT_RESIZE"],
        [VmState.Resized, TaskState.ResizeConfirming, "VERIFY_RESIZE"], // deliberately unmapped in Nova
        [VmState.Paused, null, "PAUSED"],
        [VmState.Paused, TaskState.Migrating, "MIGRATING"],
        [VmState.Suspended, null, "SUSPENDED"],
        [VmState.Rescued, null, "RESCUE"],
        [VmState.Error, null, "ERROR"],
        [VmState.Error, TaskState.Rebuilding, "REBUILD"],
        [VmState.Error, TaskState.RebuildBlockDeviceMapping, "REBUILD"],
        [VmState.Error, TaskState.RebuildSpawning, "REBUILD"],
        [VmState.Error, TaskState.ResizePrep, "ERROR"],
        [VmState.Deleted, null, "DELETED"],
        [VmState.SoftDeleted, null, "SOFT_DELETED"],
        [VmState.Shelved, null, "SHELVED"],
        [VmState.ShelvedOffloaded, null, "SHELVED_OFFLOADED"],
    ];

    [TestCaseSource(nameof(Rows))]
    public void Status_FollowsNovasStateMap(VmState vmState, TaskState? taskState, string expected) =>
        Assert.That(ServerStatus.From(vmState, taskState), Is.EqualTo(expected));

    [Test]
    public void Status_UnknownVmState_IsUnknown() =>
        Assert.That(ServerStatus.From((VmState)999, null), Is.EqualTo("UNKNOWN"));

    [Test]
    public void EveryVmState_HasARow() =>
        Assert.That(Enum.GetValues<VmState>().Select(v => ServerStatus.From(v, null)), Has.None.EqualTo("UNKNOWN"));

    [TestCase("ACTIVE", true)]
    [TestCase("BUILD", true)]
    [TestCase("REBUILD", true)]
    [TestCase("RESIZE", true)]
    [TestCase("VERIFY_RESIZE", true)]
    [TestCase("MIGRATING", true)]
    [TestCase("SHUTOFF", false)]
    [TestCase("ERROR", false)]
    public void Progress_ShownOnlyForNovasStatuses(string status, bool shown) =>
        Assert.That(ServerStatus.ShowsProgress(status), Is.EqualTo(shown));

    [TestCase("ERROR", true)]
    [TestCase("DELETED", true)]
    [TestCase("ACTIVE", false)]
    public void Fault_ShownOnlyForErrorAndDeleted(string status, bool shown) =>
        Assert.That(ServerStatus.ShowsFault(status), Is.EqualTo(shown));

    [Test]
    public void StateNames_RoundTripEveryValue()
    {
        foreach (var v in Enum.GetValues<VmState>())
            Assert.That(NovaStateNames.ParseVmState(v.ToNovaName()), Is.EqualTo(v));
        foreach (var t in Enum.GetValues<TaskState>())
            Assert.That(NovaStateNames.ParseTaskState(t.ToNovaName()), Is.EqualTo(t));
        Assert.Multiple(() =>
        {
            Assert.That(VmState.SoftDeleted.ToNovaName(), Is.EqualTo("soft-delete"));
            Assert.That(TaskState.ResizePrep.ToNovaName(), Is.EqualTo("resize_prep"));
            Assert.That(TaskState.PoweringOff.ToNovaName(), Is.EqualTo("powering-off"));
        });
    }
}
