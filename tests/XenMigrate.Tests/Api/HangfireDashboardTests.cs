using System.Net;
using XenMigrate.Tests.Support;

namespace XenMigrate.Tests.Api;

public class HangfireDashboardTests : GatewayFixture
{
    private async Task<HttpStatusCode> DashboardAsync(string? token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/hangfire");
        if (token is not null) request.Headers.Add("X-Auth-Token", token);
        using var response = await Gateway.Http.SendAsync(request);
        return response.StatusCode;
    }

    [Test]
    public async Task Dashboard_IsForAdminsOnly()
    {
        Assert.That(await DashboardAsync(AdminToken), Is.EqualTo(HttpStatusCode.OK));
        Assert.That(await DashboardAsync(DemoToken), Is.EqualTo(HttpStatusCode.Forbidden), "authenticated, not an admin");
        Assert.That(await DashboardAsync(null), Is.EqualTo(HttpStatusCode.Unauthorized));
        Assert.That(await DashboardAsync("forged"), Is.EqualTo(HttpStatusCode.Unauthorized));
    }

    [Test]
    public async Task LoginForm_SetsAStrictHttpOnlyCookie_ForAdminsOnly()
    {
        using var handler = new HttpClientHandler { UseCookies = true, AllowAutoRedirect = false };
        using var browser = new HttpClient(handler) { BaseAddress = new Uri(Gateway.BaseUrl) };

        using var refused = await browser.PostAsync("/hangfire-login", new FormUrlEncodedContent([new("token", DemoToken)]));
        Assert.That(refused.StatusCode, Is.EqualTo(HttpStatusCode.Forbidden));

        using var login = await browser.PostAsync("/hangfire-login", new FormUrlEncodedContent([new("token", AdminToken)]));
        Assert.That(login.StatusCode, Is.EqualTo(HttpStatusCode.Redirect));
        var cookie = login.Headers.GetValues("Set-Cookie").Single();
        Assert.That(cookie, Does.Contain("httponly").IgnoreCase.And.Contain("samesite=strict").IgnoreCase);
        using var page = await browser.GetAsync("/hangfire");
        Assert.That(page.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(await page.Content.ReadAsStringAsync(), Does.Contain("XenMigrate jobs"));
    }

    [Test]
    public async Task Jobs_AreNamedForWhatTheyDo()
    {
        // The reconciler is registered in the background at start: its row appears within moments.
        var page = await Eventually.HoldsAsync(async () =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/hangfire/recurring");
            request.Headers.Add("X-Auth-Token", AdminToken);
            using var response = await Gateway.Http.SendAsync(request);
            return await response.Content.ReadAsStringAsync();
        }, text => text.Contains("xenmigrate-reconcile", StringComparison.Ordinal),
            TimeSpan.FromSeconds(20), "the reconciler's recurring job");
        Assert.That(page, Does.Contain("Resume stalled builds, deletes, power actions and moves"), "its display name, not StalledWorkReconciler.Run()");
    }
}
