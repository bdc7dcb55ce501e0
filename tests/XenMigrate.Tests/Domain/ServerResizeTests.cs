using XenMigrate.Domain.Flavors;
using XenMigrate.Domain.Servers;

namespace XenMigrate.Tests.Domain;

public class ServerResizeTests
{
    private static readonly DateTime T0 = new(2026, 11, 26, 12, 0, 0, DateTimeKind.Utc);
    private static readonly FlavorSnapshot Small = Snap(2, "m1.small", 2048, 1, 20);
    private static readonly FlavorSnapshot Medium = Snap(3, "m1.medium", 4096, 2, 40);
    private static readonly FlavorSnapshot Tiny = Snap(1, "m1.tiny", 512, 1, 1);

    private static FlavorSnapshot Snap(int id, string name, int ram, int vcpus, int disk) =>
        new(id, id.ToString(System.Globalization.CultureInfo.InvariantCulture), name, ram, vcpus, disk, 0, 0, new Dictionary<string, string>());

    private static Server NewServer(VmState state = VmState.Active, PowerState power = PowerState.Running) =>
        new(Guid.NewGuid(), "web1", "p", "u", Small, "xs-sim-1", "xs-sim-1", state, power, T0);

    [Test]
    public void Resize_Confirm_EndsActiveOnTheDestinationWithTheNewFlavor()
    {
        var s = NewServer();
        s.BeginResize("resize", Medium, callerIsAdmin: false, T0);
        Assert.That((s.Status, s.TaskState, s.Progress), Is.EqualTo(("RESIZE", (TaskState?)TaskState.ResizePrep, 0)));

        s.AdvanceResize(TaskState.ResizeMigrating, 20, T0);
        s.AdvanceResize(TaskState.ResizeMigrated, 60, T0);
        s.AdvanceResize(TaskState.ResizeFinish, 80, T0);
        Assert.That(s.Status, Is.EqualTo("RESIZE"));

        s.FinishResize("xs-sim-2", "xs-sim-2", PowerState.Running, T0);
        Assert.That((s.Status, s.Host, s.Flavor.Name, s.OldFlavor?.Name), Is.EqualTo(("VERIFY_RESIZE", "xs-sim-2", "m1.medium", "m1.small")));

        s.EnsureCanConfirmResize(callerIsAdmin: false);
        s.FinishConfirmResize(T0);
        Assert.That((s.Status, s.Host, s.Flavor.Name, s.OldFlavor, s.NewFlavor), Is.EqualTo(("ACTIVE", "xs-sim-2", "m1.medium", (FlavorSnapshot?)null, (FlavorSnapshot?)null)));
    }

    [Test]
    public void Resize_Revert_RestoresHostFlavorAndState()
    {
        var s = NewServer(VmState.Stopped, PowerState.Shutdown);
        s.BeginResize("resize", Medium, false, T0);
        Assert.That(s.Status, Is.EqualTo("RESIZE"));
        s.FinishResize("xs-sim-3", "xs-sim-3", PowerState.Shutdown, T0);
        s.BeginRevertResize(false, T0);
        Assert.That(s.Status, Is.EqualTo("REVERT_RESIZE"));
        s.FinishRevertResize(PowerState.Shutdown, T0);
        Assert.That((s.Status, s.Host, s.Flavor.Name), Is.EqualTo(("SHUTOFF", "xs-sim-1", "m1.small")));
    }

    [Test]
    public void StoppedServer_StaysShutoffAfterConfirm()
    {
        var s = NewServer(VmState.Stopped, PowerState.Shutdown);
        s.BeginResize("resize", Medium, false, T0);
        s.FinishResize("xs-sim-2", "xs-sim-2", PowerState.Shutdown, T0);
        s.FinishConfirmResize(T0);
        Assert.That(s.Status, Is.EqualTo("SHUTOFF"));
    }

    [Test]
    public void Failure_PutsTheServerBackWithAFault()
    {
        var s = NewServer();
        s.BeginResize("resize", Medium, false, T0);
        s.AdvanceResize(TaskState.ResizeMigrating, 30, T0);
        s.FailResize(new ServerFault(500, "Disk copy failed", null, T0), PowerState.Running, T0);
        Assert.That((s.Status, s.TaskState, s.Host, s.Flavor.Name), Is.EqualTo(("ACTIVE", (TaskState?)null, "xs-sim-1", "m1.small")));
        Assert.That(s.Fault!.Message, Is.EqualTo("Disk copy failed"));
    }

