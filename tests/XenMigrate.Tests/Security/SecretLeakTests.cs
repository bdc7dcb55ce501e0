using System.Collections.Concurrent;
using System.Net;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using XenMigrate.Domain.Flavors;
using XenMigrate.Infrastructure.Inventory;
using XenMigrate.Infrastructure.Persistence;
using XenMigrate.Infrastructure.Xapi;
using XenMigrate.Tests.Support;
using XenMigrate.XapiSimulator.Control;

namespace XenMigrate.Tests.Security;

/// <summary>
/// The XAPI passwords the gateway is configured with never come out of it: not in a log line at
/// any level, a response body or header, the OpenAPI document, the job dashboard, an exception,
/// or its database files — also when logins fail, hosts go down and migrations fail.
/// </summary>
public partial class SecretLeakTests
{
    private const string WrongPassword = "pw-wrong-for-xs-lc";

    [Test]
    public async Task XapiPasswords_AppearNowhere_EvenWhenThingsFail()
    {
        await using var lab = await LabHosts.StartAsync("xs-la", "xs-lb", "xs-lc");
        await using var db = TestDatabase.Create(DatabaseKind.Sqlite);
        var logs = new CapturingLoggerProvider();
        // xs-lc is configured with a wrong password: its logins fail for the whole test.
        string[] args = [.. lab.GatewayArgs(), $"--XenServer:Hosts:2:Password={WrongPassword}", "--Logging:LogLevel:Default=Trace",
            "--Logging:Console:LogLevel:Default=Warning"];
        string[] secrets = [lab[0].Password, lab[1].Password, WrongPassword];
        Assert.That(secrets, Has.All.Length.GreaterThan(6), "long enough not to match by chance");

        var seen = new List<(string Where, string Text)>();
        await using (var gateway = await GatewayInstance.StartAsync(db, args, services => services.AddSingleton<ILoggerProvider>(logs)))
        {
            await using (var scope = gateway.Services.CreateAsyncScope())
            {
                var ctx = scope.ServiceProvider.GetRequiredService<XenMigrateDbContext>();
                ctx.Flavors.AddRange(new Flavor("w1", "w1.small", 1024, 1, 1), new Flavor("w2", "w2.medium", 2048, 2, 2));
                await ctx.SaveChangesAsync();
            }

            var admin = await gateway.TokenAsync(TestUsers.Admin);
            var demo = await gateway.TokenAsync(TestUsers.Demo);
            async Task<ApiResponse> Send(HttpMethod method, string path, string? token, string? body = null, string? version = "2.84")
            {
                using var request = new HttpRequestMessage(method, path);
                if (token is not null) request.Headers.Add("X-Auth-Token", token);
                if (version is not null) request.Headers.Add("OpenStack-API-Version", "compute " + version);
                if (body is not null) request.Content = new StringContent(body, Encoding.UTF8, "application/json");
                var response = await gateway.SendAsync(request);
                seen.Add(($"{method} {path} → {(int)response.Status}",
                    response.Text + "\n" + string.Join("\n", response.Headers.Select(h => $"{h.Key}: {h.Value}"))));
                return response;
            }

            // The failed login is logged, and a second host that goes down too.
            await Eventually.HoldsAsync(() => Task.FromResult(logs.Text), t => t.Contains("xs-lc is not answering", StringComparison.Ordinal),
                TimeSpan.FromSeconds(30), "the wrong password's login failure");

            await lab[0].Control.SeedVmAsync(new SeedVmSpec
            {
                Name = "leak-vm", MemoryBytes = 1024L << 20, Vcpus = 1, DiskBytes = 1L << 30, DataBytes = 4L << 20,
                OtherConfig = new Dictionary<string, string> { [InventoryKeys.Project] = "demo" },
            });
            var listed = await Eventually.HoldsAsync(() => Send(HttpMethod.Get, "/v2.1/servers/detail?all_tenants=1", admin),
                r => r.Text.Contains("leak-vm", StringComparison.Ordinal), TimeSpan.FromSeconds(30), "leak-vm listed");
            var id = listed.Json!["servers"]!.AsArray().Single(s => s!["name"]!.GetValue<string>() == "leak-vm")!["id"]!.GetValue<string>();

            // A resize that works (to xs-lb: xs-lc cannot be logged in to), confirmed.
            Assert.That((await Send(HttpMethod.Post, $"/v2.1/servers/{id}/action", demo, """{"resize":{"flavorRef":"w2"}}""")).Status,
                Is.EqualTo(HttpStatusCode.Accepted));
            await Eventually.HoldsAsync(() => Send(HttpMethod.Get, $"/v2.1/servers/{id}", admin),
                r => r.Json!["server"]!["status"]!.GetValue<string>() == "VERIFY_RESIZE", TimeSpan.FromSeconds(60), "VERIFY_RESIZE");
            Assert.That((await Send(HttpMethod.Post, $"/v2.1/servers/{id}/action", demo, """{"confirmResize":null}""")).Status,
                Is.EqualTo(HttpStatusCode.NoContent));
            await Eventually.HoldsAsync(() => Send(HttpMethod.Get, $"/v2.1/servers/{id}", admin),
                r => r.Json!["server"]!["status"]!.GetValue<string>() == "ACTIVE" && r.Json["server"]!["OS-EXT-STS:task_state"] is null,
                TimeSpan.FromSeconds(60), "ACTIVE after confirm");

            // A migration that fails on the destination and rolls back (its error lands in events and jobs).
            lab[0].Faults.FailNext("VM.create", "INTERNAL_ERROR", ["injected"], times: 10);
            Assert.That((await Send(HttpMethod.Post, $"/v2.1/servers/{id}/action", admin, """{"migrate":null}""")).Status,
                Is.EqualTo(HttpStatusCode.Accepted));
            await Eventually.HoldsAsync(() => Send(HttpMethod.Get, $"/v2.1/os-migrations?instance_uuid={id}", admin, version: "2.80"),
                r => r.Json!["migrations"]!.AsArray().Any(m => m!["status"]!.GetValue<string>() == "error"), TimeSpan.FromSeconds(60), "migration error");
            lab[0].Faults.Clear();

            // The server's host goes down; and a migration towards the host with the wrong password.
            lab[1].Faults.SetHostDown();
            await Eventually.HoldsAsync(() => Task.FromResult(logs.Text), t => t.Contains("xs-lb is not answering", StringComparison.Ordinal),
                TimeSpan.FromSeconds(30), "xs-lb seen down");
            await Send(HttpMethod.Post, $"/v2.1/servers/{id}/action", admin, """{"migrate":{"host":"xs-lc"}}""", "2.56");
            await Send(HttpMethod.Post, $"/v2.1/servers/{id}/action", demo, """{"resize":{"flavorRef":"w1"}}""");

            // Every read a client or an operator might make, and some refused ones.
            await Send(HttpMethod.Get, $"/v2.1/servers/{id}", admin);
            await Send(HttpMethod.Get, "/v2.1/servers/detail?all_tenants=1", admin, version: "2.100");
            await Send(HttpMethod.Get, "/v2.1/os-migrations", admin, version: "2.80");
            var actions = await Send(HttpMethod.Get, $"/v2.1/servers/{id}/os-instance-actions", admin);
            foreach (var action in actions.Json!["instanceActions"]!.AsArray())
                await Send(HttpMethod.Get, $"/v2.1/servers/{id}/os-instance-actions/{action!["request_id"]!.GetValue<string>()}", admin);
            await Send(HttpMethod.Get, $"/v2.1/servers/{id}/os-instance-actions", demo);
            await Send(HttpMethod.Get, "/v2.1/servers", null);
            await Send(HttpMethod.Get, $"/v2.1/servers/{Guid.NewGuid()}", demo);
            await Send(HttpMethod.Post, $"/v2.1/servers/{id}/action", demo, "{not json");
            await Send(HttpMethod.Get, "/v2.1/no-such-route", demo);
            await Send(HttpMethod.Get, "/", null);
            await Send(HttpMethod.Get, "/v2.1", null);
            var openApi = await Send(HttpMethod.Get, "/openapi/v1.json", null, version: null);
            Assert.That(openApi.Status, Is.EqualTo(HttpStatusCode.OK));
            await Send(HttpMethod.Get, "/swagger/index.html", null, version: null);

            // The job dashboard, with the failed job's details.
            var pages = new Queue<string>(["/hangfire", "/hangfire/jobs/succeeded", "/hangfire/jobs/failed", "/hangfire/jobs/deleted",
                "/hangfire/jobs/processing", "/hangfire/jobs/scheduled", "/hangfire/jobs/enqueued", "/hangfire/retries", "/hangfire/recurring",
                "/hangfire/servers"]);
            var visited = new HashSet<string>();
            while (pages.TryDequeue(out var page))
            {
                if (!visited.Add(page)) continue;
                var r = await Send(HttpMethod.Get, page, admin, version: null);
                Assert.That(r.Status, Is.EqualTo(HttpStatusCode.OK), page);
                foreach (Match m in JobDetailsLink().Matches(r.Text)) pages.Enqueue(m.Value);
            }

            Assert.That(visited.Count(p => p.Contains("/details/", StringComparison.Ordinal)), Is.GreaterThan(0), "job detail pages were read");
            await TestContext.Out.WriteLineAsync($"dashboard pages read: {visited.Count}");
        }

        // Exceptions the XAPI client raises for the same failures, message and full text.
        var exceptions = new List<Exception>();
        var wrong = new XapiHostOptions { Name = "xs-lc", Url = lab[2].Url, Username = lab[2].Username, Password = WrongPassword };
        exceptions.Add((await Assert.ThrowsAsync<XapiException>(() => XapiSession.OpenAsync(wrong, TimeSpan.FromSeconds(5), CancellationToken.None)))!);
        var down = new XapiHostOptions { Name = "xs-lb", Url = lab[1].Url, Username = lab[1].Username, Password = lab[1].Password };
        exceptions.Add((await Assert.ThrowsAsync<XapiTransportException>(() => XapiSession.OpenAsync(down, TimeSpan.FromSeconds(5), CancellationToken.None)))!);
        seen.AddRange(exceptions.Select(e => ($"exception {e.GetType().Name}", e.ToString())));
        seen.AddRange([("XapiHostOptions.ToString", wrong.ToString()), ("XapiHostOptions.ToString", down.ToString())]);

        seen.AddRange(logs.Lines.Select(l => ("log", l)));
        var files = DatabaseFiles(db).ToList();
        seen.AddRange(files.Select(f => ($"database file {Path.GetFileName(f.Path)}", f.Text)));
        // Controls: the scans read real content (the server's name, the jobs' type).
        Assert.That(string.Concat(files.Select(f => f.Text)), Does.Contain("leak-vm").And.Contain("ResizeJobs"));

        var leaks = (from s in seen from secret in secrets where s.Text.Contains(secret, StringComparison.Ordinal)
                     select $"{s.Where}: …{Around(s.Text, secret)}…").ToList();
        Assert.That(logs.Lines.Count, Is.GreaterThan(100), "the logs were captured, at every level");
        Assert.That(logs.Text, Does.Contain("xs-lc").And.Contain("SESSION_AUTHENTICATION_FAILED"), "the failed login was logged, without its password");
        await TestContext.Out.WriteLineAsync(
            $"secret leak checks: {secrets.Length} passwords × {seen.Count} texts ({logs.Lines.Count} log lines, " +
            $"{seen.Count(s => s.Where.Contains('→'))} responses, {exceptions.Count} exceptions, database files) = {secrets.Length * seen.Count} checks, {leaks.Count} leaks");
        Assert.That(leaks, Is.Empty, string.Join(Environment.NewLine, leaks));
    }

