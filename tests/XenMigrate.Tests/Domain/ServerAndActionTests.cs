using XenMigrate.Domain.Flavors;
using XenMigrate.Domain.Hosts;
using XenMigrate.Domain.InstanceActions;
using XenMigrate.Domain.Servers;

namespace XenMigrate.Tests.Domain;

public class ServerAndActionTests
{
    private static readonly DateTime T0 = new(2026, 11, 26, 12, 0, 0, DateTimeKind.Utc);

    private static Server NewServer(VmState state = VmState.Active, PowerState power = PowerState.Running) =>
        new(Guid.NewGuid(), "web1", "proj", "user", StandardFlavors.Create()[0].Snapshot(), "xs1", "xs1", state, power, T0);

    [Test]
    public void ObservedPowerOff_StopsAnIdleServer()
    {
        var s = NewServer();
        Assert.That(s.ObservePowerState(PowerState.Shutdown, T0.AddSeconds(5)), Is.True);
        Assert.That((s.VmState, s.Status, s.UpdatedAt), Is.EqualTo((VmState.Stopped, "SHUTOFF", T0.AddSeconds(5))));
        s.ObservePowerState(PowerState.Running, T0);
        Assert.That(s.Status, Is.EqualTo("ACTIVE"));
    }

    [Test]
    public void ObservedPlacement_IsIgnoredWhileATaskOwnsTheServer()
    {
        var s = NewServer();
        Assert.That(s.ObservePlacement("xs2", "xs2", T0), Is.True);
        Assert.That(s.Host, Is.EqualTo("xs2"));
        Assert.That(s.ObservePlacement("xs2", "xs2", T0), Is.False, "no change, no update");
    }

    [Test]
    public void FlavorSnapshot_SurvivesItsFlavor()
    {
        var flavor = new Flavor("42", "custom", 1024, 2, 10);
        flavor.SetExtraSpec("hw:cpu_policy", "dedicated");
        var snapshot = flavor.Snapshot();
        flavor.RemoveExtraSpec("hw:cpu_policy");
        Assert.That(snapshot.ExtraSpecs["hw:cpu_policy"], Is.EqualTo("dedicated"));
        Assert.That(snapshot, Is.EqualTo(snapshot with { }));
    }

    [Test]
    public void Flavor_RefusesNonsense()
    {
        Assert.Throws<InvalidFlavorException>(() => _ = new Flavor("", "x", 1, 1, 1));
        Assert.Throws<InvalidFlavorException>(() => _ = new Flavor("1", "x", 0, 1, 1));
        Assert.Throws<InvalidFlavorException>(() => _ = new Flavor("1", "x", 1, 0, 1));
        Assert.Throws<InvalidFlavorException>(() => _ = new Flavor("1", "x", 1, 1, -1));
    }

    [Test]
    public void StandardFlavors_AreNovasM1Set()
    {
        var flavors = StandardFlavors.Create();
        Assert.That(flavors.Select(f => (f.FlavorId, f.Name, f.MemoryMb, f.Vcpus, f.RootGb)), Is.EqualTo(new[]
        {
            ("1", "m1.tiny", 512, 1, 1), ("2", "m1.small", 2048, 1, 20), ("3", "m1.medium", 4096, 2, 40),
            ("4", "m1.large", 8192, 4, 80), ("5", "m1.xlarge", 16384, 8, 160),
        }));
    }

    [Test]
    public void InstanceAction_FailedEvent_MarksTheActionError()
    {
        var action = new InstanceAction(Guid.NewGuid(), "resize", "req-1", "u", "p", T0);
        action.StartEvent("compute_prep_resize", "xs1", T0);
        action.FinishEvent("compute_prep_resize", succeeded: true, null, null, T0.AddSeconds(1));
        Assert.That(action.Message, Is.Null);
        action.StartEvent("compute_resize_instance", "xs1", T0);
        action.FinishEvent("compute_resize_instance", succeeded: false, "boom", null, T0.AddSeconds(2));
        Assert.That(action.Message, Is.EqualTo("Error"));
        Assert.That(action.Events.Select(e => e.Result), Is.EqualTo(new[] { "Success", "Error" }));
    }

    [Test]
    public void InstanceAction_RestartedEvent_IsNotDuplicated()
    {
        var action = new InstanceAction(Guid.NewGuid(), "resize", "req-1", "u", "p", T0);
        var first = action.StartEvent("compute_prep_resize", "xs1", T0);
        var again = action.StartEvent("compute_prep_resize", "xs1", T0.AddSeconds(9));
        Assert.That(again, Is.SameAs(first));
        Assert.That(action.Events, Has.Count.EqualTo(1));
        Assert.Throws<InvalidInstanceActionException>(() => action.FinishEvent("never_started", true, null, null, T0));
    }

    [Test]
    public void ComputeHost_IsSchedulableOnlyWhenEnabledUpAndNotForcedDown()
    {
        var host = new ComputeHost(Guid.NewGuid(), "xs1", "http://127.0.0.1:9401", T0);
        Assert.That(host.IsSchedulable, Is.False, "never answered yet");
        host.ReportAnswered(T0);
        Assert.That(host.IsSchedulable, Is.True);
        host.Disable("failing fan", T0);
        Assert.That((host.IsSchedulable, host.DisabledReason), Is.EqualTo((false, "failing fan")));
        host.Enable(T0);
        host.SetForcedDown(true, T0);
        Assert.That(host.IsSchedulable, Is.False);
        Assert.Throws<InvalidComputeHostException>(() => _ = new ComputeHost(Guid.NewGuid(), "xs2", "not a url", T0));
    }
}
