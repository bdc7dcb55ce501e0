using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace XenMigrate.Tests.Simulator;

/// <summary>The simulator as a standalone program.</summary>
public partial class ExecutableTests
{
    [Test]
    public async Task Program_StartsAHost_AndPrintsWhereItListens()
    {
        var dll = Path.Combine(TestContext.CurrentContext.TestDirectory, "XenMigrate.XapiSimulator.dll");
        var data = Directory.CreateTempSubdirectory("sim-exe-").FullName;
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { dll, "--port", "0", "--name", "xs-exe", "--data-dir", data, "--username", "root", "--password", "secret", "--memory-gib", "8" })
            start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        try
        {
            var banner = await process.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(20));
            var url = BannerUrl().Match(banner ?? string.Empty).Groups[1].Value;
            Assert.That(url, Does.StartWith("http://127.0.0.1:"), banner);

            using var http = new HttpClient();
            var login = await http.PostAsJsonAsync(url, new { jsonrpc = "2.0", method = "session.login_with_password", @params = new[] { "root", "secret" }, id = 1 });
            var session = (string)JsonNode.Parse(await login.Content.ReadAsStringAsync())!["result"]!;
            var hosts = await http.PostAsJsonAsync(url, new { jsonrpc = "2.0", method = "host.get_all_records", @params = new[] { session }, id = 2 });
            var host = JsonNode.Parse(await hosts.Content.ReadAsStringAsync())!["result"]!.AsObject().Single().Value!;

            Assert.That((string?)host["name_label"], Is.EqualTo("xs-exe"));
            Assert.That(Directory.GetDirectories(data), Has.Length.EqualTo(1), "the SR lives in --data-dir");
        }
        finally
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            Directory.Delete(data, recursive: true);
        }
    }

    [GeneratedRegex(@"listening on (\S+/jsonrpc)")]
    private static partial Regex BannerUrl();
}
