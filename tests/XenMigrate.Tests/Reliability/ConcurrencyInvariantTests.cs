using System.Net;
using System.Text.Json.Nodes;
using XenMigrate.Tests.Support;

namespace XenMigrate.Tests.Reliability;

/// <summary>
/// Rounds of concurrent requests where an outside test found holes (issue 14, items 1–4), with
/// the invariants checked after every round: one winner among the state-changing requests on a
/// server, whatever their mix; one VM per server across the hosts; no orphan disks or snapshots;
/// a project's quota never above its limit; one active drain per host; no migration left in a
/// transient state for a server that was deleted meanwhile.
/// </summary>
[NonParallelizable]
[TestFixture(DatabaseKind.Sqlite)]
[TestFixture(DatabaseKind.PostgreSql, Category = TestCategories.External)]
public class ConcurrencyInvariantTests(DatabaseKind kind) : ReliabilityFixture
{
    private const int MixedRounds = 36;
    private const int QuotaRounds = 8;
    private const int DrainRounds = 3;
    private const int DeleteRounds = 3;
    private int _serverErrors;
    private int _violations;

    protected override DatabaseKind Kind => kind;

    protected override string TallyName => $"concurrency rounds on {kind} with every invariant held";

    protected override string TallyExtra => $", 500s {_serverErrors}, violations {_violations}";

    /// <summary>The calls a winner's job makes first: each held a while, so the winner is still at work while the others are answered.</summary>
    private static readonly string[] HeldCalls = ["VM.snapshot", "VM.clean_shutdown", "VM.pause", "VM.suspend", "VM.assert_can_migrate", "VM.migrate_send"];

    private static readonly (string Action, string Body, bool AsAdmin, string? Version)[] Mixed =
    [
        ("resize", """{"resize":{"flavorRef":"w2"}}""", false, null),
        ("migrate", """{"migrate":null}""", true, null),
        ("stop", """{"os-stop":null}""", false, null),
        ("pause", """{"pause":null}""", false, null),
        ("suspend", """{"suspend":null}""", false, null),
        ("os-migrateLive", """{"os-migrateLive":{"host":null,"block_migration":"auto"}}""", true, "2.25"),
        ("confirmResize", """{"confirmResize":null}""", false, null),
        ("revertResize", """{"revertResize":null}""", false, null),
    ];

    [Test]
    public async Task MixedActionsOnOneServer_EveryRoundHasExactlyOneWinner()
    {
        var id = await SeedSmallAsync(0, $"mixed-{kind}");
        for (var round = 0; round < MixedRounds; round++)
        {
            Tried();
            foreach (var host in Lab.Hosts)
                foreach (var call in HeldCalls) host.Faults.DelayNext(call, TimeSpan.FromSeconds(2));
            var moves = Enumerable.Range(0, 16).Select(i => Mixed[(i + round) % Mixed.Length]).ToList();

            var results = await FireAsync(moves.Select(m => (m.Action, (Func<Task<ApiResponse>>)(() => ActionAsync(id, m.AsAdmin ? Admin : Demo, m.Body, m.Version)))));

            var winners = results.Where(r => r.Response.Status is HttpStatusCode.Accepted or HttpStatusCode.NoContent).ToList();
            Check(winners.Count == 1, $"round {round}: {Describe(results)}");
            TestContext.Out.WriteLine($"round {round}: {winners.FirstOrDefault().Action} won; {Describe(results)}");
            foreach (var (action, response) in results.Except(winners))
                Check(response.Status is HttpStatusCode.Conflict or HttpStatusCode.BadRequest, $"round {round}, {action}: {(int)response.Status} {response.Text}");
            foreach (var host in Lab.Hosts) host.Faults.Clear();

            if (winners.Count > 0) await BringBackActiveAsync(id, winners[0].Action);
            await ExpectOneVmAsync(id);
            Survived();
        }
    }

