using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using System.Net;
using System.Text.Json.Nodes;
using XenMigrate.Infrastructure.Xapi;
using XenMigrate.Tests.Support;
using XenMigrate.XapiSimulator;

namespace XenMigrate.Tests.Workflow;

/// <summary>
/// os-migrateLive end to end: real HTTP to the gateway, its Hangfire job, Storage XenMotion between
/// simulated hosts over real HTTP, and the guest's bytes compared on arrival.
/// </summary>
[NonParallelizable]
public class LiveMigrationTests : WorkflowFixture
{
    [TestCase("2.1", """{"os-migrateLive":{"host":"xs-2","block_migration":false,"disk_over_commit":false}}""")]
    [TestCase("2.25", """{"os-migrateLive":{"host":null,"block_migration":"auto"}}""")]
    [TestCase("2.30", """{"os-migrateLive":{"host":"xs-2","block_migration":"auto","force":false}}""")]
    [TestCase("2.68", """{"os-migrateLive":{"host":null,"block_migration":true}}""")]
    public async Task LiveMigrate_ActiveServer_MovesWithItsUuidAndEveryByte(string microversion, string body)
    {
        var name = "lm-" + microversion.Replace('.', '-');
        var id = await SeedServerAsync(0, name, memoryMb: 512, diskGb: 1, dataMib: 24);
        var before = (await VmsOfServerAsync(Lab[0], id)).Single();
        var sha = Lab[0].Control.GetVmDiskSha256(name);

        AssertStatus(await ActionAsync(id, Admin, body, microversion), HttpStatusCode.Accepted);
        var now = await ServerAsync(id);
        Assert.That((now["status"]!.GetValue<string>(), now["OS-EXT-STS:task_state"]?.GetValue<string>()), Is.EqualTo(("MIGRATING", "migrating")),
            "MIGRATING before the 202 went out");

        var moved = await WaitForStatusAsync(id, "ACTIVE");
        var destName = moved["OS-EXT-SRV-ATTR:host"]!.GetValue<string>();
        Assert.That(destName, Is.Not.EqualTo("xs-1"));
        if (body.Contains("xs-2", StringComparison.Ordinal)) Assert.That(destName, Is.EqualTo("xs-2"));
        var dest = HostNamed(destName);
        var after = (await VmsOfServerAsync(dest, id)).Single();
        Assert.That(after.Uuid, Is.EqualTo(before.Uuid), "the VM keeps its uuid");
        Assert.That(after.PowerState, Is.EqualTo("Running"));
        Assert.That(dest.Control.GetVmDiskSha256(after.Ref), Is.EqualTo(sha), "every byte arrived");
        Assert.That(await VmsOfServerAsync(Lab[0], id), Is.Empty, "the source copy is gone");
        Assert.That(await OrphanVdisAsync(Lab[0]), Is.Empty, "with its disks");
        Assert.That(await OrphanVdisAsync(dest), Is.Empty);

        var migration = await MigrationAsync(id);
        Assert.That((migration["status"]!.GetValue<string>(), migration["migration_type"]!.GetValue<string>(), migration["dest_compute"]!.GetValue<string>()),
            Is.EqualTo(("completed", "live-migration", destName)));
        Assert.That(after.OtherConfig.ContainsKey("last_migration_downtime_ms"), Is.False, "xapi records no downtime on the VM");
        Assert.That(await DowntimeMillisecondsAsync(id), Is.GreaterThanOrEqualTo(0),
            "the gateway measured the blackout itself, from the VM's power on both hosts");
    }

    [Test]
    public async Task LiveMigrate_PausedServer_MovesAndIsPausedOnTheDestination()
    {
        // xapi live-migrates Running VMs only (xapi_vm_lifecycle.ml: migrate_send is Halted, Suspended or
        // Running); Nova moves a paused one. The gateway unpauses it for the move and pauses it where it lands.
        var id = await SeedServerAsync(1, "lm-paused", memoryMb: 512, diskGb: 1);
        await using (var s = await OpenAsync(Lab[1]))
            await s.CallAsync("VM.pause", CancellationToken.None, (await VmsOfServerAsync(Lab[1], id)).Single().Ref);
        await WaitForStatusAsync(id, "PAUSED");
        var sha = Lab[1].Control.GetVmDiskSha256("lm-paused");

        AssertStatus(await ActionAsync(id, Admin, """{"os-migrateLive":{"host":"xs-3","block_migration":"auto"}}""", "2.68"), HttpStatusCode.Accepted);

        await WaitForMigrationStatusAsync(id, "completed");
        var server = await WaitForStatusAsync(id, "PAUSED");
        Assert.That(server["OS-EXT-SRV-ATTR:host"]!.GetValue<string>(), Is.EqualTo("xs-3"));
        var vm = (await VmsOfServerAsync(Lab[2], id)).Single();
        Assert.That(vm.PowerState, Is.EqualTo("Paused"));
        Assert.That(Lab[2].Control.GetVmDiskSha256(vm.Ref), Is.EqualTo(sha));
        Assert.That(await VmsOfServerAsync(Lab[1], id), Is.Empty, "gone from the source");
    }

