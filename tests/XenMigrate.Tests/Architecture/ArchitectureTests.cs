using NetArchTest.Rules;
using XenMigrate.Domain.Servers;

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
