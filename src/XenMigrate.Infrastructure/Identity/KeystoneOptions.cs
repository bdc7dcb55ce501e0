namespace XenMigrate.Infrastructure.Identity;

/// <summary>Configuration section <c>Identity</c>: token settings and the users to seed.</summary>
public sealed class KeystoneOptions
{
    public const string Section = "Identity";

    /// <summary>How long a token lives (Keystone's default: one hour).</summary>
    public TimeSpan TokenLifetime { get; set; } = TimeSpan.FromHours(1);

    /// <summary>
    /// Secret the tokens are sealed with. Leave empty to have one generated once and kept in the
    /// database, which every gateway process sharing that database then uses.
    /// </summary>
    public string? TokenSigningKey { get; set; }

    /// <summary>
    /// How long a validated token is trusted without reading the database again (keystonemiddleware's
    /// <c>token_cache_time</c>, 300 s there). An identity change saved by this process takes effect at
    /// once; one saved by another process sharing the database, within this time. Zero turns it off.
    /// </summary>
    public TimeSpan TokenCacheTime { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Users to seed, each with role assignments; projects are created as named.</summary>
    public List<ConfiguredUser> Users { get; set; } = [];
}

public sealed class ConfiguredUser
{
    public string Name { get; set; } = string.Empty;
    public string Password { get; set; } = string.Empty;
    public List<ConfiguredRole> Roles { get; set; } = [];
}

public sealed class ConfiguredRole
{
    public string Project { get; set; } = string.Empty;
    public string Role { get; set; } = string.Empty;
}

/// <summary>
/// The credentials shipped in appsettings.json for a first run on a laptop. The gateway prints
/// them at start-up and refuses to listen beyond loopback while any of them is in use.
/// </summary>
public static class DemoCredentials
{
    private static readonly Dictionary<string, string> Shipped = new(StringComparer.Ordinal)
    {
        ["admin"] = "admin-demo-password",
        ["demo"] = "demo-demo-password",
    };

    public static bool IsDemo(ConfiguredUser user) =>
        Shipped.TryGetValue(user.Name, out var password) && password == user.Password;
}
