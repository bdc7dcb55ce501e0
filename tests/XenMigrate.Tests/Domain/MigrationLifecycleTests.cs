using XenMigrate.Domain.Migrations;

namespace XenMigrate.Tests.Domain;

public class MigrationLifecycleTests
{
    private static readonly DateTime T0 = new(2026, 11, 26, 12, 0, 0, DateTimeKind.Utc);

    private static Migration NewMigration(MigrationType type) =>
        new(Guid.NewGuid(), Guid.NewGuid(), type, "xs-sim-1", "xs-sim-1", 1, 2, "p", "u", T0);

    [TestCase(MigrationType.Resize, MigrationStatus.PreMigrating)]
    [TestCase(MigrationType.Migration, MigrationStatus.PreMigrating)]
    [TestCase(MigrationType.LiveMigration, MigrationStatus.Accepted)]
    [TestCase(MigrationType.Evacuation, MigrationStatus.Accepted)]
    public void NewMigration_StartsWhereNovaStartsIt(MigrationType type, MigrationStatus expected) =>
        Assert.That(NewMigration(type).Status, Is.EqualTo(expected));

    [Test]
    public void Resize_ConfirmPath_Succeeds()
    {
        var m = NewMigration(MigrationType.Resize);
        foreach (var s in new[] { MigrationStatus.Migrating, MigrationStatus.PostMigrating, MigrationStatus.Finished, MigrationStatus.Confirming, MigrationStatus.Confirmed })
            m.TransitionTo(s, T0.AddMinutes(1));
        Assert.That(m.Status, Is.EqualTo(MigrationStatus.Confirmed));
        Assert.That(m.IsInProgress, Is.False);
        Assert.That(m.UpdatedAt, Is.EqualTo(T0.AddMinutes(1)));
    }

    [Test]
    public void ColdMigration_RevertPath_Succeeds()
    {
        var m = NewMigration(MigrationType.Migration);
        foreach (var s in new[] { MigrationStatus.Migrating, MigrationStatus.PostMigrating, MigrationStatus.Finished, MigrationStatus.Reverting, MigrationStatus.Reverted })
            m.TransitionTo(s, T0);
        Assert.That(m.Status, Is.EqualTo(MigrationStatus.Reverted));
    }

    [TestCase(MigrationStatus.PreMigrating, MigrationStatus.Finished)]
    [TestCase(MigrationStatus.Migrating, MigrationStatus.Confirming)]
    [TestCase(MigrationStatus.PostMigrating, MigrationStatus.Reverting)]
    public void Resize_SkippingAStep_IsRefused(MigrationStatus reach, MigrationStatus jumpTo)
    {
        var m = NewMigration(MigrationType.Resize);
        var path = new[] { MigrationStatus.Migrating, MigrationStatus.PostMigrating };
        foreach (var s in path.TakeWhile(_ => m.Status != reach)) m.TransitionTo(s, T0);
        Assert.That(m.Status, Is.EqualTo(reach));
        var ex = Assert.Throws<InvalidMigrationTransitionException>(() => m.TransitionTo(jumpTo, T0));
        Assert.That(ex!.Message, Does.Contain($"'{reach.ToNovaName()}'").And.Contain($"'{jumpTo.ToNovaName()}'"));
        Assert.That(m.Status, Is.EqualTo(reach));
    }

    [TestCase(MigrationStatus.Confirmed)]
    [TestCase(MigrationStatus.Reverted)]
    [TestCase(MigrationStatus.Error)]
    public void SettledMigration_CannotMoveAgain(MigrationStatus settled)
    {
        var m = NewMigration(MigrationType.Resize);
        var route = settled switch
        {
            MigrationStatus.Error => [MigrationStatus.Error],
            MigrationStatus.Confirmed => new[] { MigrationStatus.Migrating, MigrationStatus.PostMigrating, MigrationStatus.Finished, MigrationStatus.Confirming, MigrationStatus.Confirmed },
            _ => [MigrationStatus.Migrating, MigrationStatus.PostMigrating, MigrationStatus.Finished, MigrationStatus.Reverting, MigrationStatus.Reverted],
        };
        foreach (var s in route) m.TransitionTo(s, T0);
        foreach (var next in Enum.GetValues<MigrationStatus>())
            Assert.Throws<InvalidMigrationTransitionException>(() => m.TransitionTo(next, T0), $"{settled} -> {next}");
    }

