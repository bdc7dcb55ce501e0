using System.Text.Json.Nodes;

namespace XenMigrate.Tests.Support;

/// <summary>
/// The project's shared reference data (Nova's API samples, the XAPI data model, recorded
/// exchanges): the folder <c>shared/</c> that sits beside the repository checkout.
/// </summary>
public static class SharedContract
{
    public static string Root { get; } = Find();

    public static JsonNode Load(string relativePath) =>
        JsonNode.Parse(File.ReadAllText(Path.Combine(Root, "contract", relativePath)))
        ?? throw new InvalidOperationException($"{relativePath} is empty.");

    private static string Find()
    {
        for (var dir = new DirectoryInfo(TestContext.CurrentContext.TestDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "shared");
            if (Directory.Exists(Path.Combine(candidate, "contract"))) return candidate;
        }

        throw new DirectoryNotFoundException("No shared/contract folder above the test directory; the repository expects shared/ beside it.");
    }
}