    [Test]
    public async Task ConcurrentCreates_NeverTakeTheProjectOverItsInstancesQuota()
    {
        var project = await Gateway.ProjectIdAsync("demo");
        var image = (await Gateway.GetAsync("/image/v2/images", Demo)).Json!["images"]![0]!["id"]!.GetValue<string>();
        try
        {
            for (var round = 0; round < QuotaRounds; round++)
            {
                Tried();
                var inUse = await InUseAsync(project, "instances");
                AssertStatus(await Gateway.SendJsonAsync(HttpMethod.Put, $"/v2.1/os-quota-sets/{project}", Admin,
                    $$$"""{"quota_set":{"instances":{{{inUse + 2}}}}}"""), HttpStatusCode.OK);

                var results = await FireAsync(Enumerable.Range(0, 10).Select(i => ("create", (Func<Task<ApiResponse>>)(() =>
                    Gateway.SendJsonAsync(HttpMethod.Post, "/v2.1/servers", Demo,
                        new JsonObject { ["server"] = new JsonObject { ["name"] = $"quota-{kind}-{round}-{i}", ["imageRef"] = image, ["flavorRef"] = "w1" } }.ToJsonString())))));

                var accepted = results.Where(r => r.Response.Status == HttpStatusCode.Accepted).ToList();
                Check(accepted.Count == 2, $"round {round}: two fit the quota, {Describe(results)}");
                Check(results.Except(accepted).All(r => r.Response.Status == HttpStatusCode.Forbidden), Describe(results));
                Check(await InUseAsync(project, "instances") <= inUse + 2, $"round {round}: in_use above the limit");

                foreach (var created in accepted)
                {
                    var serverId = created.Response.Json!["server"]!["id"]!.GetValue<string>();
                    await WaitForStatusAsync(serverId, "ACTIVE", 60);
                    await Gateway.SendJsonAsync(HttpMethod.Delete, $"/v2.1/servers/{serverId}", Demo, null);
                    await Eventually.HoldsAsync(() => Gateway.GetAsync($"/v2.1/servers/{serverId}", Admin), r => r.Status == HttpStatusCode.NotFound,
                        TimeSpan.FromSeconds(60), $"{serverId} deleted");
                }

                Survived();
            }
        }
        finally
        {
            await Gateway.SendJsonAsync(HttpMethod.Put, $"/v2.1/os-quota-sets/{project}", Admin, """{"quota_set":{"instances":10}}""");
        }
    }

    [Test]
    public async Task ConcurrentDrainsOfOneHost_OneIsAccepted()
    {
        var id = await SeedServerAsync(2, $"drained-{kind}", memoryMb: 512, diskGb: 1, dataMib: DataMib, power: "Halted");
        for (var round = 0; round < DrainRounds; round++)
        {
            Tried();
            var from = (await ServerAsync(id))["OS-EXT-SRV-ATTR:host"]!.GetValue<string>();
            foreach (var host in Lab.Hosts) host.Faults.DelayNext("VM.snapshot", TimeSpan.FromSeconds(2));

            var results = await FireAsync(Enumerable.Range(0, 4).Select(_ => ("drain", (Func<Task<ApiResponse>>)(() =>
                Gateway.SendJsonAsync(HttpMethod.Post, "/xenmigrate/v1/host-drains", Admin, $$$"""{"drain":{"host":"{{{from}}}"}}""")))));

            var accepted = results.Where(r => r.Response.Status == HttpStatusCode.Accepted).ToList();
            Check(accepted.Count == 1, $"round {round}: {Describe(results)}");
            Check(results.Except(accepted).All(r => r.Response.Status == HttpStatusCode.Conflict), Describe(results));
            foreach (var drain in accepted)
            {
                var uuid = drain.Response.Json!["drain"]!["id"]!.GetValue<string>();
                await Eventually.HoldsAsync(() => Gateway.GetAsync($"/xenmigrate/v1/host-drains/{uuid}", Admin),
                    r => r.Json!["drain"]!["status"]!.GetValue<string>() is not ("running" or "cancelling"), TimeSpan.FromSeconds(90), $"drain {uuid} ends");
            }

            await EnableAsync(from);
            await ExpectOneVmAsync(id);
            Survived();
        }
    }

