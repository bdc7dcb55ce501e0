namespace XenMigrate.Tests.Support;

/// <summary>The repository checkout the tests were built from (the folder holding XenMigrate.sln).</summary>
public static class Repository
{
    public static string Root { get; } = Find();

    private static string Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "XenMigrate.sln"))) return dir.FullName;
        }

        throw new DirectoryNotFoundException("XenMigrate.sln not found above the test binaries.");
    }
}
