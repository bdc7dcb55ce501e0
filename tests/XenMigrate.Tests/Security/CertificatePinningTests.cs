using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using XenMigrate.Infrastructure.Xapi;

namespace XenMigrate.Tests.Security;

/// <summary>
/// A pinned host certificate is enforced on a real HTTPS loopback endpoint: a wrong or unusable
/// pin, or no pin with an untrusted certificate, refuses before a single request (and so the
/// password) is sent; the right pin, SHA-256 or SHA-1, works.
/// </summary>
public class CertificatePinningTests
{
    private const string Password = "pw-pinned-host-secret";

    private static X509Certificate2 SelfSigned(string name)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509SubjectAlternativeNameExtension(BuildSan()));
        using var cert = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        return X509CertificateLoader.LoadPkcs12(cert.Export(X509ContentType.Pfx), null);

        static byte[] BuildSan()
        {
            var san = new SubjectAlternativeNameBuilder();
            san.AddDnsName("localhost");
            return san.Build().RawData;
        }
    }

    private static XapiHostOptions Host(CountingTlsHost server, string? thumbprint) =>
        new() { Name = "xs-tls", Url = server.Url, Username = "root", Password = Password, Thumbprint = thumbprint };

    [Test]
    public async Task RightPin_Sha256OrSha1_LogsIn()
    {
        using var cert = SelfSigned("xs-tls");
        await using var server = await CountingTlsHost.StartAsync(cert);
        foreach (var pin in new[] { cert.GetCertHashString(HashAlgorithmName.SHA256), cert.GetCertHashString(HashAlgorithmName.SHA1) })
        {
            await using var session = await XapiSession.OpenAsync(Host(server, pin), TimeSpan.FromSeconds(10), CancellationToken.None);
            Assert.That(session.SessionRef, Is.EqualTo("OpaqueRef:tls-session"));
        }

        Assert.That(server.PasswordsReceived, Is.GreaterThanOrEqualTo(2), "the counter sees a login that got through");
    }

    [Test]
    public async Task SeveralPins_AsForAPoolsMembers_TheMatchingOneLogsIn()
    {
        using var cert = SelfSigned("xs-tls");
        using var other = SelfSigned("xs-other-member");
        await using var server = await CountingTlsHost.StartAsync(cert);
        var pins = $"{other.GetCertHashString(HashAlgorithmName.SHA256)}, {string.Join(':', cert.GetCertHashString(HashAlgorithmName.SHA256).Chunk(2).Select(c => new string(c)))}";

        await using var session = await XapiSession.OpenAsync(Host(server, pins), TimeSpan.FromSeconds(10), CancellationToken.None);
        Assert.That(session.SessionRef, Is.EqualTo("OpaqueRef:tls-session"));

        var onlyOthers = $"{other.GetCertHashString(HashAlgorithmName.SHA256)};{other.GetCertHashString(HashAlgorithmName.SHA1)}";
        await Assert.ThrowsAsync<XapiTransportException>(() => XapiSession.OpenAsync(Host(server, onlyOthers), TimeSpan.FromSeconds(10), CancellationToken.None));
    }

    [TestCase("wrong certificate")]
    [TestCase("no pin, untrusted certificate")]
    [TestCase("pin that is not hex")]
    [TestCase("pin of the right certificate, cut short")]
    public async Task BadOrMissingPin_RefusesBeforeSendingAnything(string pinCase)
    {
        using var cert = SelfSigned("xs-tls");
        using var other = SelfSigned("xs-tls");
        await using var server = await CountingTlsHost.StartAsync(cert);
        var pin = pinCase switch
        {
            "wrong certificate" => other.GetCertHashString(HashAlgorithmName.SHA256),
            "no pin, untrusted certificate" => null,
            "pin that is not hex" => "not-a-thumbprint",
            _ => cert.GetCertHashString(HashAlgorithmName.SHA256)[..32],
        };

        var refused = await Assert.ThrowsAsync<XapiTransportException>(() =>
            XapiSession.OpenAsync(Host(server, pin), TimeSpan.FromSeconds(10), CancellationToken.None));
        Assert.That(server.Requests, Is.Zero, "no HTTP request reached the host");
        Assert.That(server.PasswordsReceived, Is.Zero);
        Assert.That(refused!.ToString(), Does.Not.Contain(Password));
    }

    /// <summary>A host answering with a redirect must not make the client resend its login elsewhere.</summary>
    [TestCase(307)]
    [TestCase(308)]
    public async Task Redirect_IsRefused_AndTheLoginGoesNowhereElse(int status)
    {
        var reachedTarget = 0;
        await using var target = await PlainHostAsync(_ => Interlocked.Increment(ref reachedTarget));
        await using var redirecting = await PlainHostAsync(http =>
        {
            http.Response.StatusCode = status;
            http.Response.Headers.Location = target.Urls.Single() + "/jsonrpc";
        });

        var host = new XapiHostOptions { Name = "xs-redirect", Url = redirecting.Urls.Single(), Username = "root", Password = Password };
        var refused = await Assert.ThrowsAsync<XapiTransportException>(() => XapiSession.OpenAsync(host, TimeSpan.FromSeconds(10), CancellationToken.None));
        Assert.That(refused!.Message, Does.Contain(status.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        Assert.That(reachedTarget, Is.Zero, "the login was not resent to the redirect's target");
        await redirecting.StopAsync();
        await target.StopAsync();
    }

    private static async Task<WebApplication> PlainHostAsync(Action<HttpContext> answer)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        app.MapPost("/jsonrpc", answer);
        await app.StartAsync();
        return app;
    }

    /// <summary>An HTTPS JSON-RPC endpoint that counts the requests (and passwords) reaching it.</summary>
    private sealed class CountingTlsHost(WebApplication app, string url) : IAsyncDisposable
    {
        private int _requests;
        private int _passwords;

        public string Url { get; } = url;
        public int Requests => Volatile.Read(ref _requests);
        public int PasswordsReceived => Volatile.Read(ref _passwords);

        public static async Task<CountingTlsHost> StartAsync(X509Certificate2 cert)
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0,
                l => l.UseHttps(new HttpsConnectionAdapterOptions { ServerCertificate = cert })));
            var app = builder.Build();
            CountingTlsHost? self = null;
            app.MapPost("/jsonrpc", async (HttpContext http) =>
            {
                Interlocked.Increment(ref self!._requests);
                var request = (await JsonNode.ParseAsync(http.Request.Body))!;
                var method = request["method"]!.GetValue<string>();
                if (request.ToJsonString().Contains(Password, StringComparison.Ordinal)) Interlocked.Increment(ref self._passwords);
                var result = method == "session.login_with_password" ? "OpaqueRef:tls-session" : "";
                return Results.Json(new JsonObject { ["jsonrpc"] = "2.0", ["result"] = result, ["id"] = request["id"]!.DeepClone() });
            });
            await app.StartAsync();
            self = new CountingTlsHost(app, app.Urls.Single().Replace("127.0.0.1", "localhost", StringComparison.Ordinal));
            return self;
        }

        public async ValueTask DisposeAsync()
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }
    }
}
