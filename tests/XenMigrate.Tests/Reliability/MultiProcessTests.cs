using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
using Hangfire;
using Hangfire.PostgreSql;
using XenMigrate.Infrastructure.Compute.Resize;
using XenMigrate.Infrastructure.Inventory;
using XenMigrate.Tests.Support;
using XenMigrate.XapiSimulator;
using XenMigrate.XapiSimulator.Control;

namespace XenMigrate.Tests.Reliability;

/// <summary>
/// The deployed shape: one API process and two worker processes sharing PostgreSQL and RabbitMQ.
/// A worker killed mid-copy is replaced by the other within seconds; jobs delivered twice never
/// run a step twice at once (the XAPI calls each step makes are counted on the hosts).
/// </summary>
[NonParallelizable]
[Category(TestCategories.External)]
public sealed class MultiProcessTests
{
    private static readonly TimeSpan Settle = TimeSpan.FromSeconds(90);

    private LabHosts _lab = null!;
    private TestDatabase _db = null!;
    private GatewayProcess _api = null!;
    private readonly List<GatewayProcess> _workers = [];
    private string _admin = null!;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        TestEnvironment.Require(TestEnvironment.RabbitMqHost is not null, "RabbitMQ (XENMIGRATE_TEST_RABBITMQ)");
        _db = TestDatabase.Create(DatabaseKind.PostgreSql);
        _lab = await LabHosts.StartAsync("xs-1", "xs-2", "xs-3");
        _api = await GatewayProcess.StartAsync(_db, Args("api"), "api");
        _workers.Add(await GatewayProcess.StartAsync(_db, Args("worker"), "worker-1"));
        _workers.Add(await GatewayProcess.StartAsync(_db, Args("worker"), "worker-2"));
        _admin = await _api.TokenAsync(TestUsers.Admin);
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        foreach (var p in _workers.Append(_api).Where(p => p is not null)) await p.DisposeAsync();
        if (_lab is not null) await _lab.DisposeAsync();
        if (_db is not null) await _db.DisposeAsync();
    }

    [Test]
    public async Task DuplicateDeliveries_NeverRunAStepTwiceAtOnce()
    {
        var (source, name, id) = await SeedAsync(0, "dup");
        var before = Counts();
        source.Faults.Throttle(2); // a base copy longer than a duplicate's wait for the lock, so some step aside

        // While the base copy runs, deliver its step four more times, as a redelivery or a reconciler would.
        using var client = new HangfireClient(_db.ConnectionString);
        var duplicated = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        source.Faults.OnNext(FaultInjector.ExportMethod, CallHookTiming.DuringTransfer, _ => duplicated.TrySetResult(), 1L << 20);
        Expect(await ActionAsync(id, """{"migrate":null}"""), HttpStatusCode.Accepted);
        var migrationId = (await MigrationAsync(id))["id"]!.GetValue<int>();
        await duplicated.Task.WaitAsync(Settle);
        for (var i = 0; i < 4; i++) client.Jobs.Enqueue<ResizeJobs>(j => j.CopyBase(migrationId, null));

        await WaitForAsync(id, s => Status(s) == "VERIFY_RESIZE" && s["OS-EXT-STS:task_state"] is null, "VERIFY_RESIZE");
        source.Faults.Throttle(null);
        var after = Counts();
        Assert.Multiple(() =>
        {
            Assert.That(Delta(before, after, "VM.snapshot"), Is.EqualTo(1), "one snapshot");
            Assert.That(Delta(before, after, FaultInjector.ExportMethod), Is.EqualTo(2), "one base and one delta export");
            Assert.That(Delta(before, after, FaultInjector.ImportMethod), Is.EqualTo(2), "one base and one delta import");
            Assert.That(Delta(before, after, "VDI.create"), Is.EqualTo(1), "one destination disk");
            Assert.That(Delta(before, after, "VM.create"), Is.EqualTo(1), "one destination VM");
        });
        var asides = _workers.Sum(w => CountOf(w.ReadLog(), "steps aside"));
        Assert.That(asides, Is.GreaterThan(0), "some duplicate really met the running step (and stepped aside)");
        TestContext.Out.WriteLine($"duplicate deliveries: 4 extra CopyBase jobs on 2 workers, {asides} stepped aside, 0 steps run twice");

        Expect(await ActionAsync(id, """{"confirmResize":null}"""), HttpStatusCode.NoContent);
        await AssertSettledAsync(id, name, source.Control.GetVmDiskSha256(name), "confirmed");
    }

    [Test]
    public async Task KillingTheWorkerMidCopy_TheOtherFinishesIt()
    {
        var (source, name, id) = await SeedAsync(1, "takeover");
        var sha = source.Control.GetVmDiskSha256(name);
        source.Faults.Throttle(6);

        // Kill whichever worker is copying: the host knows it by its session's originator ("XenMigrate/<pid>").
        var killed = new TaskCompletionSource<GatewayProcess>(TaskCreationOptions.RunContinuationsAsynchronously);
        source.Faults.OnNext(FaultInjector.ExportMethod, CallHookTiming.DuringTransfer, call =>
        {
            var worker = _workers.Single(w => call.Originator == $"XenMigrate/{w.ProcessId}");
            worker.Kill();
            killed.TrySetResult(worker);
        }, 4L << 20);
        Expect(await ActionAsync(id, """{"migrate":null}"""), HttpStatusCode.Accepted);
        var victim = await killed.Task.WaitAsync(Settle);
        var clock = Stopwatch.StartNew();
        source.Faults.Throttle(null);

        await WaitForAsync(id, s => Status(s) == "VERIFY_RESIZE" && s["OS-EXT-STS:task_state"] is null, "VERIFY_RESIZE after the takeover");
        var survivor = _workers.Single(w => w != victim);
        TestContext.Out.WriteLine($"takeover: worker {victim.ProcessId} killed mid-copy; worker {survivor.ProcessId} finished the migration {clock.Elapsed.TotalSeconds:F1} s later");
        Assert.That(survivor.HasExited, Is.False);

        Expect(await ActionAsync(id, """{"confirmResize":null}"""), HttpStatusCode.NoContent);
        await AssertSettledAsync(id, name, sha, "confirmed");

        _workers.Remove(victim);
        await victim.DisposeAsync();
        _workers.Add(await GatewayProcess.StartAsync(_db, Args("worker"), "worker-3")); // two workers again for the next test
    }

    private async Task AssertSettledAsync(string id, string name, string sha, string status)
    {
        var migration = await Eventually.HoldsAsync(() => MigrationAsync(id), m => m["status"]!.GetValue<string>() == status, Settle, $"migration {status}");
        var server = await WaitForAsync(id, s => Status(s) == "ACTIVE" && s["OS-EXT-STS:task_state"] is null, "ACTIVE");
        var holders = new List<SimulatedHost>();
        foreach (var host in _lab.Hosts)
        {
            if ((await LabInspector.VmsOfServerAsync(host, id)).Count > 0) holders.Add(host);
            Assert.That(await LabInspector.MigrationLeftoversAsync(host, migration["uuid"]!.GetValue<string>()), Is.Empty, $"{host.Name}: nothing left behind");
            Assert.That(await LabInspector.OrphanVdisAsync(host), Is.Empty, $"{host.Name}: no orphan disk");
        }

        Assert.That(holders.Select(h => h.Name), Is.EqualTo(new[] { server["OS-EXT-SRV-ATTR:host"]!.GetValue<string>() }), "one VM, where the API says");
        Assert.That(holders[0].Control.GetVmDiskSha256(name), Is.EqualTo(sha), "the guest disk is intact");
    }

    private IEnumerable<string> Args(string role) => _lab.GatewayArgs().Concat(
    [
        $"--Gateway:Role={role}", $"--Messaging:RabbitMqHost={TestEnvironment.RabbitMqHost}",
        "--Workflow:ReconcileAfter=00:00:03", "--Workflow:ReconcileEvery=00:00:01", "--Workflow:InvisibilityTimeout=00:00:10",
        "--Logging:LogLevel:Default=Information",
    ]);

    private async Task<(SimulatedHost Host, string Name, string Id)> SeedAsync(int hostIndex, string prefix)
    {
        var host = _lab[hostIndex];
        var name = $"{prefix}-{Guid.NewGuid():N}"[..16];
        var id = await LabInspector.SeedServerAsync(_api, _admin, host, name, 16L << 20);
        return (host, name, id);
    }

    private Dictionary<string, int> Counts()
    {
        string[] methods = ["VM.snapshot", FaultInjector.ExportMethod, FaultInjector.ImportMethod, "VDI.create", "VM.create"];
        return methods.ToDictionary(m => m, m => _lab.Hosts.Sum(h => h.Control.CallCount(m)));
    }

    private static int Delta(Dictionary<string, int> before, Dictionary<string, int> after, string method) => after[method] - before[method];

    private static int CountOf(string text, string what) =>
        text.Split('\n').Count(line => line.Contains(what, StringComparison.Ordinal));

    private Task<ApiResponse> ActionAsync(string id, string body) => _api.ActionAsync(id, _admin, body);

    private async Task<JsonNode> MigrationAsync(string id) =>
        (await _api.GetAsync($"/v2.1/os-migrations?instance_uuid={id}", _admin, "2.80")).Json!["migrations"]![0]!;

    private async Task<JsonNode> WaitForAsync(string id, Func<JsonNode, bool> condition, string what)
    {
        try
        {
            return await Eventually.HoldsAsync(async () => (await _api.GetAsync($"/v2.1/servers/{id}", _admin, "2.47")).Json!["server"]!,
                condition, Settle, $"server {id} {what}");
        }
        catch (AssertionException)
        {
            foreach (var w in _workers) TestContext.Out.WriteLine($"--- worker {w.ProcessId}\n{w.ReadLog()}");
            throw;
        }
    }

    private static void Expect(ApiResponse response, HttpStatusCode status) => Assert.That(response.Status, Is.EqualTo(status), response.Text);

    private static string Status(JsonNode server) => server["status"]!.GetValue<string>();

    /// <summary>A Hangfire client on the gateway's own PostgreSQL storage: the test enqueues as the gateway does.</summary>
    private sealed class HangfireClient : IDisposable
    {
        private readonly PostgreSqlStorage _storage;

        public HangfireClient(string connectionString)
        {
            var options = new PostgreSqlStorageOptions { PrepareSchemaIfNecessary = false };
            _storage = new PostgreSqlStorage(new Hangfire.PostgreSql.Factories.NpgsqlConnectionFactory(connectionString, options, null), options);
            Jobs = new BackgroundJobClient(_storage);
        }

        public IBackgroundJobClient Jobs { get; }

        public void Dispose() => (_storage as IDisposable)?.Dispose();
    }
}
