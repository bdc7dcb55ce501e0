using System.Net;
using System.Text.Json.Nodes;
using XenMigrate.Infrastructure.Inventory;
using XenMigrate.Tests.Support;
using XenMigrate.XapiSimulator;
using XenMigrate.XapiSimulator.Control;

namespace XenMigrate.Tests.Reliability;

/// <summary>
/// The gateway runs as its own process and is killed with SIGKILL at every step boundary of a
/// cold migration, confirm and revert, and in the middle of each disk transfer: the simulated
/// host that receives the chosen XAPI call kills the caller before (or after) doing it, before
/// the answer leaves. A new process on the same database must then settle the migration — done
/// or rolled back — with exactly one VM for the server, nothing left behind, and every byte intact.
/// </summary>
[NonParallelizable]
public abstract class CrashSafetyTests
{
    private const string Export = FaultInjector.ExportMethod;
    private const string Import = FaultInjector.ImportMethod;

    private static readonly TimeSpan Settle = TimeSpan.FromSeconds(90);

    private LabHosts _lab = null!;
    private TestDatabase _db = null!;
    private GatewayProcess _gateway = null!;
    private string _admin = null!;
    private int _seeded;
    private int _kills;
    private int _settled;

    protected abstract DatabaseKind Kind { get; }

    /// <summary>
    /// The API and the worker as separate processes (Gateway:Role=Api and Worker) on one database:
    /// the kills hit the worker, the process that drives XAPI; requests go to the API throughout.
    /// </summary>
    protected virtual bool SplitRoles => false;

    private GatewayProcess? _api;

    /// <summary>The process that answers the API: the API process when the roles are split, else the one gateway.</summary>
    private GatewayProcess Front => _api ?? _gateway;

    /// <summary>
    /// Where to kill: the phase it happens in, the XAPI call (or transfer) and when. <paramref name="ArmedBy"/>
    /// names an earlier call on the same host that arms the kill (the delta export follows the shutdown).
    /// </summary>
    public sealed record KillPoint(string Phase, string Method, CallHookTiming Timing, long AfterBytes = 0, string? ArmedBy = null)
    {
        public override string ToString() =>
            $"{Phase}: {(Timing == CallHookTiming.DuringTransfer ? $"mid {Method} after {AfterBytes >> 20} MiB" : $"{Timing.ToString().ToLowerInvariant()} {Method}")}{(ArmedBy is null ? "" : $" (after {ArmedBy})")}";
    }