    [Test]
    public async Task LiveMigrate_PausedServer_RefusedByXenServer_IsPausedAgainWhereItWas()
    {
        var id = await SeedServerAsync(1, "lm-paused-refused", memoryMb: 512, diskGb: 1);
        await using (var s = await OpenAsync(Lab[1]))
            await s.CallAsync("VM.pause", CancellationToken.None, (await VmsOfServerAsync(Lab[1], id)).Single().Ref);
        await WaitForStatusAsync(id, "PAUSED");
        Lab[1].Faults.FailNext("VM.migrate_send", "VM_INCOMPATIBLE_WITH_THIS_HOST", ["OpaqueRef:vm", "OpaqueRef:host", "CPU features differ"]);
        Lab[1].Faults.FailNext("VM.assert_can_migrate", "VM_INCOMPATIBLE_WITH_THIS_HOST", ["OpaqueRef:vm", "OpaqueRef:host", "CPU features differ"]);
        try
        {
            AssertStatus(await ActionAsync(id, Admin, """{"os-migrateLive":{"host":"xs-3","block_migration":"auto"}}""", "2.68"), HttpStatusCode.Accepted);

            var after = await WaitForMigrationStatusAsync(id, "error");
            Assert.That(after["dest_compute"]!.GetValue<string>(), Is.EqualTo("xs-3"));
            var server = await WaitForStatusAsync(id, "PAUSED");
            Assert.That(server["OS-EXT-SRV-ATTR:host"]!.GetValue<string>(), Is.EqualTo("xs-2"));
            Assert.That((await VmsOfServerAsync(Lab[1], id)).Single().PowerState, Is.EqualTo("Paused"), "paused again on the source");
            Assert.That(await VmsOfServerAsync(Lab[2], id), Is.Empty, "nothing was made on the destination");
        }
        finally
        {
            Lab[1].Faults.Clear();
        }
    }

    private async Task<long?> DowntimeMillisecondsAsync(string serverId)
    {
        await using var scope = Gateway.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<XenMigrate.Infrastructure.Persistence.XenMigrateDbContext>();
        return await db.Migrations.AsNoTracking().Where(m => m.InstanceUuid == Guid.Parse(serverId))
            .OrderByDescending(m => m.Id).Select(m => m.DowntimeMilliseconds).FirstAsync();
    }

    private async Task<System.Text.Json.Nodes.JsonNode> WaitForMigrationStatusAsync(string serverId, string status) =>
        await Eventually.HoldsAsync(() => MigrationAsync(serverId), m => m["status"]!.GetValue<string>() == status, TimeSpan.FromSeconds(30),
            $"migration of {serverId} {status}");