    private static string Around(string text, string secret)
    {
        var at = text.IndexOf(secret, StringComparison.Ordinal);
        var start = Math.Max(0, at - 80);
        return text[start..Math.Min(text.Length, at + secret.Length + 40)];
    }

    /// <summary>The gateway's and Hangfire's SQLite files (with WAL and journals), as UTF-8 and UTF-16 text.</summary>
    private static IEnumerable<(string Path, string Text)> DatabaseFiles(TestDatabase db)
    {
        var file = new Microsoft.Data.Sqlite.SqliteConnectionStringBuilder(db.ConnectionString).DataSource;
        foreach (var path in Directory.GetFiles(Path.GetDirectoryName(file)!))
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            using var buffer = new MemoryStream();
            stream.CopyTo(buffer);
            var bytes = buffer.ToArray();
            yield return (path, Encoding.UTF8.GetString(bytes) + Encoding.Unicode.GetString(bytes));
        }
    }

    [GeneratedRegex("/hangfire/jobs/details/[0-9a-zA-Z-]+")]
    private static partial Regex JobDetailsLink();

    /// <summary>Keeps every log line, its structured values, scopes and exceptions.</summary>
    private sealed class CapturingLoggerProvider : ILoggerProvider
    {
        public ConcurrentQueue<string> Lines { get; } = new();

        public string Text => string.Join("\n", Lines);

        public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

        public void Dispose()
        {
        }

        private sealed class Logger(CapturingLoggerProvider owner, string category) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull
            {
                owner.Lines.Enqueue($"scope {category}: {state}");
                return null;
            }

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                var values = state is IEnumerable<KeyValuePair<string, object?>> pairs ? string.Join("; ", pairs.Select(p => $"{p.Key}={p.Value}")) : "";
                owner.Lines.Enqueue($"{logLevel} {category}: {formatter(state, exception)} [{values}] {exception}");
            }
        }
    }
}