    public static IEnumerable<TestCaseData> KillPoints()
    {
        KillPoint[] points =
        [
            new("migrate", "host.compute_free_memory", CallHookTiming.Before), // prep: choosing the destination
            new("migrate", "VM.snapshot", CallHookTiming.Before), // prep → copy base
            new("migrate", "VM.snapshot", CallHookTiming.After), // the snapshot exists but is not yet tagged or recorded
            new("migrate", "VDI.create", CallHookTiming.After), // a destination disk exists, unrecorded
            new("migrate", Export, CallHookTiming.DuringTransfer, 3L << 20), // the base copy, mid-export
            new("migrate", Import, CallHookTiming.DuringTransfer, 3L << 20), // the base copy, mid-import
            new("migrate", "VM.clean_shutdown", CallHookTiming.Before), // copy base → cut over
            new("migrate", "VM.clean_shutdown", CallHookTiming.After), // the source is down, unrecorded
            new("migrate", Export, CallHookTiming.DuringTransfer, 0, ArmedBy: "VM.clean_shutdown"), // the delta copy
            new("migrate", "VM.create", CallHookTiming.After), // cut over → finish: a half-built destination VM
            new("migrate", "VM.start_on", CallHookTiming.Before), // finish, before the destination starts
            new("migrate", "VM.start_on", CallHookTiming.After), // the destination runs, unrecorded
            new("confirm", "VM.destroy", CallHookTiming.Before),
            new("confirm", "VM.destroy", CallHookTiming.After),
            new("revert", "VM.hard_shutdown", CallHookTiming.Before), // the destination copy stops first
            new("revert", "VM.destroy", CallHookTiming.After),
            new("revert", "VM.start_on", CallHookTiming.After), // the source runs again, unrecorded
        ];
        return points.Select((p, i) => new TestCaseData(p, i).SetArgDisplayNames(p.ToString()));
    }

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        _db = TestDatabase.Create(Kind);
        _lab = await LabHosts.StartAsync("xs-1", "xs-2", "xs-3");
        if (SplitRoles) _api = await GatewayProcess.StartAsync(_db, Args("Api"), $"crash-{Kind}-api");
        _gateway = await StartGatewayAsync();
        _admin = await Front.TokenAsync(TestUsers.Admin);
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        TestContext.Out.WriteLine($"crash safety ({Kind}{(SplitRoles ? ", separate api and worker" : "")}): {_kills} SIGKILLs, {_settled} migrations settled with one intact VM, 0 lost, 0 orphans");
        if (_gateway is not null) await _gateway.DisposeAsync();
        if (_api is not null) await _api.DisposeAsync();
        if (_lab is not null) await _lab.DisposeAsync();
        if (_db is not null) await _db.DisposeAsync();
    }

    /// <summary>A case that failed half-way may have left no gateway running: the next starts from a live one.</summary>
    [SetUp]
    public async Task EnsureGatewayAsync()
    {
        if (!_gateway.HasExited) return;
        await _gateway.DisposeAsync();
        _gateway = await StartGatewayAsync();
    }

    [TestCaseSource(nameof(KillPoints))]
    public async Task KilledProcess_LeavesOneIntactVm(KillPoint point, int index)
    {
        var sourceIndex = index % _lab.Hosts.Count;
        var source = _lab[sourceIndex];
        var name = $"crash-{Kind}-{++_seeded}";
        var id = await LabInspector.SeedServerAsync(Front, _admin, source, name, 8L << 20);
        var sha = source.Control.GetVmDiskSha256(name);

        var killed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (point.Phase == "migrate")
        {
            Arm(point, killed);
            Expect(await ActionAsync(id, """{"migrate":null}"""), HttpStatusCode.Accepted);
        }
        else
        {
            Expect(await ActionAsync(id, """{"migrate":null}"""), HttpStatusCode.Accepted);
            await WaitForAsync(id, s => Status(s) == "VERIFY_RESIZE" && TaskState(s) is null, "VERIFY_RESIZE");
            Arm(point, killed);
            Expect(await ActionAsync(id, point.Phase == "confirm" ? """{"confirmResize":null}""" : """{"revertResize":null}"""),
                point.Phase == "confirm" ? HttpStatusCode.NoContent : HttpStatusCode.Accepted);
        }

        await WaitOrFailAsync(killed.Task, $"the kill point {point} was never reached");
        await _gateway.WaitForExitAsync(TimeSpan.FromSeconds(30));
        _kills++;
        DisarmAll();
        await _gateway.DisposeAsync();
        _gateway = await StartGatewayAsync();

        // Settle: a migration killed on its way ends finished (then confirmed or reverted here) or rolled
        // back; one killed while confirming or reverting finishes that.
        var settled = await WaitForMigrationAsync(id, m => m is "finished" or "confirmed" or "reverted" or "error");
        var server = await WaitForAsync(id, s => TaskState(s) is null && Status(s) is "VERIFY_RESIZE" or "ACTIVE", "settled");
        if (settled == "finished")
        {
            var confirm = index % 2 == 0;
            Expect(await ActionAsync(id, confirm ? """{"confirmResize":null}""" : """{"revertResize":null}"""),
                confirm ? HttpStatusCode.NoContent : HttpStatusCode.Accepted);
            server = await WaitForAsync(id, s => Status(s) == "ACTIVE" && TaskState(s) is null, "ACTIVE after confirm/revert");
        }

        var migration = await WaitForMigrationAsync(id, m => m is "confirmed" or "reverted" or "error");
        TestContext.Out.WriteLine($"{point}: migration {migration}, server on {server["OS-EXT-SRV-ATTR:host"]}");
        await AssertOneIntactVmAsync(id, name, sha, server);
        _settled++;
    }

    private async Task AssertOneIntactVmAsync(string id, string name, string sha, JsonNode server)
    {
        var holders = new List<SimulatedHost>();
        foreach (var host in _lab.Hosts)
        {
            var vms = await LabInspector.VmsOfServerAsync(host, id);
            Assert.That(vms.All(v => v.PowerState == "Running"), Is.True, $"{host.Name}: every VM of the server runs ({string.Join(", ", vms.Select(v => v.PowerState))})");
            if (vms.Count > 0) holders.Add(host);
            Assert.That(vms, Has.Count.LessThanOrEqualTo(1), $"{host.Name} holds one VM of the server at most");
            Assert.That(await LabInspector.MigrationLeftoversAsync(host), Is.Empty, $"{host.Name}: no snapshot or VM left by the migration");
            Assert.That(await LabInspector.OrphanVdisAsync(host), Is.Empty, $"{host.Name}: no orphan disk");
        }

        Assert.That(holders, Has.Count.EqualTo(1), "exactly one VM exists for the server");
        Assert.That(holders[0].Name, Is.EqualTo(server["OS-EXT-SRV-ATTR:host"]!.GetValue<string>()), "the API shows where the VM is");
        Assert.That(holders[0].Control.GetVmDiskSha256(name), Is.EqualTo(sha), "the guest disk is intact");
    }

    /// <summary>Arms the kill on every host (the destination is not chosen yet); the first to fire disarms the rest.</summary>
    private void Arm(KillPoint point, TaskCompletionSource killed)
    {
        var gateway = _gateway;
        void Kill(CallHookContext call)
        {
            gateway.Kill(); // before the simulator answers: the gateway never learns the outcome
            killed.TrySetResult();
        }

        foreach (var host in _lab.Hosts)
        {
            if (point.ArmedBy is null)
                host.Faults.OnNext(point.Method, point.Timing, Kill, point.AfterBytes);
            else
                host.Faults.OnNext(point.ArmedBy, CallHookTiming.After, _ => host.Faults.OnNext(point.Method, point.Timing, Kill, point.AfterBytes));
        }
    }

    private void DisarmAll()
    {
        foreach (var host in _lab.Hosts) host.Faults.Clear();
    }

    /// <summary>The process the kills hit: the worker when the roles are split, else the one gateway.</summary>
    private async Task<GatewayProcess> StartGatewayAsync() =>
        await GatewayProcess.StartAsync(_db, Args(SplitRoles ? "Worker" : "All"), $"crash-{Kind}{(SplitRoles ? "-worker" : "")}");

    private IEnumerable<string> Args(string role) => _lab.GatewayArgs().Concat(
    [
        $"--Gateway:Role={role}",
        "--Workflow:ReconcileAfter=00:00:02", "--Workflow:ReconcileEvery=00:00:01", "--Workflow:CleanShutdownTimeout=00:00:05",
        "--Workflow:InvisibilityTimeout=00:00:30", "--Logging:LogLevel:Default=Information",
    ]);

    private Task<ApiResponse> ActionAsync(string id, string body) => Front.ActionAsync(id, _admin, body);

    private async Task<JsonNode> WaitForAsync(string id, Func<JsonNode, bool> condition, string what)
    {
        try
        {
            return await Eventually.HoldsAsync(async () => (await Front.GetAsync($"/v2.1/servers/{id}", _admin, "2.47")).Json!["server"]!,
                condition, Settle, $"server {id} {what}");
        }
        catch (AssertionException)
        {
            TestContext.Out.WriteLine(_gateway.ReadLog());
            throw;
        }
    }

    private async Task<string> WaitForMigrationAsync(string id, Func<string, bool> condition)
    {
        var migration = await Eventually.HoldsAsync(
            async () => (await Front.GetAsync($"/v2.1/os-migrations?instance_uuid={id}", _admin, "2.80")).Json!["migrations"]![0]!,
            m => condition(m["status"]!.GetValue<string>()), Settle, $"migration of {id} settled");
        return migration["status"]!.GetValue<string>();
    }

    private async Task WaitOrFailAsync(Task task, string message)
    {
        if (await Task.WhenAny(task, Task.Delay(Settle)) == task) return;
        TestContext.Out.WriteLine(_gateway.ReadLog());
        Assert.Fail(message);
    }

    private static void Expect(ApiResponse response, HttpStatusCode status) => Assert.That(response.Status, Is.EqualTo(status), response.Text);

    private static string Status(JsonNode server) => server["status"]!.GetValue<string>();

    private static string? TaskState(JsonNode server) => server["OS-EXT-STS:task_state"]?.GetValue<string>();
}

public sealed class SqliteCrashSafetyTests : CrashSafetyTests
{
    protected override DatabaseKind Kind => DatabaseKind.Sqlite;
}

[Category(TestCategories.External)]
public sealed class PostgreSqlCrashSafetyTests : CrashSafetyTests
{
    protected override DatabaseKind Kind => DatabaseKind.PostgreSql;
}

/// <summary>The kills on PostgreSQL with the API and the worker as separate processes (issue 14).</summary>
[Category(TestCategories.External)]
public sealed class PostgreSqlSplitRolesCrashSafetyTests : CrashSafetyTests
{
    protected override DatabaseKind Kind => DatabaseKind.PostgreSql;

    protected override bool SplitRoles => true;
}
