using System.Net;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using XenMigrate.Infrastructure.Identity;
using XenMigrate.Infrastructure.Persistence;
using XenMigrate.Tests.Support;

namespace XenMigrate.Tests.Security;

/// <summary>
/// Tokens cannot be forged, altered, cut short, spliced, moved to another project or used after
/// they expire. Complements Api/KeystoneTests with exhaustive edits of a real admin token.
/// </summary>
public class TokenTests : GatewayFixture
{
    // os-migrations is admin-only: a bad token that slipped through would show as 200, not 403.
    private const string AdminOnly = "/v2.1/os-migrations";

    private async Task<HttpStatusCode> StatusWith(string token) => (await Gateway.GetAsync(AdminOnly, token)).Status;

    [Test]
    public async Task FlippingAnyBitOfAnyByte_IsRefused()
    {
        Assert.That(await StatusWith(AdminToken), Is.EqualTo(HttpStatusCode.OK), "the untouched token works");
        var length = TokenBytes.Decode(AdminToken).Length;
        var accepted = new List<string>();
        for (var i = 0; i < length; i++)
        {
            // nonce, ciphertext and tag alike: low bit and high bit of every byte
            foreach (var mask in new byte[] { 0x01, 0x80 })
            {
                var bytes = TokenBytes.Decode(AdminToken);
                bytes[i] ^= mask;
                var status = await StatusWith(TokenBytes.Encode(bytes));
                if (status != HttpStatusCode.Unauthorized) accepted.Add($"byte {i} mask {mask:x2}: {status}");
            }
        }

        Assert.That(accepted, Is.Empty);
        await TestContext.Out.WriteLineAsync($"tampered tokens: {length * 2} checks, {accepted.Count} accepted");
    }

    [Test]
    public async Task EveryTruncation_AndAnyExtension_IsRefused()
    {
        var bytes = TokenBytes.Decode(AdminToken);
        var accepted = new List<string>();
        for (var keep = 0; keep < bytes.Length; keep++)
        {
            var status = await StatusWith(TokenBytes.Encode(bytes[..keep]));
            if (status != HttpStatusCode.Unauthorized) accepted.Add($"first {keep} bytes: {status}");
        }

        foreach (var extra in new byte[][] { [0], [1, 2, 3, 4], new byte[16] })
        {
            var status = await StatusWith(TokenBytes.Encode([.. bytes, .. extra]));
            if (status != HttpStatusCode.Unauthorized) accepted.Add($"{extra.Length} bytes appended: {status}");
        }

        Assert.That(accepted, Is.Empty);
    }

    [Test]
    public async Task SplicingTwoGenuineTokens_IsRefused()
    {
        // The nonce of one admin token with the ciphertext and tag of another: both genuine, the mix is not.
        var first = TokenBytes.Decode(AdminToken);
        var second = TokenBytes.Decode(await Gateway.TokenAsync(TestUsers.Admin));
        var spliced = first[..12].Concat(second[12..]).ToArray();
        Assert.That(await StatusWith(TokenBytes.Encode(spliced)), Is.EqualTo(HttpStatusCode.Unauthorized));
    }

    [Test]
    public async Task GenuineClaims_SealedWithAnotherKey_AreRefused()
    {
        var (adminUser, adminProject) = await IdsAsync(TestUsers.Admin);
        var now = DateTime.UtcNow;
        var claims = new TokenClaims(adminUser, adminProject, now, now.AddHours(1), "foreign-audit-id");

        var ownKey = await Gateway.Services.GetRequiredService<TokenKeyProvider>().GetSealerAsync(CancellationToken.None);
        Assert.That(await StatusWith(ownKey.Seal(claims)), Is.EqualTo(HttpStatusCode.OK), "the same claims under the gateway's key pass");
        var foreign = new TokenSealer(TokenSealer.NewRandomKey()).Seal(claims);
        Assert.That(await StatusWith(foreign), Is.EqualTo(HttpStatusCode.Unauthorized));
        var guessedKey = new TokenSealer(TokenSealer.KeyFromSecret(string.Empty)).Seal(claims);
        Assert.That(await StatusWith(guessedKey), Is.EqualTo(HttpStatusCode.Unauthorized), "an empty configured secret is not the key");
    }

