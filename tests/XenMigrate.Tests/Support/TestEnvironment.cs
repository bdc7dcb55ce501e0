namespace XenMigrate.Tests.Support;

/// <summary>
/// Where a test needs something from outside (PostgreSQL, the openstack CLI): under CI=true a
/// missing dependency fails the test; on a developer's machine it is skipped with the reason.
/// </summary>
public static class TestEnvironment
{
    public static bool IsCi => string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

    /// <summary>Connection string (without Database) of a PostgreSQL server the tests may create databases on.</summary>
    public static string? PostgresServer => Environment.GetEnvironmentVariable("XENMIGRATE_TEST_POSTGRES");

    /// <summary>Host of a RabbitMQ broker (guest/guest) the notification tests may use.</summary>
    public static string? RabbitMqHost => Environment.GetEnvironmentVariable("XENMIGRATE_TEST_RABBITMQ");

    public static void Require(bool available, string what)
    {
        if (available) return;
        if (IsCi) Assert.Fail($"{what} is required under CI=true but is not available.");
        Assert.Ignore($"{what} is not available here; skipped (CI=true makes this a failure).");
    }

    public static string? FindOnPath(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? string.Empty)
        .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
        .Select(dir => Path.Combine(dir, program))
        .FirstOrDefault(File.Exists);
}
