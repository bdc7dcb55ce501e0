using System.Net;
using Microsoft.Extensions.DependencyInjection;
using XenMigrate.Api.Hosting;
using XenMigrate.Infrastructure.Identity;
using XenMigrate.Tests.Support;

namespace XenMigrate.Tests.Api;

public class HostingTests
{
    [TestCase("http://127.0.0.1:8774", true)]
    [TestCase("http://localhost:8774", true)]
    [TestCase("http://[::1]:8774", true)]
    [TestCase("http://127.5.6.7:1", true)]
    [TestCase("http://0.0.0.0:8774", false)]
    [TestCase("http://*:8774", false)]
    [TestCase("http://+:8774", false)]
    [TestCase("http://[::]:8774", false)]
    [TestCase("http://10.0.0.5:8774", false)]
    [TestCase("https://gateway.example.org", false)]
    public void Loopback_IsRecognised(string url, bool loopback) =>
        Assert.That(LoopbackGuard.IsLoopback(url), Is.EqualTo(loopback));

    [Test]
    public async Task DemoCredentials_OnANonLoopbackAddress_RefuseToStart()
    {
        await using var db = TestDatabase.Create(DatabaseKind.Sqlite);
        var ex = await Assert.ThrowsAsync<InvalidOperationException>(() => Gateway.BuildAsync(
        [
            "--urls=http://0.0.0.0:0", $"--Database:ConnectionString={db.ConnectionString}",
            "--Identity:Users:0:Name=admin", "--Identity:Users:0:Password=admin-demo-password",
            "--Identity:Users:0:Roles:0:Project=admin", "--Identity:Users:0:Roles:0:Role=admin",
        ]));
        Assert.That(ex!.Message, Does.Contain("Refusing to listen on http://0.0.0.0:0").And.Contain("admin"));
        Assert.That(ex.Message, Does.Not.Contain("admin-demo-password"), "the refusal does not print the password either");
    }

    [Test]
    public async Task OwnCredentials_OnANonLoopbackAddress_AreAccepted()
    {
        await using var db = TestDatabase.Create(DatabaseKind.Sqlite);
        await using var app = await Gateway.BuildAsync(
        [
            "--urls=http://0.0.0.0:0", $"--contentRoot={Path.GetTempPath()}", $"--Database:ConnectionString={db.ConnectionString}",
            "--Identity:Users:0:Name=admin", "--Identity:Users:0:Password=a-real-secret",
            "--Identity:Users:0:Roles:0:Project=admin", "--Identity:Users:0:Roles:0:Role=admin",
        ]);
        Assert.That(app, Is.Not.Null);
    }

    /// <summary>The simulated lab lives in one process's memory: split roles never start one each.</summary>
    [TestCase("Api")]
    [TestCase("Worker")]
    public async Task SplitRoles_StartNoEmbeddedLab(string role)
    {
        await using var db = TestDatabase.Create(DatabaseKind.Sqlite);
        await using var app = await Gateway.BuildAsync(
        [
            "--urls=http://127.0.0.1:0", $"--contentRoot={Path.GetTempPath()}", $"--Database:ConnectionString={db.ConnectionString}",
            $"--Gateway:Role={role}",
        ]);
        Assert.That(app.Services.GetRequiredService<XenMigrate.Infrastructure.Inventory.IXenServerHostSource>(), Is.Not.InstanceOf<EmbeddedLab>());
    }

    [TestCase("Api", HttpStatusCode.OK)]
    [TestCase("Worker", HttpStatusCode.NotFound)]
    public async Task Worker_ServesHealthOnly(string role, HttpStatusCode versions)
    {
        await using var db = TestDatabase.Create(DatabaseKind.Sqlite);
        await using var app = await Gateway.BuildAsync(
        [
            "--urls=http://127.0.0.1:0", $"--contentRoot={Path.GetTempPath()}", $"--Database:ConnectionString={db.ConnectionString}",
            $"--Gateway:Role={role}", "--XenServer:EmbeddedLab=false",
        ]);
        await app.StartAsync();
        using var http = new HttpClient { BaseAddress = new Uri(app.Urls.Single()) };
        using (var health = await http.GetAsync("/healthz")) Assert.That(health.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        using (var root = await http.GetAsync("/")) Assert.That(root.StatusCode, Is.EqualTo(versions));
        await app.StopAsync();
    }

    [Test]
    public async Task MassTransitUsageTelemetry_IsOff()
    {
        await using var db = TestDatabase.Create(DatabaseKind.Sqlite);
        await using var gw = await GatewayInstance.StartAsync(db);
        var telemetry = gw.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<MassTransit.UsageTelemetryOptions>>().Value;
        Assert.That(telemetry.Enabled, Is.False, "nothing is reported to usage-tracking.masstransit.io");
    }

    [Test]
    public void Banner_PrintsDemoUsersAndAWorkingCloudsYaml()
    {
        var users = new[]
        {
            new ConfiguredUser { Name = "admin", Password = "admin-demo-password", Roles = [new ConfiguredRole { Project = "admin", Role = "admin" }] },
        };
        var banner = StartupBanner.Render("http://127.0.0.1:8774", users, "Sqlite");
        Assert.That(banner, Does.Contain("http://127.0.0.1:8774/v2.1"));
        Assert.That(banner, Does.Contain("admin-demo-password"));
        Assert.That(banner, Does.Contain("auth_url: http://127.0.0.1:8774/identity/v3"));
        Assert.That(banner, Does.Contain("project_name: admin"));
    }

    [Test]
    public async Task EmbeddedDefault_ShipsTheDemoUsersAndStandardFlavors()
    {
        await using var db = TestDatabase.Create(DatabaseKind.Sqlite);
        var apiDir = Path.Combine(TestContext.CurrentContext.TestDirectory);
        await using var app = await Gateway.BuildAsync(
            ["--urls=http://127.0.0.1:0", $"--contentRoot={apiDir}", $"--Database:ConnectionString={db.ConnectionString}", "--environment=Production"]);
        await app.StartAsync();
        try
        {
            var url = app.Urls.Single();
            using var http = new HttpClient { BaseAddress = new Uri(url) };
            using var login = await http.PostAsync("/identity/v3/auth/tokens",
                GatewayInstance.Json(GatewayInstance.AuthBody("demo", "demo-demo-password", "demo")));
            Assert.That(login.StatusCode, Is.EqualTo(HttpStatusCode.Created), "the shipped appsettings.json seeds demo/demo");
            using var request = new HttpRequestMessage(HttpMethod.Get, "/v2.1/flavors");
            request.Headers.Add("X-Auth-Token", login.Headers.GetValues("X-Subject-Token").Single());
            using var flavors = await http.SendAsync(request);
            var body = await flavors.Content.ReadAsStringAsync();
            foreach (var name in new[] { "m1.tiny", "m1.small", "m1.medium", "m1.large", "m1.xlarge" }) Assert.That(body, Does.Contain(name));
        }
        finally
        {
            await app.StopAsync();
        }
    }
}
