using System.Globalization;
using System.Net;
using XenMigrate.Tests.Support;

namespace XenMigrate.Tests.Reliability;

/// <summary>
/// The per-token rate limit: Nova's 429 overLimit with Retry-After once a token's burst is spent,
/// other tokens unaffected, and the token served again once the bucket refills.
/// </summary>
public class RateLimitTests
{
    private const int Burst = 5;
    private static readonly string[] TinyLimit = ["--RateLimit:PermitsPerSecond=1", $"--RateLimit:Burst={Burst}"];

    [Test]
    public async Task ATokenPastItsBurst_Gets429OverLimit_OtherTokensDoNot_AndItRecovers()
    {
        await using var db = TestDatabase.Create(DatabaseKind.Sqlite);
        await using var gw = await GatewayInstance.StartAsync(db, TinyLimit);
        var demo = await gw.TokenAsync(TestUsers.Demo);
        var admin = await gw.TokenAsync(TestUsers.Admin);

        // The bucket starts full, so the whole burst is always served.
        for (var i = 0; i < Burst; i++)
            Assert.That((await gw.GetAsync("/v2.1/flavors", demo)).Status, Is.EqualTo(HttpStatusCode.OK), $"request {i + 1} of the burst");
        var limited = await FirstRefusalAsync(() => gw.GetAsync("/v2.1/flavors", demo));

        Assert.That(limited.ContentType!.MediaType, Is.EqualTo("application/json"));
        var fault = limited.Json!["overLimit"]!;
        Assert.That(limited.Json!.AsObject(), Has.Count.EqualTo(1));
        Assert.That(fault["code"]!.GetValue<int>(), Is.EqualTo(429));
        Assert.That(fault["message"]!.GetValue<string>(), Is.EqualTo("This request was rate-limited."));
        var retryAfter = fault["retryAfter"]!.GetValue<string>();
        Assert.That(int.Parse(retryAfter, CultureInfo.InvariantCulture), Is.GreaterThanOrEqualTo(1));
        Assert.That(limited.Header("Retry-After"), Is.EqualTo(retryAfter));
        Assert.That(limited.Header("x-openstack-request-id"), Does.StartWith("req-"));
        Assert.That(limited.Header("OpenStack-API-Version"), Is.EqualTo("compute 2.1"));

        // Another token has its own bucket.
        Assert.That((await gw.GetAsync("/v2.1/flavors", admin)).Status, Is.EqualTo(HttpStatusCode.OK));

        // Waiting as told gets the token served again (the refill timer may tick late, so a few rounds).
        var recovered = false;
        for (var round = 0; round < 5 && !recovered; round++)
        {
            await Task.Delay(TimeSpan.FromSeconds(int.Parse(retryAfter, CultureInfo.InvariantCulture)));
            var again = await gw.GetAsync("/v2.1/flavors", demo);
            recovered = again.Status == HttpStatusCode.OK;
            if (!recovered) retryAfter = again.Header("Retry-After");
        }

        Assert.That(recovered, Is.True, "served again after Retry-After");
    }

    [Test]
    public async Task MadeUpTokens_ShareTheirAddresssBucket_AndIdentityAnswersInKeystonesShape()
    {
        await using var db = TestDatabase.Create(DatabaseKind.Sqlite);
        await using var gw = await GatewayInstance.StartAsync(db, TinyLimit);

        // Each request brings a new invalid token: were each its own bucket, none would ever be refused.
        var limited = await FirstRefusalAsync(async () =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/identity/v3");
            request.Headers.Add("X-Auth-Token", Guid.NewGuid().ToString("N"));
            return await gw.SendAsync(request);
        });

        Assert.That(limited.Json!["error"]!["code"]!.GetValue<int>(), Is.EqualTo(429));
        Assert.That(limited.Json!["error"]!["title"]!.GetValue<string>(), Is.EqualTo("Too Many Requests"));
        Assert.That(int.Parse(limited.Header("Retry-After"), CultureInfo.InvariantCulture), Is.GreaterThanOrEqualTo(1));
    }

    [Test]
    public async Task Disabled_NeverRefuses()
    {
        await using var db = TestDatabase.Create(DatabaseKind.Sqlite);
        await using var gw = await GatewayInstance.StartAsync(db, [.. TinyLimit, "--RateLimit:Enabled=false"]);
        var demo = await gw.TokenAsync(TestUsers.Demo);
        for (var i = 0; i < Burst * 4; i++)
            Assert.That((await gw.GetAsync("/v2.1/flavors", demo)).Status, Is.EqualTo(HttpStatusCode.OK), $"request {i + 1}");
    }

    [Test]
    public async Task ALimitBelowOne_StopsTheGatewayFromStarting()
    {
        await using var db = TestDatabase.Create(DatabaseKind.Sqlite);
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => GatewayInstance.StartAsync(db, ["--RateLimit:Burst=0"]));
        Assert.That(e.Message, Does.Contain("RateLimit:Burst"));
    }

    /// <summary>Sends until the first 429; the bucket refills at one a second, so fifty requests always run it dry.</summary>
    private static async Task<ApiResponse> FirstRefusalAsync(Func<Task<ApiResponse>> send)
    {
        for (var i = 0; i < 50; i++)
        {
            var r = await send();
            if (r.Status == HttpStatusCode.TooManyRequests) return r;
            Assert.That((int)r.Status, Is.LessThan(400), r.Text);
        }

        Assert.Fail("no 429 in 50 requests");
        return null!;
    }
}
