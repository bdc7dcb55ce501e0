using System.Net;
using Microsoft.EntityFrameworkCore;
using XenMigrate.Domain.Servers;
using XenMigrate.Infrastructure.Persistence;
using XenMigrate.Infrastructure.Persistence.ReadCache;
using XenMigrate.Tests.Support;

namespace XenMigrate.Tests.Api;

/// <summary>
/// <c>GET /servers/{id}</c> answers from a cache on SQLite; these show it never answers with a row
/// older than the last commit, whoever made it.
/// </summary>
public class ServerReadCacheTests : GatewayFixture
{
    [Test]
    public async Task Show_SeesACommitFromAnotherConnection_AtOnce()
    {
        var server = await Gateway.AddServerAsync("probe", TestUsers.Demo);
        var path = $"/v2.1/servers/{server.Id}";
        Assert.That((await Gateway.GetAsync(path, DemoToken)).Json!["server"]!["name"]!.GetValue<string>(), Is.EqualTo("probe"));
        Assert.That((await Gateway.GetAsync(path, DemoToken)).Json!["server"]!["name"]!.GetValue<string>(), Is.EqualTo("probe"), "answered again, now from the cache");

        // As another gateway or worker process would: its own connection, none of this process's caches told.
        await using (var other = Database.NewContext())
        {
            await other.Database.ExecuteSqlInterpolatedAsync($"UPDATE Servers SET Name = {"renamed"}, TaskState = {"resize_prep"} WHERE Id = {server.Id}");
        }

        var after = (await Gateway.GetAsync(path, DemoToken)).Json!["server"]!;
        Assert.That(after["name"]!.GetValue<string>(), Is.EqualTo("renamed"));
        Assert.That(after["OS-EXT-STS:task_state"]!.GetValue<string>(), Is.EqualTo("resize_prep"));

        await using (var other = Database.NewContext())
        {
            var row = await other.Servers.SingleAsync(s => s.Id == server.Id);
            other.Entry(row).Property(s => s.VmState).CurrentValue = VmState.Deleted;
            await other.SaveChangesAsync();
        }

        Assert.That((await Gateway.GetAsync(path, DemoToken)).Status, Is.EqualTo(HttpStatusCode.NotFound), "deleted in another process");
    }

    [Test]
    public async Task Show_StillHidesAnotherProjectsServer_WhenItIsCached()
    {
        var server = await Gateway.AddServerAsync("admins-probe", TestUsers.Admin);
        Assert.That((await Gateway.GetAsync($"/v2.1/servers/{server.Id}", AdminToken)).Status, Is.EqualTo(HttpStatusCode.OK));
        Assert.That((await Gateway.GetAsync($"/v2.1/servers/{server.Id}", DemoToken)).Status, Is.EqualTo(HttpStatusCode.NotFound));
    }

    [Category(TestCategories.External)]
    [Test]
    public async Task Show_Works_WithASqliteAndAPostgreSqlGatewayInOneProcess()
    {
        // A compiled query remembers the model it was compiled for; one shared between gateways of
        // two providers once answered 404 for servers that existed.
        await using var pgDb = TestDatabase.Create(DatabaseKind.PostgreSql);
        await using var pg = await GatewayInstance.StartAsync(pgDb);
        var pgToken = await pg.TokenAsync(TestUsers.Demo);
        var onSqlite = await Gateway.AddServerAsync("on-sqlite", TestUsers.Demo);
        var onPostgres = await pg.AddServerAsync("on-postgres", TestUsers.Demo);

        for (var round = 0; round < 2; round++)
        {
            Assert.That((await Gateway.GetAsync($"/v2.1/servers/{onSqlite.Id}", DemoToken)).Status, Is.EqualTo(HttpStatusCode.OK), $"SQLite, round {round}");
            Assert.That((await pg.GetAsync($"/v2.1/servers/{onPostgres.Id}", pgToken)).Status, Is.EqualTo(HttpStatusCode.OK), $"PostgreSQL, round {round}");
        }
    }

    [Test]
    public async Task ChangeStamp_MovesOnACommitFromAnotherConnection()
    {
        var options = new DatabaseOptions { Provider = DatabaseProvider.Sqlite };
        using var stamp = new DatabaseChangeStamp(options, Database.ConnectionString);
        var before = stamp.Read();
        Assert.That(stamp.Read(), Is.EqualTo(before), "nothing committed in between");

        await using (var other = Database.NewContext())
            await other.Database.ExecuteSqlRawAsync("UPDATE Users SET Name = Name");

        Assert.That(before, Is.Not.Null);
        Assert.That(stamp.Read(), Is.Not.EqualTo(before));
    }

    [TestCase("Data Source=:memory:")]
    [TestCase("Data Source=shared;Mode=Memory;Cache=Shared")]
    [TestCase("Data Source=gateway.db;Cache=Shared")]
    public void ChangeStamp_IsNotOffered_WhereSqliteDoesNotPromiseIt(string connectionString)
    {
        using var stamp = new DatabaseChangeStamp(new DatabaseOptions { Provider = DatabaseProvider.Sqlite }, connectionString);
        Assert.That(stamp.Read(), Is.Null);
    }
}
