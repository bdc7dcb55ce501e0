namespace XenMigrate.Tests.Support;

/// <summary>The users every test gateway is seeded with: one of each role, in two projects.</summary>
public static class TestUsers
{
    public sealed record Account(string Name, string Password, string Project, string Role);

    public static readonly Account Admin = new("admin", "admin-test-secret", "admin", "admin");
    public static readonly Account Demo = new("demo", "demo-test-secret", "demo", "member");
    public static readonly Account Reader = new("auditor", "auditor-test-secret", "demo", "reader");
    public static readonly Account Other = new("mallory", "mallory-test-secret", "other", "member");

    public static readonly IReadOnlyList<Account> All = [Admin, Demo, Reader, Other];

    public static IEnumerable<string> AsConfigurationArgs() =>
        All.SelectMany((a, i) => new[]
        {
            $"--Identity:Users:{i}:Name={a.Name}",
            $"--Identity:Users:{i}:Password={a.Password}",
            $"--Identity:Users:{i}:Roles:0:Project={a.Project}",
            $"--Identity:Users:{i}:Roles:0:Role={a.Role}",
        });
}