    private static IEnumerable<TestCaseData> Refusals()
    {
        yield return new TestCaseData(VmState.Paused, null, "Cannot 'resize' instance {0} while it is in vm_state paused").SetName("resize paused");
        yield return new TestCaseData(VmState.Suspended, null, "Cannot 'resize' instance {0} while it is in vm_state suspended").SetName("resize suspended");
        yield return new TestCaseData(VmState.Resized, null, "Cannot 'resize' instance {0} while it is in vm_state resized").SetName("resize resized");
        yield return new TestCaseData(VmState.Error, null, "Cannot 'resize' instance {0} while it is in vm_state error").SetName("resize error");
        yield return new TestCaseData(VmState.Active, TaskState.ResizePrep, "Cannot 'resize' instance {0} while it is in task_state resize_prep").SetName("resize during resize");
        yield return new TestCaseData(VmState.Active, TaskState.Migrating, "Cannot 'resize' instance {0} while it is in task_state migrating").SetName("resize during live migration");
    }

    [TestCaseSource(nameof(Refusals))]
    public void Resize_RefusedInWrongStates_WithNovasMessage(VmState state, TaskState? task, string message)
    {
        var s = NewServer(state);
        if (task is { } t)
        {
            s.BeginResize("resize", Medium, false, T0); // puts a task on it
            if (t != TaskState.ResizePrep) typeof(Server).GetProperty(nameof(Server.TaskState))!.SetValue(s, t);
        }

        var ex = Assert.Throws<InvalidServerStateException>(() => s.BeginResize("resize", Tiny with { RootGb = 40 }, false, T0));
        Assert.That(ex!.Message, Is.EqualTo(string.Format(System.Globalization.CultureInfo.InvariantCulture, message, s.Id)));
    }

    [Test]
    public void ConfirmOrRevert_OfAServerNotResized_IsRefused()
    {
        var s = NewServer();
        Assert.That(Assert.Throws<InvalidServerStateException>(() => s.EnsureCanConfirmResize(false))!.Message,
            Is.EqualTo($"Cannot 'confirmResize' instance {s.Id} while it is in vm_state active"));
        Assert.That(Assert.Throws<InvalidServerStateException>(() => s.BeginRevertResize(false, T0))!.Message,
            Is.EqualTo($"Cannot 'revertResize' instance {s.Id} while it is in vm_state active"));
    }

    [Test]
    public void Locked_RefusesMembers_ButNotAdmins()
    {
        var s = NewServer();
        s.Lock("maintenance", T0);
        Assert.That(Assert.Throws<ServerLockedException>(() => s.BeginResize("resize", Medium, false, T0))!.Message,
            Is.EqualTo($"Instance {s.Id} is locked"));
        Assert.DoesNotThrow(() => s.BeginResize("resize", Medium, true, T0));
    }

    [Test]
    public void ShrinkingADisk_IsRefusedBeforeAnythingChanges()
    {
        var s = NewServer();
        var ex = Assert.Throws<CannotResizeDiskException>(() => s.BeginResize("resize", Tiny, false, T0));
        Assert.That(ex!.Message, Does.StartWith("Server disk was unable to be resized because: "));
        Assert.That((s.TaskState, s.NewFlavor), Is.EqualTo(((TaskState?)null, (FlavorSnapshot?)null)));
    }

    [Test]
    public void SameFlavor_IsRefusedForResize_ButIsAColdMigration()
    {
        var s = NewServer();
        Assert.That(Assert.Throws<ResizeToSameFlavorException>(() => s.EnsureFlavorChanges(Small))!.Message,
            Is.EqualTo("When resizing, instances must change flavor!"));
        s.BeginResize("migrate", Small, true, T0);
        Assert.That(s.Status, Is.EqualTo("RESIZE"));
    }

    [Test]
    public void ServerWithoutHost_IsNotReady()
    {
        var s = new Server(Guid.NewGuid(), "x", "p", "u", Small, null, null, VmState.Active, PowerState.Running, T0);
        Assert.Throws<ServerNotReadyException>(() => s.BeginResize("resize", Medium, false, T0));
    }
}