    [Test]
    public async Task WhileItRuns_ExactlyOneCopyRuns_AndProgressShows()
    {
        var id = await SeedServerAsync(0, "lm-poll", memoryMb: 512, diskGb: 1, dataMib: 48);
        var uuid = (await VmsOfServerAsync(Lab[0], id)).Single().Uuid;
        Lab[0].Faults.Throttle(24);
        var polls = 0;
        var sawProgress = false;
        try
        {
            AssertStatus(await ActionAsync(id, Admin, """{"os-migrateLive":{"host":"xs-2","block_migration":"auto"}}""", "2.25"), HttpStatusCode.Accepted);
            while (true)
            {
                // Source then destination: the destination's copy exists before the source's goes, so one is always seen.
                var onSource = await CopiesAsync(Lab[0], uuid);
                var onDest = await CopiesAsync(Lab[1], uuid);
                Assert.That(onSource.Count + onDest.Count, Is.GreaterThanOrEqualTo(1), "the VM exists somewhere at every poll");
                // Destination then source: the source stops before the destination starts, so two running are never seen.
                var runningDest = (await CopiesAsync(Lab[1], uuid)).Count(p => p is "Running");
                var runningSource = (await CopiesAsync(Lab[0], uuid)).Count(p => p is "Running");
                Assert.That(runningDest + runningSource, Is.LessThanOrEqualTo(1), "never running on both hosts");
                polls++;

                var live = (await Gateway.GetAsync($"/v2.1/servers/{id}/migrations", Admin, "2.23")).Json!["migrations"]!.AsArray();
                if (live.Count == 1 && live[0]!["disk_processed_bytes"]!.GetValue<long>() > 0 && live[0]!["status"]!.GetValue<string>() == "running")
                {
                    sawProgress = true;
                    // The show answers 404 once the migration is over (Nova shows running ones only): it may just have ended.
                    if ((await Gateway.GetAsync($"/v2.1/servers/{id}/migrations/{live[0]!["id"]}", Admin, "2.23")).Json?["migration"] is { } one)
                    {
                        Assert.That(one["disk_total_bytes"]!.GetValue<long>(), Is.GreaterThan(0));
                        Assert.That(one["memory_total_bytes"]!.GetValue<long>(), Is.EqualTo(512L << 20));
                    }
                }

                var server = await ServerAsync(id);
                if (server["status"]!.GetValue<string>() == "ACTIVE" && server["OS-EXT-STS:task_state"] is null) break;
                Assert.That(server["status"]!.GetValue<string>(), Is.EqualTo("MIGRATING"));
            }
        }
        finally
        {
            Lab[0].Faults.Throttle(null);
        }

        Assert.That(sawProgress, Is.True, "GET /servers/{id}/migrations showed the copy moving");
        Assert.That(polls, Is.GreaterThan(3));
        Assert.That(await CopiesAsync(Lab[0], uuid), Is.Empty);
        Assert.That(await CopiesAsync(Lab[1], uuid), Is.EqualTo(new[] { "Running" }));
    }

    [Test]
    public async Task Abort_CancelsTheRunningMigration_AndTheServerStaysOnItsHost()
    {
        var id = await SeedServerAsync(2, "lm-abort", memoryMb: 512, diskGb: 1, dataMib: 64);
        var sha = Lab[2].Control.GetVmDiskSha256("lm-abort");
        var destVdis = (await OrphanVdisAsync(Lab[0])).Count;
        Lab[2].Faults.Throttle(4);
        try
        {
            AssertStatus(await ActionAsync(id, Admin, """{"os-migrateLive":{"host":"xs-1","block_migration":"auto"}}""", "2.25"), HttpStatusCode.Accepted);
            var running = await Eventually.HoldsAsync(async () => (await Gateway.GetAsync($"/v2.1/servers/{id}/migrations", Admin, "2.24")).Json!["migrations"]!.AsArray(),
                l => l.Count == 1 && l[0]!["status"]!.GetValue<string>() == "running", TimeSpan.FromSeconds(30), "migration running");
            var migrationId = running[0]!["id"]!.GetValue<int>();

            Assert.That((await DeleteAsync($"/v2.1/servers/{id}/migrations/{migrationId}", Demo, "2.24")).Status, Is.EqualTo(HttpStatusCode.Forbidden));
            Assert.That((await DeleteAsync($"/v2.1/servers/{id}/migrations/{migrationId}", Admin, "2.23")).Status, Is.EqualTo(HttpStatusCode.NotFound));
            Assert.That((await DeleteAsync($"/v2.1/servers/{id}/migrations/999999", Admin, "2.24")).Status, Is.EqualTo(HttpStatusCode.NotFound));
            AssertStatus(await DeleteAsync($"/v2.1/servers/{id}/migrations/{migrationId}", Admin, "2.24"), HttpStatusCode.Accepted);
        }
        finally
        {
            Lab[2].Faults.Throttle(null);
        }

        var back = await WaitForStatusAsync(id, "ACTIVE");
        Assert.That(back["OS-EXT-SRV-ATTR:host"]!.GetValue<string>(), Is.EqualTo("xs-3"));
        var vm = (await VmsOfServerAsync(Lab[2], id)).Single();
        Assert.That(vm.PowerState, Is.EqualTo("Running"));
        Assert.That(Lab[2].Control.GetVmDiskSha256("lm-abort"), Is.EqualTo(sha));
        Assert.That(await VmsOfServerAsync(Lab[0], id), Is.Empty, "nothing left on the destination");
        Assert.That(await OrphanVdisAsync(Lab[0]), Has.Count.EqualTo(destVdis));
        var migration = await MigrationAsync(id);
        Assert.That(migration["status"]!.GetValue<string>(), Is.EqualTo("cancelled"));
        var again = await DeleteAsync($"/v2.1/servers/{id}/migrations/{migration["id"]}", Admin, "2.24");
        AssertStatus(again, HttpStatusCode.Conflict);
        Assert.That(again.Json!["conflictingRequest"]!["message"]!.GetValue<string>(),
            Is.EqualTo($"Cannot 'abort live migration' instance {id} while it is in task_state None"));
    }

