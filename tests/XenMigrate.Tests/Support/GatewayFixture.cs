namespace XenMigrate.Tests.Support;

/// <summary>
/// Base for API test classes: one real gateway per class on its own fresh SQLite database, with a
/// token for each test user.
/// </summary>
public abstract class GatewayFixture
{
    protected TestDatabase Database { get; private set; } = null!;
    protected GatewayInstance Gateway { get; private set; } = null!;
    protected Dictionary<TestUsers.Account, string> Tokens { get; } = [];

    protected string AdminToken => Tokens[TestUsers.Admin];
    protected string DemoToken => Tokens[TestUsers.Demo];

    protected virtual DatabaseKind Kind => DatabaseKind.Sqlite;

    [OneTimeSetUp]
    public async Task StartGateway()
    {
        Database = TestDatabase.Create(Kind);
        Gateway = await GatewayInstance.StartAsync(Database);
        foreach (var account in TestUsers.All) Tokens[account] = await Gateway.TokenAsync(account);
        await SeedAsync();
    }

    [OneTimeTearDown]
    public async Task StopGateway()
    {
        if (Gateway is not null) await Gateway.DisposeAsync();
        if (Database is not null) await Database.DisposeAsync();
    }

    protected virtual Task SeedAsync() => Task.CompletedTask;
}