    [Test]
    public async Task AToken_StaysInItsProject()
    {
        var demoProject = await Gateway.ProjectIdAsync("demo");
        var otherProject = await Gateway.ProjectIdAsync("other");
        var server = await Gateway.AddServerAsync("token-scope", TestUsers.Demo);

        // Nova refuses a URL naming another project than the token's, even for an admin.
        var moved = await Gateway.GetAsync($"/v2.1/{otherProject}/servers/{server.Id}", DemoToken);
        Assert.That(moved.Status, Is.EqualTo(HttpStatusCode.BadRequest));
        var intoDemo = await Gateway.GetAsync($"/v2.1/{demoProject}/servers/{server.Id}", Tokens[TestUsers.Other]);
        Assert.That(intoDemo.Status, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That(intoDemo.Text, Does.Not.Contain("token-scope"));
        Assert.That((await Gateway.GetAsync($"/v2.1/{demoProject}/servers/{server.Id}", AdminToken)).Status, Is.EqualTo(HttpStatusCode.BadRequest));

        // A sealed pairing of a user with a project they hold no role on is worthless.
        var (malloryUser, _) = await IdsAsync(TestUsers.Other);
        var sealer = await Gateway.Services.GetRequiredService<TokenKeyProvider>().GetSealerAsync(CancellationToken.None);
        var now = DateTime.UtcNow;
        var crossed = sealer.Seal(new TokenClaims(malloryUser, demoProject, now, now.AddHours(1), "crossed-audit-id"));
        Assert.That((await Gateway.GetAsync($"/v2.1/servers/{server.Id}", crossed)).Status, Is.EqualTo(HttpStatusCode.Unauthorized));
    }

    [Test]
    public async Task ShortLifetimeFromConfiguration_ExpiresEverywhere()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var db = TestDatabase.Create(DatabaseKind.Sqlite);
        await using var gw = await GatewayInstance.StartAsync(db, ["--Identity:TokenLifetime=00:00:05"],
            services => services.AddSingleton<TimeProvider>(clock));
        var admin = await gw.TokenAsync(TestUsers.Admin);
        var demo = await gw.TokenAsync(TestUsers.Demo);

        using var body = new HttpRequestMessage(HttpMethod.Get, "/identity/v3/auth/tokens");
        body.Headers.Add("X-Auth-Token", admin);
        body.Headers.Add("X-Subject-Token", admin);
        var token = (await gw.SendAsync(body)).Json!["token"]!;
        var issued = DateTime.Parse(token["issued_at"]!.GetValue<string>(), null, System.Globalization.DateTimeStyles.RoundtripKind);
        var expires = DateTime.Parse(token["expires_at"]!.GetValue<string>(), null, System.Globalization.DateTimeStyles.RoundtripKind);
        Assert.That(expires - issued, Is.EqualTo(TimeSpan.FromSeconds(5)), "the configured lifetime");

        clock.Advance(TimeSpan.FromSeconds(4));
        Assert.That((await gw.GetAsync(AdminOnly, admin)).Status, Is.EqualTo(HttpStatusCode.OK), "still within its lifetime");

        clock.Advance(TimeSpan.FromSeconds(1)); // exactly expires_at: no longer valid
        Assert.That((await gw.GetAsync(AdminOnly, admin)).Status, Is.EqualTo(HttpStatusCode.Unauthorized));
        Assert.That((await gw.GetAsync("/v2.1/servers", demo)).Status, Is.EqualTo(HttpStatusCode.Unauthorized));
        Assert.That((await gw.GetAsync("/image/v2/images", demo)).Status, Is.EqualTo(HttpStatusCode.Unauthorized));

        using var dashboard = new HttpRequestMessage(HttpMethod.Get, "/hangfire");
        dashboard.Headers.Add("X-Auth-Token", admin);
        Assert.That((await gw.SendAsync(dashboard)).Status, Is.EqualTo(HttpStatusCode.Unauthorized), "the job dashboard too");
        using var login = await gw.Http.PostAsync("/hangfire-login", new FormUrlEncodedContent([new("token", admin)]));
        Assert.That(login.StatusCode, Is.EqualTo(HttpStatusCode.Forbidden));

        // Keystone: an expired own token is 401, an expired subject token is 404.
        var fresh = await gw.TokenAsync(TestUsers.Admin);
        using var validate = new HttpRequestMessage(HttpMethod.Get, "/identity/v3/auth/tokens");
        validate.Headers.Add("X-Auth-Token", fresh);
        validate.Headers.Add("X-Subject-Token", admin);
        Assert.That((await gw.SendAsync(validate)).Status, Is.EqualTo(HttpStatusCode.NotFound));
        using var asExpired = new HttpRequestMessage(HttpMethod.Get, "/identity/v3/auth/tokens");
        asExpired.Headers.Add("X-Auth-Token", admin);
        asExpired.Headers.Add("X-Subject-Token", fresh);
        Assert.That((await gw.SendAsync(asExpired)).Status, Is.EqualTo(HttpStatusCode.Unauthorized));
    }

    [Test]
    public async Task ValidatingSomeoneElsesToken_NeedsAdmin()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/identity/v3/auth/tokens");
        request.Headers.Add("X-Auth-Token", Tokens[TestUsers.Other]);
        request.Headers.Add("X-Subject-Token", DemoToken);
        var refused = await Gateway.SendAsync(request);
        Assert.That(refused.Status, Is.EqualTo(HttpStatusCode.Forbidden));
        Assert.That(refused.Text, Does.Not.Contain("demo").And.Not.Contain("catalog"), "nothing of the subject token is shown");
    }

    private async Task<(string UserId, string ProjectId)> IdsAsync(TestUsers.Account account)
    {
        await using var scope = Gateway.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<XenMigrateDbContext>();
        var user = await db.Users.SingleAsync(u => u.Name == account.Name);
        var project = await db.Projects.SingleAsync(p => p.Name == account.Project);
        return (user.Id, project.Id);
    }
}
