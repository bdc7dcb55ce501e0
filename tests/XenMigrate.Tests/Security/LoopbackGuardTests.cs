using Microsoft.AspNetCore.Hosting;
using XenMigrate.Api.Hosting;
using XenMigrate.Tests.Support;

namespace XenMigrate.Tests.Security;

/// <summary>
/// The shipped demo credentials never face a network, however the address is given: --urls (also
/// what ASPNETCORE_URLS and DOTNET_URLS become), Kestrel:Endpoints, wildcards, IPv6, LAN addresses,
/// host names, or one exposed address among loopback ones. Api/HostingTests covers the URL parser.
/// </summary>
public class LoopbackGuardTests
{
    private static readonly string[] DemoAdmin =
    [
        "--Identity:Users:0:Name=admin", "--Identity:Users:0:Password=admin-demo-password",
        "--Identity:Users:0:Roles:0:Project=admin", "--Identity:Users:0:Roles:0:Role=admin",
    ];

    // A non-demo user first: one demo user among others is enough to refuse.
    private static readonly string[] OwnThenDemo =
    [
        "--Identity:Users:0:Name=ops", "--Identity:Users:0:Password=a-real-secret",
        "--Identity:Users:0:Roles:0:Project=admin", "--Identity:Users:0:Roles:0:Role=admin",
        "--Identity:Users:1:Name=demo", "--Identity:Users:1:Password=demo-demo-password",
        "--Identity:Users:1:Roles:0:Project=demo", "--Identity:Users:1:Roles:0:Role=member",
    ];

    [TestCase("--urls=http://0.0.0.0:0", "http://0.0.0.0:0")]
    [TestCase("--urls=http://[::]:0", "http://[::]:0")]
    [TestCase("--urls=http://*:0", "http://*:0")]
    [TestCase("--urls=http://+:0", "http://+:0")]
    [TestCase("--urls=http://192.168.1.20:0", "http://192.168.1.20:0")]
    [TestCase("--urls=http://gateway.example.org:0", "http://gateway.example.org:0")] // Kestrel binds a name to every address
    [TestCase("--urls=http://127.0.0.1:0;http://10.1.2.3:0", "http://10.1.2.3:0")]
    [TestCase("--Kestrel:Endpoints:Lan:Url=http://10.1.2.3:0", "http://10.1.2.3:0")]
    [TestCase("--Kestrel:Endpoints:Any:Url=https://*:0", "https://*:0")]
    [TestCase("--Kestrel:Endpoints:V6:Url=http://[::]:0", "http://[::]:0")]
    public async Task DemoCredentials_BeyondLoopback_RefuseToStart(string binding, string exposed)
    {
        foreach (var users in new[] { DemoAdmin, OwnThenDemo })
        {
            await using var db = TestDatabase.Create(DatabaseKind.Sqlite);
            var ex = await Assert.ThrowsAsync<InvalidOperationException>(() => Gateway.BuildAsync(
                [binding, $"--contentRoot={Path.GetTempPath()}", $"--Database:ConnectionString={db.ConnectionString}", "--XenServer:EmbeddedLab=false", .. users]));
            Assert.That(ex!.Message, Does.Contain("Refusing to listen on " + exposed));
            Assert.That(ex.Message, Does.Not.Contain("demo-password"), "the refusal does not repeat a password");
        }
    }

    [TestCase("--urls=http://127.0.0.1:0")]
    [TestCase("--urls=http://localhost:0")]
    [TestCase("--urls=http://[::1]:0")]
    [TestCase("--Kestrel:Endpoints:Local:Url=http://127.0.0.1:0")]
    public async Task DemoCredentials_OnLoopback_Start(string binding)
    {
        await using var db = TestDatabase.Create(DatabaseKind.Sqlite);
        await using var app = await Gateway.BuildAsync(
            [binding, $"--contentRoot={Path.GetTempPath()}", $"--Database:ConnectionString={db.ConnectionString}", "--XenServer:EmbeddedLab=false", .. DemoAdmin]);
        Assert.That(app, Is.Not.Null);
    }

    [Test]
    public async Task HttpPorts_DoNotWidenTheDefaultLoopbackBinding()
    {
        // ASPNETCORE_HTTP_PORTS means every address; the gateway's own default URL takes precedence over it.
        await using var db = TestDatabase.Create(DatabaseKind.Sqlite);
        await using var app = await Gateway.BuildAsync(
            ["--http_ports=8080", "--https_ports=8443", $"--contentRoot={Path.GetTempPath()}", $"--Database:ConnectionString={db.ConnectionString}",
             "--XenServer:EmbeddedLab=false", .. DemoAdmin]);
        Assert.That(app.Configuration[WebHostDefaults.ServerUrlsKey], Is.EqualTo(Gateway.DefaultUrl));
    }
}
