namespace XenMigrate.Tests.Support;

/// <summary>
/// NUnit categories. <see cref="External"/> marks every test that needs a program from outside the
/// .NET SDK (PostgreSQL, RabbitMQ, the openstack CLI, Tempest, Chromium, qemu-img, Node or Python
/// clients); the inner loop leaves them out: dotnet test --filter "TestCategory!=External".
/// </summary>
public static class TestCategories
{
    public const string External = "External";
}
