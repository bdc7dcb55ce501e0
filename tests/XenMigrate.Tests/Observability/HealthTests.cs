using System.Net;
using System.Text.Json.Nodes;
using XenMigrate.Api.Hosting;
using XenMigrate.Tests.Support;

namespace XenMigrate.Tests.Observability;

/// <summary>Liveness and readiness on every role, against real simulated hosts and one that never answers.</summary>
public class HealthTests
{
    private LabHosts _lab = null!;

    [OneTimeSetUp]
    public async Task StartLab() => _lab = await LabHosts.StartAsync("hc-1", "hc-2");

    [OneTimeTearDown]
    public async Task StopLab()
    {
        if (_lab is not null) await _lab.DisposeAsync();
    }

    /// <summary>The lab's hosts plus one on a port nobody listens on.</summary>
    private IEnumerable<string> LabWithDeadHost() =>
        _lab.GatewayArgs().Concat(DeadHost(2));

    private static string[] DeadHost(int index) =>
    [
        $"--XenServer:Hosts:{index}:Name=hc-dead", $"--XenServer:Hosts:{index}:Url=http://127.0.0.1:{GatewayEndpoint.FreePort()}",
        $"--XenServer:Hosts:{index}:Password=x",
    ];

    [TestCase("All")]
    [TestCase("Worker")]
    [TestCase("Api")]
    public async Task Readiness_ReportsEachHost_AndIsDegradedWhileOneIsDown(string role)
    {
        await using var db = TestDatabase.Create(DatabaseKind.Sqlite);
        await using var gateway = await GatewayInstance.StartAsync(db, LabWithDeadHost().Append($"--Gateway:Role={role}"));

        using (var live = await gateway.Http.GetAsync(HealthEndpoints.LivenessPath))
            Assert.That(live.StatusCode, Is.EqualTo(HttpStatusCode.OK));

        using var ready = await gateway.Http.GetAsync(HealthEndpoints.ReadinessPath);
        var text = await ready.Content.ReadAsStringAsync();
        Assert.That(ready.StatusCode, Is.EqualTo(HttpStatusCode.OK), text);
        Assert.That(ready.Content.Headers.ContentType?.MediaType, Is.EqualTo("application/json"));
        var body = JsonNode.Parse(text)!;
        Assert.Multiple(() =>
        {
            Assert.That(body["status"]!.GetValue<string>(), Is.EqualTo("Degraded"));
            Assert.That(body["checks"]!["database"]!["status"]!.GetValue<string>(), Is.EqualTo("Healthy"));
            var hosts = body["checks"]!["xenserver"]!["hosts"]!;
            Assert.That((hosts["hc-1"]!.GetValue<string>(), hosts["hc-2"]!.GetValue<string>(), hosts["hc-dead"]!.GetValue<string>()),
                Is.EqualTo(("up", "up", "down")));
            Assert.That(text, Does.Not.Contain("127.0.0.1").And.Not.Contain("pw-"), "names and states only: no URLs, no secrets");
        });

        // Every role serves the scrape endpoint too (the worker's jobs record the migration metrics).
        using var metrics = await gateway.Http.GetAsync(ObservabilitySetup.MetricsPath);
        Assert.That(metrics.StatusCode, Is.EqualTo(HttpStatusCode.OK));
    }

    [Test]
    public async Task Readiness_IsUnhealthy_WhenNoHostAnswers_WhileLivenessStaysUp()
    {
        await using var db = TestDatabase.Create(DatabaseKind.Sqlite);
        await using var gateway = await GatewayInstance.StartAsync(db, DeadHost(0));

        using var ready = await gateway.Http.GetAsync(HealthEndpoints.ReadinessPath);
        var body = JsonNode.Parse(await ready.Content.ReadAsStringAsync())!;
        Assert.That(ready.StatusCode, Is.EqualTo(HttpStatusCode.ServiceUnavailable));
        Assert.That(body["status"]!.GetValue<string>(), Is.EqualTo("Unhealthy"));
        Assert.That(body["checks"]!["xenserver"]!["hosts"]!["hc-dead"]!.GetValue<string>(), Is.EqualTo("down"));

        using var live = await gateway.Http.GetAsync(HealthEndpoints.LivenessPath);
        Assert.That(live.StatusCode, Is.EqualTo(HttpStatusCode.OK), "a dependency outage is not a reason to restart the process");
    }

    [TestCase("127.0.0.1", "", true)]
    [TestCase("::1", "", true)]
    [TestCase("::ffff:127.0.0.1", "", true)]
    [TestCase("10.1.2.3", "", false)]
    [TestCase("10.1.2.3", "10.0.0.0/8", true)]
    [TestCase("::ffff:10.1.2.3", "10.0.0.0/8", true)]
    [TestCase("192.168.1.5", "10.0.0.0/8", false)]
    public void MetricsScrape_IsForLoopbackAndTheAllowedNetworksOnly(string remote, string allowed, bool expected)
    {
        var networks = allowed.Length == 0 ? [] : new List<IPNetwork> { IPNetwork.Parse(allowed) };
        Assert.That(ObservabilitySetup.MayScrape(IPAddress.Parse(remote), networks), Is.EqualTo(expected));
    }
}
