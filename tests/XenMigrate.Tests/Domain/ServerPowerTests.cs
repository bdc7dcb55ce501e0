using XenMigrate.Domain.Flavors;
using XenMigrate.Domain.Servers;

namespace XenMigrate.Tests.Domain;

/// <summary>The power actions' guards and transitions on the Server aggregate (Nova's check_instance_* order).</summary>
public class ServerPowerTests
{
    private static readonly DateTime T0 = new(2026, 11, 26, 12, 0, 0, DateTimeKind.Utc);
    private static readonly FlavorSnapshot Tiny = new(1, "1", "m1.tiny", 512, 1, 1, 0, 0, new Dictionary<string, string>());

    private static Server NewServer(VmState state, string? host = "xs-1") =>
        new(Guid.NewGuid(), "web1", "p", "u", Tiny, host, host, state, PowerState.Running, T0);

    private static IEnumerable<TestCaseData> EveryActionFromEveryState() =>
        from action in PowerAction.All
        from state in new[] { VmState.Active, VmState.Stopped, VmState.Paused, VmState.Suspended, VmState.Resized, VmState.Error }
        select new TestCaseData(action.Name, action.Task, state).SetName($"{action.Name} ({action.Task.ToNovaName()}) from {state}");

    [TestCaseSource(nameof(EveryActionFromEveryState))]
    public void BeginPowerAction_FollowsNovasAllowedStates(string name, TaskState task, VmState state)
    {
        var action = PowerAction.Named(name, task)!;
        var s = NewServer(state);
        var allowed = (name, task) switch
        {
            // vm_states.ALLOW_SOFT_REBOOT and ALLOW_HARD_REBOOT
            ("reboot", TaskState.Rebooting) => state is VmState.Active,
            ("reboot", _) => state is VmState.Active or VmState.Stopped or VmState.Paused or VmState.Suspended or VmState.Error,
            ("stop", _) => state is VmState.Active or VmState.Error,
            ("start", _) => state is VmState.Stopped,
            ("pause" or "suspend", _) => state is VmState.Active,
            ("unpause", _) => state is VmState.Paused,
            _ => state is VmState.Suspended,
        };
        if (allowed)
        {
            s.BeginPowerAction(action, callerIsAdmin: false, T0);
            Assert.That((s.TaskState, s.VmState), Is.EqualTo(((TaskState?)action.Task, state)));
        }
        else
        {
            var e = Assert.Throws<InvalidServerStateException>(() => s.BeginPowerAction(action, callerIsAdmin: false, T0));
            Assert.That(e!.Message, Is.EqualTo($"Cannot '{name}' instance {s.Id} while it is in vm_state {state.ToNovaName()}"));
        }
    }

    [Test]
    public void Guards_RunInNovasOrder_LockThenHostThenState()
    {
        var locked = NewServer(VmState.Paused, host: null);
        locked.Lock(null, T0);
        Assert.Throws<ServerLockedException>(() => locked.BeginPowerAction(PowerAction.Stop, callerIsAdmin: false, T0));
        // An admin passes the lock; stop checks the host before the state.
        Assert.Throws<ServerNotReadyException>(() => locked.BeginPowerAction(PowerAction.Stop, callerIsAdmin: true, T0));
        // pause has no host check in Nova: the state is refused first.
        Assert.Throws<InvalidServerStateException>(() => locked.BeginPowerAction(PowerAction.Pause, callerIsAdmin: true, T0));

        var busy = NewServer(VmState.Active);
        busy.BeginPowerAction(PowerAction.Pause, callerIsAdmin: false, T0);
        var e = Assert.Throws<InvalidServerStateException>(() => busy.BeginPowerAction(PowerAction.Stop, callerIsAdmin: false, T0));
        Assert.That(e!.Message, Does.EndWith("while it is in task_state pausing"));
    }

    [Test]
    public void Finish_SetsTheResultingState_AndFail_FollowsTheObservedPower()
    {
        var s = NewServer(VmState.Active);
        s.BeginPowerAction(PowerAction.Suspend, callerIsAdmin: false, T0);
        s.FinishPowerAction(PowerAction.Suspend, PowerState.Suspended, T0);
        Assert.That((s.Status, s.TaskState, s.PowerState), Is.EqualTo(("SUSPENDED", (TaskState?)null, PowerState.Suspended)));

        s.BeginPowerAction(PowerAction.Resume, callerIsAdmin: false, T0);
        s.FailPowerAction(PowerAction.Resume, new ServerFault(500, "host away", null, T0), observed: null, T0);
        Assert.That((s.Status, s.TaskState, s.Fault?.Message), Is.EqualTo(("SUSPENDED", (TaskState?)null, "host away")));

        s.BeginPowerAction(PowerAction.Resume, callerIsAdmin: false, T0);
        s.FailPowerAction(PowerAction.Resume, new ServerFault(500, "half done", null, T0), PowerState.Running, T0);
        Assert.That((s.Status, s.PowerState), Is.EqualTo(("ACTIVE", PowerState.Running)));
    }
}
