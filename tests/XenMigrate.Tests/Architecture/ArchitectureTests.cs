using NetArchTest.Rules;
using XenMigrate.Domain.Servers;
using XenMigrate.Tests.Support;

namespace XenMigrate.Tests.Architecture;

public class ArchitectureTests
{
    [TestCase("Microsoft.EntityFrameworkCore")]
    [TestCase("Hangfire")]
    [TestCase("MassTransit")]
    [TestCase("Microsoft.AspNetCore")]
    [TestCase("Microsoft.Extensions")]
    [TestCase("System.Net.Http")]
    [TestCase("XenMigrate.Infrastructure")]
    [TestCase("XenMigrate.Api")]
    public void Domain_DoesNotDependOn(string forbidden)
    {
        var result = Types.InAssembly(typeof(Server).Assembly).ShouldNot().HaveDependencyOn(forbidden).GetResult();
        Assert.That(result.IsSuccessful, Is.True,
            $"Domain types depending on {forbidden}: {string.Join(", ", result.FailingTypeNames ?? [])}");
    }

    [Test]
    public void Domain_ReferencesOnlyTheBcl()
    {
        var references = typeof(Server).Assembly.GetReferencedAssemblies().Select(a => a.Name).ToList();
        Assert.That(references, Is.All.Matches<string?>(n => n == "System.Runtime" || n is null || n!.StartsWith("System.", StringComparison.Ordinal) || n == "netstandard"),
            string.Join(", ", references));
    }

    [Test]
    public void Infrastructure_DoesNotDependOnTheApi()
    {
        var result = Types.InAssembly(typeof(XenMigrate.Infrastructure.InfrastructureRegistration).Assembly)
            .ShouldNot().HaveDependencyOn("XenMigrate.Api").GetResult();
        Assert.That(result.IsSuccessful, Is.True);
    }
}

/// <summary>
/// The seams beyond Domain: the Api reaches XenServer only through the compute use cases and the
/// hypervisor driver's results, the simulator stands alone, and XAPI's method names are spelled
/// only inside the driver and the client.
/// </summary>
public class LayerBoundaryTests
{
    [Test]
    public void Api_DoesNotReachTheXapiClient_TheDriverOrTheTransfer()
    {
        var result = Types.InAssembly(typeof(XenMigrate.Api.Hosting.Gateway).Assembly).ShouldNot().HaveDependencyOnAny(
                "XenMigrate.Infrastructure.Transfer",
                "XenMigrate.Infrastructure.Xapi.XapiSession", "XenMigrate.Infrastructure.Xapi.XapiCalls", "XenMigrate.Infrastructure.Xapi.XapiHttp",
                "XenMigrate.Infrastructure.XenServer.XapiDriver", "XenMigrate.Infrastructure.XenServer.XapiPoolConnection")
            .GetResult();
        Assert.That(result.IsSuccessful, Is.True, $"Api types reaching past the driver: {string.Join(", ", result.FailingTypeNames ?? [])}");
    }

    [Test]
    public void OnlyTheEmbeddedLab_UsesTheSimulator()
    {
        var result = Types.InAssembly(typeof(XenMigrate.Api.Hosting.Gateway).Assembly)
            .That().DoNotHaveNameStartingWith("EmbeddedLab")
            .ShouldNot().HaveDependencyOn("XenMigrate.XapiSimulator").GetResult();
        Assert.That(result.IsSuccessful, Is.True, $"Api types using the simulator: {string.Join(", ", result.FailingTypeNames ?? [])}");
        var infrastructure = Types.InAssembly(typeof(XenMigrate.Infrastructure.InfrastructureRegistration).Assembly)
            .ShouldNot().HaveDependencyOn("XenMigrate.XapiSimulator").GetResult();
        Assert.That(infrastructure.IsSuccessful, Is.True, string.Join(", ", infrastructure.FailingTypeNames ?? []));
    }

    [Test]
    public void TheSimulator_ReferencesNoXenMigrateAssembly()
    {
        var references = typeof(XenMigrate.XapiSimulator.SimulatedHost).Assembly.GetReferencedAssemblies().Select(a => a.Name ?? "").ToList();
        Assert.That(references.Where(n => n.StartsWith("XenMigrate", StringComparison.Ordinal)), Is.Empty);
    }

    [Test]
    public void XapiMethodNames_AppearOnlyInTheDriverAndTheClient()
    {
        var root = RepositoryPaths.Of("src", "XenMigrate.Infrastructure");
        var allowed = new[] { Path.Combine(root, "XenServer"), Path.Combine(root, "Xapi"), Path.Combine(root, "Transfer") };
        var call = new System.Text.RegularExpressions.Regex(@"""(VM|VDI|VBD|VIF|SR|PBD|host|pool|task|session|event|network|PIF)\.[a-z_]+""");
        var offenders = Directory.EnumerateFiles(root, "*.cs", SearchOption.AllDirectories)
            .Where(f => !allowed.Any(a => f.StartsWith(a + Path.DirectorySeparatorChar, StringComparison.Ordinal)))
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .SelectMany(f => File.ReadLines(f).Select((line, i) => (f, i, line)))
            .Where(x => call.IsMatch(x.line) && !x.line.TrimStart().StartsWith("//", StringComparison.Ordinal))
            .Select(x => $"{Path.GetRelativePath(root, x.f)}:{x.i + 1}").ToList();
        Assert.That(offenders, Is.Empty, "XAPI calls outside the driver");
    }
}
