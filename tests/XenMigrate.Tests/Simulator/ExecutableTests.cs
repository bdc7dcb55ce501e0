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

    [Test]
    public async Task Program_WithPoolMembers_StartsAPoolOnLoopbackAddresses_WhoseMembersRedirectLogins()
    {
        var dll = Path.Combine(TestContext.CurrentContext.TestDirectory, "XenMigrate.XapiSimulator.dll");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { dll, "--port", "0", "--name", "lab", "--password", "secret", "--memory-gib", "8", "--pool-members", "2", "--shared-storage-gib", "4" })
            start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        try
        {
            var heading = await process.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(20));
            Assert.That(heading, Does.Contain("pool 'lab' of 2 hosts"));
            var master = BannerUrl().Match(await process.StandardOutput.ReadLineAsync() ?? "").Groups[1].Value;
            var member = BannerUrl().Match(await process.StandardOutput.ReadLineAsync() ?? "").Groups[1].Value;
            Assert.That(master, Does.StartWith("http://127.0.0.1:"));
            Assert.That(member, Does.StartWith("http://127.0.0.2:"));
            Assert.That(new Uri(member).Port, Is.EqualTo(new Uri(master).Port), "members share one port, as on 443");

            using var http = new HttpClient();
            async Task<JsonNode> Call(string url, string method, params string[] args)
            {
                var response = await http.PostAsJsonAsync(url, new { jsonrpc = "2.0", method, @params = args, id = 1 });
                return JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
            }

            var refused = await Call(member, "session.login_with_password", "root", "secret");
            Assert.That((string?)refused["error"]!["message"], Is.EqualTo("HOST_IS_SLAVE"));
            Assert.That(refused["error"]!["data"]!.AsArray().Select(n => (string?)n), Is.EqualTo(new[] { "127.0.0.1" }), "the master's address");

            var session = (string)(await Call(master, "session.login_with_password", "root", "secret"))["result"]!;
            var hosts = (await Call(master, "host.get_all_records", session))["result"]!.AsObject();
            Assert.That(hosts.Select(h => (string?)h.Value!["name_label"]), Is.EquivalentTo(new[] { "lab-1", "lab-2" }));
            var pool = (await Call(master, "pool.get_all_records", session))["result"]!.AsObject().Single().Value!;
            Assert.That((string?)pool["name_label"], Is.EqualTo("lab"));
            var defaultSr = (string)pool["default_SR"]!;
            Assert.That((bool)(await Call(master, "SR.get_shared", session, defaultSr))["result"]!, Is.True, "the pool's default SR is the shared one");
            Assert.That((await Call(member, "SR.get_PBDs", session, defaultSr))["result"]!.AsArray(), Has.Count.EqualTo(2), "a master's session works on a member");
        }
        finally
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }
    }

    [GeneratedRegex(@"listening on (\S+/jsonrpc)")]
    private static partial Regex BannerUrl();
}