    [Test]
    public async Task InstanceAction_RecordsTheLiveMigrationAndItsEvents()
    {
        var id = await SeedServerAsync(1, "lm-events", memoryMb: 512, diskGb: 1);
        var accepted = await ActionAsync(id, Admin, """{"os-migrateLive":{"host":null,"block_migration":"auto"}}""", "2.68");
        var requestId = accepted.Header("x-openstack-request-id");
        await WaitForStatusAsync(id, "ACTIVE");
        await Eventually.HoldsAsync(() => MigrationAsync(id), m => m["status"]!.GetValue<string>() == "completed");
        var action = (await Gateway.GetAsync($"/v2.1/servers/{id}/os-instance-actions/{requestId}", Admin)).Json!["instanceAction"]!;
        Assert.That(action["action"]!.GetValue<string>(), Is.EqualTo("live-migration"));
        Assert.That(action["events"]!.AsArray().Select(e => e!["event"]!.GetValue<string>()), Is.SupersetOf(new[]
        {
            "conductor_live_migrate_instance", "compute_check_can_live_migrate_destination", "compute_live_migration",
            "compute_post_live_migration_at_destination",
        }));
        Assert.That(action["events"]!.AsArray().Select(e => e!["result"]!.GetValue<string>()), Is.All.EqualTo("Success"));
    }

