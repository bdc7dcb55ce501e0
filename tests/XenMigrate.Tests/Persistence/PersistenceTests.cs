using Microsoft.EntityFrameworkCore;
using XenMigrate.Domain.Flavors;
using XenMigrate.Domain.InstanceActions;
using XenMigrate.Domain.Migrations;
using XenMigrate.Domain.Servers;
using XenMigrate.Infrastructure.Persistence;
using XenMigrate.Tests.Support;

namespace XenMigrate.Tests.Persistence;

/// <summary>The model, its migrations and its concurrency rules, on every database we can run here.</summary>
[TestFixture(DatabaseKind.Sqlite)]
[TestFixture(DatabaseKind.PostgreSql, Category = TestCategories.External)]
public class PersistenceTests(DatabaseKind kind)
{
    private static readonly DateTime T0 = new(2026, 11, 26, 12, 0, 0, DateTimeKind.Utc);
    private TestDatabase? _db;

    private TestDatabase Database => _db ?? throw new InvalidOperationException("No database.");

    [SetUp]
    public async Task CreateDatabase()
    {
        _db = null;
        _db = TestDatabase.Create(kind);
        await using var db = Database.NewContext();
        await db.Database.MigrateAsync();
    }

    [TearDown]
    public async Task DropDatabase()
    {
        if (_db is not null) await _db.DisposeAsync();
    }

    [Test]
    public async Task Migrations_LeaveNothingPending_AndMatchTheModel()
    {
        await using var db = Database.NewContext();
        Assert.That(await db.Database.GetPendingMigrationsAsync(), Is.Empty);
        Assert.That(db.Database.HasPendingModelChanges(), Is.False, "the model changed without a migration for this provider");
    }

    [Test]
    public async Task Server_RoundTripsStateFlavorSnapshotsAndFault()
    {
        var flavor = new Flavor("7", "custom.7", 3072, 3, 30, ephemeralGb: 5, swapMb: 512);
        flavor.SetExtraSpec("hw:numa_nodes", "1");
        await using (var db = Database.NewContext())
        {
            db.Flavors.Add(flavor);
            await db.SaveChangesAsync();
        }

        var server = new Server(Guid.NewGuid(), "db1", "proj", "user", flavor.Snapshot(), "xs-sim-2", "xs-sim-2",
            VmState.Stopped, PowerState.Shutdown, T0);
        server.RecordFault(500, "Disk copy failed", "XAPI said no", T0.AddMinutes(1));
        server.Lock("maintenance", T0.AddMinutes(2));
        await using (var db = Database.NewContext())
        {
            db.Servers.Add(server);
            await db.SaveChangesAsync();
        }

        await using (var db = Database.NewContext())
        {
            var loaded = await db.Servers.SingleAsync(s => s.Id == server.Id);
            Assert.Multiple(() =>
            {
                Assert.That(loaded.VmState, Is.EqualTo(VmState.Stopped));
                Assert.That(loaded.TaskState, Is.Null);
                Assert.That(loaded.PowerState, Is.EqualTo(PowerState.Shutdown));
                Assert.That(loaded.Flavor, Is.EqualTo(flavor.Snapshot()));
                Assert.That(loaded.Flavor.FlavorInternalId, Is.GreaterThan(0));
                Assert.That(loaded.Flavor.ExtraSpecs["hw:numa_nodes"], Is.EqualTo("1"));
                Assert.That(loaded.Fault, Is.EqualTo(server.Fault));
                Assert.That(loaded.CreatedAt, Is.EqualTo(T0));
                Assert.That(loaded.CreatedAt.Kind, Is.EqualTo(DateTimeKind.Utc));
                Assert.That((loaded.Locked, loaded.LockedReason), Is.EqualTo((true, "maintenance")));
            });
        }
    }

    [Test]
    public async Task DeletedFlavor_LeavesTheServersSnapshotIntact()
    {
        var flavor = new Flavor("8", "doomed", 1024, 1, 5);
        var serverId = Guid.NewGuid();
        await using (var db = Database.NewContext())
        {
            db.Flavors.Add(flavor);
            await db.SaveChangesAsync();
            db.Servers.Add(new Server(serverId, "s", "p", "u", flavor.Snapshot(), "h", "h", VmState.Active, PowerState.Running, T0));
            await db.SaveChangesAsync();
            db.Flavors.Remove(flavor);
            await db.SaveChangesAsync();
        }

        await using (var db = Database.NewContext())
        {
            var loaded = await db.Servers.SingleAsync(s => s.Id == serverId);
            Assert.That((loaded.Flavor.FlavorId, loaded.Flavor.Name, loaded.Flavor.MemoryMb), Is.EqualTo(("8", "doomed", 1024)));
        }
    }