    [Test]
    public async Task DeleteRacingConfirm_SettlesTheMigration_AndLeavesNothing()
    {
        for (var round = 0; round < DeleteRounds; round++)
        {
            Tried();
            var id = await SeedSmallAsync(0, $"delete-confirm-{kind}-{round}");
            AssertStatus(await ActionAsync(id, Admin, """{"migrate":{"host":"xs-2"}}""", "2.56"), HttpStatusCode.Accepted);
            await WaitForStatusAsync(id, "VERIFY_RESIZE", 90);
            Lab[0].Faults.DelayNext("VM.destroy", TimeSpan.FromMilliseconds(500 * round)); // the confirm's destroy, held a little longer each round

            var results = await FireAsync(
            [
                ("confirmResize", () => ActionAsync(id, Demo, """{"confirmResize":null}""")),
                ("delete", () => Gateway.SendJsonAsync(HttpMethod.Delete, $"/v2.1/servers/{id}", Demo, null)),
            ]);
            Check(results.Single(r => r.Action == "delete").Response.Status == HttpStatusCode.NoContent, Describe(results));

            await Eventually.HoldsAsync(() => Gateway.GetAsync($"/v2.1/servers/{id}", Admin), r => r.Status == HttpStatusCode.NotFound,
                TimeSpan.FromSeconds(60), $"{id} deleted");
            var migration = await Eventually.HoldsAsync(() => MigrationAsync(id), m => m["status"]!.GetValue<string>() is "confirmed" or "error",
                TimeSpan.FromSeconds(60), "the migration settles");
            Check(migration["status"]!.GetValue<string>() == "confirmed", migration.ToJsonString());
            foreach (var host in Lab.Hosts) Check((await VmsOfServerAsync(host, id)).Count == 0, $"no VM of {id} left on {host.Name}");
            Survived();
        }
    }

    private async Task<List<(string Action, ApiResponse Response)>> FireAsync(IEnumerable<(string Action, Func<Task<ApiResponse>> Send)> requests)
    {
        using var start = new SemaphoreSlim(0);
        var list = requests.ToList();
        var tasks = list.Select(async r =>
        {
            await start.WaitAsync();
            return (r.Action, await r.Send());
        }).ToList();
        start.Release(list.Count);
        var results = (await Task.WhenAll(tasks)).ToList();
        var errors = results.Count(r => (int)r.Item2.Status >= 500);
        Interlocked.Add(ref _serverErrors, errors);
        Check(errors == 0, $"no 500: {Describe(results)}");
        return results;
    }

    /// <summary>Undoes what a round's winner did, so the next round starts from an ACTIVE server with no task.</summary>
    private async Task BringBackActiveAsync(string id, string winner)
    {
        switch (winner)
        {
            case "resize" or "migrate":
                await WaitForStatusAsync(id, "VERIFY_RESIZE", 90);
                AssertStatus(await ActionAsync(id, Demo, """{"confirmResize":null}"""), HttpStatusCode.NoContent);
                break;
            case "stop":
                await WaitForStatusAsync(id, "SHUTOFF", 60);
                AssertStatus(await ActionAsync(id, Demo, """{"os-start":null}"""), HttpStatusCode.Accepted);
                break;
            case "pause":
                await WaitForStatusAsync(id, "PAUSED", 60);
                AssertStatus(await ActionAsync(id, Demo, """{"unpause":null}"""), HttpStatusCode.Accepted);
                break;
            case "suspend":
                await WaitForStatusAsync(id, "SUSPENDED", 60);
                AssertStatus(await ActionAsync(id, Demo, """{"resume":null}"""), HttpStatusCode.Accepted);
                break;
        }

        await WaitForStatusAsync(id, "ACTIVE", 90);
    }

    private async Task ExpectOneVmAsync(string id)
    {
        var copies = 0;
        foreach (var host in Lab.Hosts) copies += (await VmsOfServerAsync(host, id)).Count;
        Check(copies == 1, $"{id}: {copies} VMs across the hosts");
        var leftovers = await LeftoversAsync();
        Check(leftovers.Count == 0, "leftovers: " + string.Join(", ", leftovers));
    }

    private async Task<int> InUseAsync(string project, string resource) =>
        (await Gateway.GetAsync($"/v2.1/os-quota-sets/{project}/detail", Admin)).Json!["quota_set"]![resource]!["in_use"]!.GetValue<int>();

    private async Task EnableAsync(string host)
    {
        var services = (await Gateway.GetAsync("/v2.1/os-services", Admin, "2.53")).Json!["services"]!.AsArray();
        var uuid = services.Single(s => s!["host"]!.GetValue<string>() == host)!["id"]!.GetValue<string>();
        AssertStatus(await Gateway.SendJsonAsync(HttpMethod.Put, $"/v2.1/os-services/{uuid}", Admin, """{"status":"enabled"}""", "2.53"), HttpStatusCode.OK);
    }

    private void Check(bool holds, string what)
    {
        if (holds) return;
        Interlocked.Increment(ref _violations);
        Assert.Fail(what);
    }

    private static string Describe(IEnumerable<(string Action, ApiResponse Response)> results) =>
        string.Join("; ", results.Select(r => $"{r.Action} {(int)r.Response.Status}"));
}
