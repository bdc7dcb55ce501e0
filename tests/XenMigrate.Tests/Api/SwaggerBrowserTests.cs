using System.Text.RegularExpressions;
using Microsoft.Playwright;
using XenMigrate.Tests.Support;
using XenMigrate.Tests.Workflow;

namespace XenMigrate.Tests.Api;

/// <summary>
/// Swagger UI in a real headless Chromium against a running gateway over simulated hosts, as an
/// operator would use it: log in through the Keystone operation, Authorize with the token, show a
/// server at a chosen microversion, resize it with "Try it out", then find the migration in GET
/// /os-migrations. Needs Debian's
/// chromium (Playwright's own browser downloads are not used); under CI=true a missing one fails.
/// </summary>
[NonParallelizable]
[Category(TestCategories.External)]
public partial class SwaggerBrowserTests : WorkflowFixture
{
    private static string ChromiumPath => Environment.GetEnvironmentVariable("XENMIGRATE_TEST_CHROMIUM") ?? "/usr/bin/chromium";

    [Test]
    public async Task SwaggerUi_LogsIn_Authorizes_SendsAMicroversion_Resizes_AndListsTheMigration()
    {
        TestEnvironment.Require(File.Exists(ChromiumPath), $"Chromium ({ChromiumPath}; Debian package chromium)");
        var serverId = await SeedServerAsync(1, "swagger-1", memoryMb: 1024, diskGb: 1, dataMib: 4);

        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ChromiumPath, Headless = true, Args = ["--disable-gpu", "--disable-dev-shm-usage"],
        });
        var page = await browser.NewPageAsync();
        page.SetDefaultTimeout(30_000);
        await page.GotoAsync(Gateway.BaseUrl + "/swagger/index.html");

        // 1. Log in with the Keystone operation; the token comes back in a response header.
        var login = await ExecuteAsync(page, "post", "/identity/v3/auth/tokens",
            body: GatewayEndpoint.AuthBody(TestUsers.Admin.Name, TestUsers.Admin.Password, TestUsers.Admin.Project).ToJsonString());
        Assert.That(await StatusOfAsync(login), Is.EqualTo("201"));
        var token = SubjectToken().Match(await login.Locator(".live-responses-table").InnerTextAsync());
        Assert.That(token.Success, "X-Subject-Token shown among the response headers");

        // 2. Authorize: every call from now on sends X-Auth-Token.
        await page.Locator(".auth-wrapper button.authorize").ClickAsync();
        var dialog = page.Locator(".modal-ux");
        await dialog.Locator("input").First.FillAsync(token.Groups[1].Value);
        await dialog.Locator("button.authorize").ClickAsync();
        await dialog.Locator("button.btn-done").ClickAsync();

        // 3. Choose a microversion: from 2.47 a server embeds its flavor, and the answer says which version it used.
        var show = await ExecuteAsync(page, "get", "/v2.1/servers/{server_id}",
            parameters: new() { ["server_id"] = serverId, ["OpenStack-API-Version"] = "compute 2.47" });
        Assert.That(await StatusOfAsync(show), Is.EqualTo("200"));
        var shown = await show.Locator(".live-responses-table").InnerTextAsync();
        Assert.That(shown, Does.Contain("\"original_name\"").And.Match("(?i)openstack-api-version: compute 2.47"), shown);
        await show.Locator(".opblock-summary").First.ClickAsync(); // fold it again

        // 4. Resize the demo server with "Try it out".
        var resize = await ExecuteAsync(page, "post", "/v2.1/servers/{server_id}/action",
            parameters: new() { ["server_id"] = serverId }, body: """{"resize":{"flavorRef":"w2"}}""");
        Assert.That(await StatusOfAsync(resize), Is.EqualTo("202"), await resize.Locator(".live-responses-table").InnerTextAsync());
        await WaitForStatusAsync(serverId, "VERIFY_RESIZE");

        // 5. The migration shows in GET /os-migrations, run in the UI.
        var list = await ExecuteAsync(page, "get", "/v2.1/os-migrations");
        Assert.That(await StatusOfAsync(list), Is.EqualTo("200"));
        var body = await list.Locator(".live-responses-table").InnerTextAsync(); // the pretty-printed body and the headers
        Assert.That(body, Does.Contain($"\"instance_uuid\": \"{serverId}\"").And.Contain("\"status\": \"finished\""));
    }

    /// <summary>Expands an operation, presses "Try it out", fills its parameters and body, presses Execute and waits for the answer.</summary>
    private static async Task<ILocator> ExecuteAsync(IPage page, string method, string path, Dictionary<string, string>? parameters = null, string? body = null)
    {
        var operation = page.Locator($".opblock.opblock-{method}:has(.opblock-summary-path[data-path='{path}'])").First;
        await operation.Locator(".opblock-summary").First.ClickAsync();
        await operation.Locator("button.try-out__btn").ClickAsync();
        foreach (var (name, value) in parameters ?? [])
            await operation.Locator($"tr[data-param-name='{name}'] input").FillAsync(value);
        if (body is not null) await operation.Locator("textarea.body-param__text").FillAsync(body);
        await operation.Locator("button.execute").ClickAsync();
        await operation.Locator(".live-responses-table .response-col_status").First.WaitForAsync();
        return operation;
    }

    private static async Task<string> StatusOfAsync(ILocator operation) =>
        // The cell reads e.g. "201" and, for a status the document does not list, "Undocumented" below it.
        (await operation.Locator(".live-responses-table .response .response-col_status").First.InnerTextAsync()).Trim().Split('\n')[0].Trim();

    [GeneratedRegex(@"x-subject-token:\s*(\S+)", RegexOptions.IgnoreCase)]
    private static partial Regex SubjectToken();
}