    [Test]
    public async Task Refusals_AnswerAsNovaDoes()
    {
        var id = await SeedServerAsync(0, "lm-refuse", memoryMb: 512, diskGb: 1);
        async Task<(HttpStatusCode, string)> Try(string token, string body, string version)
        {
            var r = await ActionAsync(id, token, body, version);
            var message = r.Json?.AsObject().FirstOrDefault().Value?["message"]?.GetValue<string>() ?? r.Text;
            return (r.Status, message);
        }

        Assert.That(await Try(Admin, """{"os-migrateLive":{"host":"nohost","block_migration":"auto"}}""", "2.30"),
            Is.EqualTo((HttpStatusCode.BadRequest, "Compute host nohost could not be found.")));
        Assert.That((await Try(Admin, """{"os-migrateLive":{"host":"xs-1","block_migration":"auto"}}""", "2.30")).Item1, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That((await Try(Admin, """{"os-migrateLive":{"host":null,"block_migration":false}}""", "2.1")).Item2,
            Does.Contain("'disk_over_commit' is a required property"));
        Assert.That((await Try(Admin, """{"os-migrateLive":{"host":null,"block_migration":"auto","disk_over_commit":false}}""", "2.1")).Item1,
            Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That((await Try(Admin, """{"os-migrateLive":{"host":null,"block_migration":"auto","force":true}}""", "2.30")),
            Is.EqualTo((HttpStatusCode.BadRequest, "Can't force to a non-provided destination")));
        Assert.That((await Try(Admin, """{"os-migrateLive":{"host":"xs-2","block_migration":"auto","force":true}}""", "2.68")).Item2,
            Does.Contain("Additional properties are not allowed ('force' was unexpected)"));
        Assert.That((await Try(Admin, """{"os-migrateLive":{"block_migration":"auto"}}""", "2.68")).Item2, Does.Contain("'host' is a required property"));
        Assert.That((await Try(Admin, """{"os-migrateLive":null}""", "2.68")).Item1, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That((await Try(Demo, """{"os-migrateLive":{"host":null,"block_migration":"auto"}}""", "2.68")),
            Is.EqualTo((HttpStatusCode.Forbidden, "Policy doesn't allow os_compute_api:os-migrate-server:migrate_live to be performed.")));
        var missing = await ActionAsync(Guid.NewGuid().ToString(), Admin, """{"os-migrateLive":{"host":null,"block_migration":"auto"}}""", "2.68");
        AssertStatus(missing, HttpStatusCode.NotFound);

        await using (var s = await OpenAsync(Lab[0]))
            await s.CallAsync("VM.suspend", CancellationToken.None, (await VmsOfServerAsync(Lab[0], id)).Single().Ref);
        await WaitForStatusAsync(id, "SUSPENDED");
        Assert.That(await Try(Admin, """{"os-migrateLive":{"host":null,"block_migration":"auto"}}""", "2.68"),
            Is.EqualTo((HttpStatusCode.Conflict, $"Cannot 'os-migrateLive' instance {id} while it is in vm_state suspended")));
        Assert.That((await MigrationsOfAsync(id)).Count, Is.Zero, "no migration was recorded for a refused request");
    }

    private async Task<JsonArray> MigrationsOfAsync(string id) =>
        (await Gateway.GetAsync($"/v2.1/os-migrations?instance_uuid={id}", Admin, "2.80")).Json!["migrations"]!.AsArray();

    private async Task<ApiResponse> DeleteAsync(string path, string token, string microversion)
    {
        using var request = new HttpRequestMessage(HttpMethod.Delete, path);
        request.Headers.Add("X-Auth-Token", token);
        request.Headers.Add("OpenStack-API-Version", "compute " + microversion);
        return await Gateway.SendAsync(request);
    }

    /// <summary>The power states of the VM records with this uuid on a host (none, or one).</summary>
    private static async Task<List<string>> CopiesAsync(SimulatedHost host, string uuid)
    {
        await using var s = await OpenAsync(host);
        return (await s.VmsAsync(CancellationToken.None)).Values.Where(v => v.Uuid == uuid).Select(v => v.PowerState).ToList();
    }
}

/// <summary>
/// Destinations XenServer refuses: an older host (xs-3 runs an older platform) and one without the
/// memory. The migration ends in error, the server ACTIVE where it was, nothing left behind.
/// </summary>
[NonParallelizable]
public class LiveMigrationRefusalTests : WorkflowFixture
{
    protected override void ConfigureHost(SimulatedHostOptions options)
    {
        if (options.Name == "xs-3") options.PlatformVersion = "3.2.0";
    }

    [TestCase("2.30", """{"os-migrateLive":{"host":"xs-3","block_migration":"auto","force":true}}""")]
    [TestCase("2.68", """{"os-migrateLive":{"host":"xs-3","block_migration":"auto"}}""")]
    public async Task OlderDestination_EndsInError_AndTheServerStays(string microversion, string body)
    {
        var name = "lm-old-" + microversion.Replace('.', '-');
        var id = await SeedServerAsync(0, name, memoryMb: 512, diskGb: 1);
        var vdis = (await OrphanVdisAsync(Lab[2])).Count;

        AssertStatus(await ActionAsync(id, Admin, body, microversion), HttpStatusCode.Accepted);
        await Eventually.HoldsAsync(() => MigrationAsync(id), m => m["status"]!.GetValue<string>() == "error", TimeSpan.FromSeconds(30));
        var server = await WaitForStatusAsync(id, "ACTIVE");
        Assert.That(server["OS-EXT-SRV-ATTR:host"]!.GetValue<string>(), Is.EqualTo("xs-1"));
        Assert.That((await VmsOfServerAsync(Lab[0], id)).Single().PowerState, Is.EqualTo("Running"));
        Assert.That(await VmsOfServerAsync(Lab[2], id), Is.Empty);
        Assert.That(await OrphanVdisAsync(Lab[2]), Has.Count.EqualTo(vdis));
    }

    [Test]
    public async Task DestinationWithoutTheMemory_EndsInError_AndNothingIsLeftThere()
    {
        var id = await SeedServerAsync(0, "lm-big", memoryMb: 512, diskGb: 1);
        long free;
        await using (var s = await OpenAsync(Lab[1]))
            free = await s.ComputeFreeMemoryAsync((await s.HostsAsync(CancellationToken.None)).Values.Single().Ref, CancellationToken.None);
        // A guest already on xs-2 leaves it 256 MiB: too little for the 512 MiB server.
        var filler = await Lab[1].Control.SeedVmAsync(new XapiSimulator.Control.SeedVmSpec { Name = "lm-filler", MemoryBytes = free - (256L << 20), DataBytes = 0 });
        var vdis = (await OrphanVdisAsync(Lab[1])).Count;
        try
        {
            AssertStatus(await ActionAsync(id, Admin, """{"os-migrateLive":{"host":"xs-2","block_migration":"auto","force":true}}""", "2.30"), HttpStatusCode.Accepted);
            await Eventually.HoldsAsync(() => MigrationAsync(id), m => m["status"]!.GetValue<string>() == "error", TimeSpan.FromSeconds(30));
            var server = await WaitForStatusAsync(id, "ACTIVE");
            Assert.That(server["OS-EXT-SRV-ATTR:host"]!.GetValue<string>(), Is.EqualTo("xs-1"));
            Assert.That(await VmsOfServerAsync(Lab[1], id), Is.Empty);
            Assert.That(await OrphanVdisAsync(Lab[1]), Has.Count.EqualTo(vdis));

            // Without force the scheduler finds no host with the memory on xs-2 (Nova's NoValidHost): error too.
            AssertStatus(await ActionAsync(id, Admin, """{"os-migrateLive":{"host":"xs-2","block_migration":"auto"}}""", "2.68"), HttpStatusCode.Accepted);
            await Eventually.HoldsAsync(() => Gateway.GetAsync($"/v2.1/os-migrations?instance_uuid={id}", Admin, "2.80"),
                r => r.Json!["migrations"]!.AsArray().Count == 2 && r.Json!["migrations"]![0]!["status"]!.GetValue<string>() == "error", TimeSpan.FromSeconds(30));
            await WaitForStatusAsync(id, "ACTIVE");
        }
        finally
        {
            await using var s = await OpenAsync(Lab[1]);
            await s.CallAsync("VM.hard_shutdown", CancellationToken.None, filler.VmRef);
        }
    }
}

/// <summary>
/// The job loses the source mid-migration (the host goes off the network): its retries run out
/// while XenServer carries on; the reconciler resumes the job, which finds the finished task.
/// </summary>
[NonParallelizable]
public class LiveMigrationResilienceTests : WorkflowFixture
{
    protected override IEnumerable<string> ExtraGatewayArgs => ["--Workflow:ReconcileAfter=00:00:02", "--Workflow:ReconcileEvery=00:00:01"];

    [Test]
    public async Task SourceUnreachableMidway_TheMigrationStillCompletes()
    {
        var id = await SeedServerAsync(0, "lm-outage", memoryMb: 512, diskGb: 1, dataMib: 48);
        var uuid = (await VmsOfServerAsync(Lab[0], id)).Single().Uuid;
        var sha = Lab[0].Control.GetVmDiskSha256("lm-outage");
        Lab[0].Faults.Throttle(8);
        try
        {
            AssertStatus(await ActionAsync(id, Admin, """{"os-migrateLive":{"host":"xs-2","block_migration":"auto"}}""", "2.30"), HttpStatusCode.Accepted);
            await Eventually.HoldsAsync(() => MigrationAsync(id), m => m["status"]!.GetValue<string>() == "running", TimeSpan.FromSeconds(30));
            // Longer than the job's retries (1 + 3 + 5 s): only the reconciler can bring the job back.
            Lab[0].Faults.SetHostDown(restoreAfter: TimeSpan.FromSeconds(12));
            Lab[0].Faults.Throttle(null);
        }
        finally
        {
            Lab[0].Faults.Throttle(null);
        }

        var moved = await WaitForStatusAsync(id, "ACTIVE", seconds: 90);
        Assert.That(moved["OS-EXT-SRV-ATTR:host"]!.GetValue<string>(), Is.EqualTo("xs-2"));
        Assert.That((await MigrationAsync(id))["status"]!.GetValue<string>(), Is.EqualTo("completed"));
        var vm = (await VmsOfServerAsync(Lab[1], id)).Single();
        Assert.That(vm.Uuid, Is.EqualTo(uuid));
        Assert.That(Lab[1].Control.GetVmDiskSha256(vm.Ref), Is.EqualTo(sha));
        Assert.That(await VmsOfServerAsync(Lab[0], id), Is.Empty);
    }
}
