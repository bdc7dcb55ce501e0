using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using XenMigrate.Infrastructure.Xapi;

namespace XenMigrate.Tests.Xapi;

public class XapiClientUnitTests
{
    [TestCase("<value>OpaqueRef:5e3c</value>", "OpaqueRef:5e3c")]
    [TestCase("<value></value>", "")]
    [TestCase("", "")]
    [TestCase("OpaqueRef:plain", "OpaqueRef:plain")]
    public void TaskResults_AreDecodedFromXmlRpc(string raw, string expected) =>
        Assert.That(XapiValues.DecodeTaskResult(raw), Is.EqualTo(expected));

    [Test]
    public void Ints_AreReadFromNumbersOrDecimalStrings()
    {
        Assert.That(XapiValues.Int(JsonNode.Parse("17179869184")), Is.EqualTo(17179869184L));
        Assert.That(XapiValues.Int(JsonValue.Create("17179869184")), Is.EqualTo(17179869184L));
        Assert.That(XapiValues.Int(JsonValue.Create("junk")), Is.Zero);
    }

    [Test]
    public void ErrorData_AsALoneString_IsOneParameter() =>
        Assert.That(XapiValues.Strings(JsonValue.Create("OpaqueRef:x")), Is.EqualTo(new[] { "OpaqueRef:x" }));

    [Test]
    public void HostOptions_NeverPrintThePassword()
    {
        var host = new XapiHostOptions { Name = "xs1", Url = "https://xs1", Username = "root", Password = "s3cret!" };
        Assert.That(host.ToString(), Does.Not.Contain("s3cret!"));
    }

    [Test]
    public async Task PinnedThumbprint_AcceptsOnlyThatCertificate()
    {
        using var cert = SelfSigned("xs-pinned");
        await using var server = await TlsJsonRpcServer.StartAsync(cert);
        var host = new XapiHostOptions { Name = "xs-pinned", Url = server.Url, Username = "root", Password = "pw" };

        host.Thumbprint = cert.GetCertHashString(HashAlgorithmName.SHA256);
        await using (var session = await XapiSession.OpenAsync(host, TimeSpan.FromSeconds(10), CancellationToken.None))
            Assert.That(session.SessionRef, Is.EqualTo("OpaqueRef:tls-session"));

        host.Thumbprint = string.Join(':', Convert.ToHexString(cert.GetCertHash(HashAlgorithmName.SHA256)).Chunk(2).Select(c => new string(c))).ToLowerInvariant();
        await using (var session = await XapiSession.OpenAsync(host, TimeSpan.FromSeconds(10), CancellationToken.None))
            Assert.That(session.SessionRef, Is.Not.Empty, "colons and case do not matter");

        using var other = SelfSigned("someone-else");
        host.Thumbprint = other.GetCertHashString(HashAlgorithmName.SHA256);
        var refused = await Assert.ThrowsAsync<XapiTransportException>(() => XapiSession.OpenAsync(host, TimeSpan.FromSeconds(10), CancellationToken.None));
        Assert.That(refused!.Message, Does.Not.Contain("pw"));
    }

    [Test]
    public async Task WithoutAPin_ASelfSignedCertificateIsRefused()
    {
        using var cert = SelfSigned("xs-unpinned");
        await using var server = await TlsJsonRpcServer.StartAsync(cert);
        var host = new XapiHostOptions { Name = "xs-unpinned", Url = server.Url, Username = "root", Password = "pw" };
        await Assert.ThrowsAsync<XapiTransportException>(() => XapiSession.OpenAsync(host, TimeSpan.FromSeconds(10), CancellationToken.None));
    }

    private static X509Certificate2 SelfSigned(string name)
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        using var cert = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        return X509CertificateLoader.LoadPkcs12(cert.Export(X509ContentType.Pfx), null);
    }

    /// <summary>A real HTTPS endpoint answering session.login_with_password, to exercise certificate pinning.</summary>
    private sealed class TlsJsonRpcServer(WebApplication app, string url) : IAsyncDisposable
    {
        public string Url { get; } = url;

        public static async Task<TlsJsonRpcServer> StartAsync(X509Certificate2 cert)
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, l => l.UseHttps(new HttpsConnectionAdapterOptions { ServerCertificate = cert })));
            var app = builder.Build();
            app.MapPost("/jsonrpc", async (HttpContext http) =>
            {
                var request = await JsonNode.ParseAsync(http.Request.Body);
                var result = request!["method"]!.GetValue<string>() == "session.login_with_password" ? "OpaqueRef:tls-session" : "";
                return Results.Json(new JsonObject { ["jsonrpc"] = "2.0", ["result"] = result, ["id"] = request["id"]!.DeepClone() });
            });
            await app.StartAsync();
            var address = app.Urls.Single().Replace("127.0.0.1", "localhost", StringComparison.Ordinal);
            return new TlsJsonRpcServer(app, address);
        }

        public async ValueTask DisposeAsync()
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }
    }
}