    [Test]
    public void EveryInProgressResizeStatus_CanFailToError()
    {
        foreach (var from in new[] { MigrationStatus.PreMigrating, MigrationStatus.Migrating, MigrationStatus.PostMigrating, MigrationStatus.Finished, MigrationStatus.Confirming, MigrationStatus.Reverting })
            Assert.That(MigrationLifecycle.CanTransition(MigrationType.Resize, from, MigrationStatus.Error), Is.True, from.ToString());
    }

    [Test]
    public void LiveMigration_FollowsNovasLiveStatuses()
    {
        var m = NewMigration(MigrationType.LiveMigration);
        foreach (var s in new[] { MigrationStatus.Preparing, MigrationStatus.Queued, MigrationStatus.Running, MigrationStatus.Completed })
            m.TransitionTo(s, T0);
        Assert.That(m.Status, Is.EqualTo(MigrationStatus.Completed));
        Assert.That(MigrationLifecycle.CanTransition(MigrationType.LiveMigration, MigrationStatus.Running, MigrationStatus.Cancelled), Is.True);
        Assert.That(MigrationLifecycle.CanTransition(MigrationType.LiveMigration, MigrationStatus.Running, MigrationStatus.Finished), Is.False);
        Assert.That(MigrationLifecycle.CanTransition(MigrationType.Resize, MigrationStatus.Migrating, MigrationStatus.Running), Is.False);
    }

    [Test]
    public void Evacuation_GoesAcceptedPreMigratingDone()
    {
        var m = NewMigration(MigrationType.Evacuation);
        m.TransitionTo(MigrationStatus.PreMigrating, T0);
        m.TransitionTo(MigrationStatus.Done, T0);
        Assert.That(m.IsInProgress, Is.False);
    }

    [TestCase(MigrationStatus.Queued, true)]
    [TestCase(MigrationStatus.Preparing, true)]
    [TestCase(MigrationStatus.Running, true)]
    [TestCase(MigrationStatus.PostMigrating, true)]
    [TestCase(MigrationStatus.Accepted, false)]
    [TestCase(MigrationStatus.Completed, false)]
    public void LiveInProgress_IsWhatServerMigrationsLists(MigrationStatus status, bool listed) =>
        Assert.That(MigrationLifecycle.IsLiveInProgress(status), Is.EqualTo(listed));

    [Test]
    public void DiskProgress_KeepsRemainingConsistent()
    {
        var m = NewMigration(MigrationType.Resize);
        m.RecordDiskProgress(300, 1000, T0);
        Assert.That((m.DiskProcessedBytes, m.DiskRemainingBytes, m.DiskTotalBytes), Is.EqualTo((300L, 700L, 1000L)));
        Assert.Throws<InvalidMigrationException>(() => m.RecordDiskProgress(1001, 1000, T0));
    }

    [Test]
    public void Names_AreNovas()
    {
        Assert.That(MigrationStatus.PreMigrating.ToNovaName(), Is.EqualTo("pre-migrating"));
        Assert.That(MigrationType.LiveMigration.ToNovaName(), Is.EqualTo("live-migration"));
        foreach (var s in Enum.GetValues<MigrationStatus>()) Assert.That(MigrationNames.ParseStatus(s.ToNovaName()), Is.EqualTo(s));
        foreach (var t in Enum.GetValues<MigrationType>()) Assert.That(MigrationNames.ParseType(t.ToNovaName()), Is.EqualTo(t));
    }
}