    [Test]
    public async Task Server_ConcurrentUpdates_SecondWriterLoses()
    {
        var id = await AddServerAsync();
        await using var first = Database.NewContext();
        await using var second = Database.NewContext();
        var a = await first.Servers.SingleAsync(s => s.Id == id);
        var b = await second.Servers.SingleAsync(s => s.Id == id);

        a.Rename("renamed-by-a", T0.AddMinutes(1));
        await first.SaveChangesAsync();

        b.Rename("renamed-by-b", T0.AddMinutes(2));
        await Assert.ThrowsAsync<DbUpdateConcurrencyException>(() => second.SaveChangesAsync());

        await using var check = Database.NewContext();
        Assert.That((await check.Servers.SingleAsync(s => s.Id == id)).Name, Is.EqualTo("renamed-by-a"));
    }

    [Test]
    public async Task Migration_ConcurrentTransitions_SecondWriterLoses()
    {
        int id;
        await using (var db = Database.NewContext())
        {
            var m = new Migration(Guid.NewGuid(), Guid.NewGuid(), MigrationType.Resize, "xs1", "xs1", 1, 2, "p", "u", T0);
            db.Migrations.Add(m);
            await db.SaveChangesAsync();
            id = m.Id;
            Assert.That(id, Is.GreaterThan(0), "Nova's migration ids are database integers");
        }

        await using var first = Database.NewContext();
        await using var second = Database.NewContext();
        var a = await first.Migrations.SingleAsync(m => m.Id == id);
        var b = await second.Migrations.SingleAsync(m => m.Id == id);
        a.TransitionTo(MigrationStatus.Migrating, T0);
        await first.SaveChangesAsync();
        b.TransitionTo(MigrationStatus.Error, T0);
        await Assert.ThrowsAsync<DbUpdateConcurrencyException>(() => second.SaveChangesAsync());

        await using var check = Database.NewContext();
        var stored = await check.Migrations.SingleAsync(m => m.Id == id);
        Assert.That((stored.Status, stored.Type), Is.EqualTo((MigrationStatus.Migrating, MigrationType.Resize)));
    }

    [Test]
    public async Task Migration_StatusIsStoredAsNovasString()
    {
        await using (var db = Database.NewContext())
        {
            db.Migrations.Add(new Migration(Guid.NewGuid(), Guid.NewGuid(), MigrationType.LiveMigration, "xs1", null, 1, 1, "p", "u", T0));
            await db.SaveChangesAsync();
        }

        await using var check = Database.NewContext();
        var raw = await check.Database.SqlQueryRaw<string>("SELECT \"Status\" AS \"Value\" FROM \"Migrations\"").SingleAsync();
        var type = await check.Database.SqlQueryRaw<string>("SELECT \"Type\" AS \"Value\" FROM \"Migrations\"").SingleAsync();
        Assert.That((raw, type), Is.EqualTo(("accepted", "live-migration")));
    }

    [Test]
    public async Task InstanceAction_KeepsItsEventsInOrder()
    {
        var serverId = await AddServerAsync();
        await using (var db = Database.NewContext())
        {
            var action = new InstanceAction(serverId, "resize", "req-abc", "u", "p", T0);
            action.StartEvent("compute_prep_resize", "xs1", T0);
            action.FinishEvent("compute_prep_resize", true, null, null, T0.AddSeconds(1));
            action.StartEvent("compute_resize_instance", "xs1", T0.AddSeconds(2));
            db.InstanceActions.Add(action);
            await db.SaveChangesAsync();
        }

        await using (var db = Database.NewContext())
        {
            var action = await db.InstanceActions.SingleAsync(a => a.RequestId == "req-abc");
            action.FinishEvent("compute_resize_instance", false, "trace", null, T0.AddSeconds(3));
            await db.SaveChangesAsync();
        }

        await using var check = Database.NewContext();
        var stored = await check.InstanceActions.SingleAsync(a => a.RequestId == "req-abc");
        Assert.That(stored.Events.OrderBy(e => e.Id).Select(e => (e.EventName, e.Result)), Is.EqualTo(new[]
        {
            ("compute_prep_resize", (string?)"Success"), ("compute_resize_instance", "Error"),
        }));
        Assert.That(stored.Message, Is.EqualTo("Error"));
    }

    [Test]
    public async Task FlavorIds_AreUnique()
    {
        await using var db = Database.NewContext();
        db.Flavors.Add(new Flavor("1", "a", 512, 1, 1));
        db.Flavors.Add(new Flavor("1", "b", 512, 1, 1));
        await Assert.ThrowsAsync<DbUpdateException>(() => db.SaveChangesAsync());
    }

    private async Task<Guid> AddServerAsync()
    {
        await using var db = Database.NewContext();
        var flavor = StandardFlavors.Create()[0];
        var server = new Server(Guid.NewGuid(), "s1", "p", "u", flavor.Snapshot(), "xs1", "xs1", VmState.Active, PowerState.Running, T0);
        db.Servers.Add(server);
        await db.SaveChangesAsync();
        return server.Id;
    }
}
