namespace XenMigrate.Tests.Support;

/// <summary>Files of the repository the tests read (sources, committed documents), found from the test's own directory.</summary>
public static class RepositoryPaths
{
    public static string Root { get; } = Find();

    public static string Of(params string[] parts) => Path.Combine([Root, .. parts]);

    private static string Find()
    {
        for (var dir = new DirectoryInfo(TestContext.CurrentContext.TestDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "XenMigrate.sln"))) return dir.FullName;
        throw new DirectoryNotFoundException("No XenMigrate.sln above the test directory.");
    }
}
