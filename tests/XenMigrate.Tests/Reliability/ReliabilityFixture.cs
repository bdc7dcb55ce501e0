using System.Net;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using XenMigrate.Infrastructure.Xapi;
using XenMigrate.Tests.Support;
using XenMigrate.Tests.Workflow;
using XenMigrate.XapiSimulator;

namespace XenMigrate.Tests.Reliability;

/// <summary>
/// The workflow lab plus what the reliability tests check after every fault: one VM for the server
/// (running where expected), no orphan disks or snapshots, the guest's bytes intact, and a tally
/// of all of it for the reliability doc.
/// </summary>
public abstract class ReliabilityFixture : WorkflowFixture
{
    /// <summary>The guest data the tests hash (small disks keep every copy quick).</summary>
    protected const int DataMib = 4;

    /// <summary>XAPI other_config key the workflow tags what a migration makes with (XapiObjects.MigrationTag, internal).</summary>
    private const string MigrationTag = "xenmigrate_migration";

    private int _tried;
    private int _survived;
    private int _lostVms;
    private int _orphans;

    /// <summary>The words of the tally line ("faults survived", "races won cleanly").</summary>
    protected abstract string TallyName { get; }

    protected virtual string TallyExtra => string.Empty;

    /// <summary>What a failed earlier test left behind, so that each test is judged on its own leftovers.</summary>
    private HashSet<string> _leftoversBefore = [];

    [SetUp]
    public async Task NoteLeftovers() => _leftoversBefore = [.. await LeftoversAsync()];

    [TearDown]
    public void ClearFaults()
    {
        foreach (var host in Lab.Hosts) host.Faults.Clear();
    }

    [OneTimeTearDown]
    public void PrintTally()
    {
        var line = $"{TallyName}: {_survived} of {_tried}, lost VMs {_lostVms}, orphans {_orphans}{TallyExtra}";
        TestContext.Out.WriteLine(line);
        TestContext.Progress.WriteLine(line);
    }

    protected void Tried() => Interlocked.Increment(ref _tried);

    protected void Survived() => Interlocked.Increment(ref _survived);

    /// <summary>A running 1 GiB / 1024 MB server (flavor w1) with <see cref="DataMib"/> of guest data.</summary>
    protected Task<string> SeedSmallAsync(int host, string name, bool guestAgent = true) =>
        SeedServerAsync(host, name, memoryMb: 1024, diskGb: 1, dataMib: DataMib, guestAgent: guestAgent);

    /// <summary>Cold migration to a named host (admin, 2.56): the destination is known before the faults are set.</summary>
    protected async Task<string> MigrateAsync(string id, SimulatedHost to)
    {
        var r = await ActionAsync(id, Admin, $$$"""{"migrate":{"host":"{{{to.Name}}}"}}""", "2.56");
        AssertStatus(r, HttpStatusCode.Accepted);
        return r.Header("x-openstack-request-id");
    }

    /// <summary>Waits until the simulator has taken a delay set with DelayNext (the call is now in flight).</summary>
    protected static async Task WaitUntilDelayTakenAsync(SimulatedHost host, string method) =>
        await Eventually.HoldsAsync(() => Task.FromResult(host.Control.DescribeState()["faults"]!["delays"]!.AsObject()),
            delays => !delays.ContainsKey(method) || delays[method]!.AsArray().Count == 0, TimeSpan.FromSeconds(30), $"{method} called on {host.Name}");

    /// <summary>SHA-256 of the first bytes of the server's VM disk on a host (the guest data sits there), read over HTTP.</summary>
    protected static async Task<string> GuestDataShaAsync(SimulatedHost host, string serverId)
    {
        var vm = (await VmsOfServerAsync(host, serverId)).Single();
        await using var s = await OpenAsync(host);
        var vbd = (await s.VbdsAsync(CancellationToken.None))[vm.Vbds.Single()];
        using var http = new HttpClient { Timeout = TimeSpan.FromMinutes(1) };
        await using var stream = await http.GetStreamAsync($"{host.Url}/export_raw_vdi?session_id={s.SessionRef}&vdi={vbd.Vdi}&format=raw");
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[1 << 20];
        long left = 2L * DataMib << 20; // the data and as much of the zeros after it
        while (left > 0)
        {
            var n = await stream.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, left)));
            if (n == 0) break;
            sha.AppendData(buffer, 0, n);
            left -= n;
        }

        Assert.That(left, Is.Zero, "the whole prefix was read");
        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }

    /// <summary>
    /// The migration finished (VERIFY_RESIZE on the destination, exactly one copy running) and
    /// confirming it leaves one running VM there with the guest's bytes, every event a Success.
    /// </summary>
    protected async Task ExpectCompletedAsync(string id, string requestId, SimulatedHost dest, string sha)
    {
        var resized = await WaitForStatusAsync(id, "VERIFY_RESIZE", 90);
        Assert.That(resized["OS-EXT-SRV-ATTR:host"]!.GetValue<string>(), Is.EqualTo(dest.Name));
        Assert.That(await RunningCopiesAsync(id), Is.EqualTo(1), "one copy runs during VERIFY_RESIZE");
        var events = await EventsAsync(id, requestId);
        Assert.That(events.Select(e => e!["result"]!.GetValue<string>()), Is.All.EqualTo("Success"), "retried steps are not failures");

        AssertStatus(await ActionAsync(id, Demo, """{"confirmResize":null}"""), HttpStatusCode.NoContent);
        await ExpectSettledAsync(id, dest, "confirmed", sha);
    }

    /// <summary>
    /// The migration was rolled back: the server is ACTIVE where it was, its VM running there with
    /// the same bytes, the migration in error, and the action shows an Error event naming the cause.
    /// </summary>
    protected async Task ExpectRolledBackAsync(string id, string requestId, SimulatedHost source, string sha, string cause)
    {
        await Eventually.HoldsAsync(() => MigrationAsync(id), m => m["status"]!.GetValue<string>() == "error", TimeSpan.FromSeconds(90), "migration error");
        var server = await WaitForStatusAsync(id, "ACTIVE");
        Assert.That(server["OS-EXT-SRV-ATTR:host"]!.GetValue<string>(), Is.EqualTo(source.Name));
        await ExpectFailureVisibleAsync(id, requestId, cause);
        await ExpectSettledAsync(id, source, "error", sha);
    }

    /// <summary>Nova's record of a failed resize: action message Error, an event with result Error whose traceback and details name the cause.</summary>
    protected async Task ExpectFailureVisibleAsync(string id, string requestId, string cause)
    {
        var action = (await Gateway.GetAsync($"/v2.1/servers/{id}/os-instance-actions/{requestId}", Admin, "2.84")).Json!["instanceAction"]!;
        Assert.That(action["message"]?.GetValue<string>(), Is.EqualTo("Error"));
        var failed = action["events"]!.AsArray().Where(e => e!["result"]!.GetValue<string>() == "Error").ToList();
        Assert.That(failed, Has.Count.EqualTo(1), action.ToJsonString());
        Assert.That(failed[0]!["traceback"]!.GetValue<string>(), Does.Contain(cause));
        Assert.That(failed[0]!["details"]?.GetValue<string>(), Does.Contain(cause), "details (2.84) name the cause too");

        // The owner sees the Error event too (2.51+, without traceback).
        var mine = (await Gateway.GetAsync($"/v2.1/servers/{id}/os-instance-actions/{requestId}", Demo, "2.51")).Json!["instanceAction"]!;
        Assert.That(mine["events"]!.AsArray().Count(e => e!["result"]!.GetValue<string>() == "Error"), Is.EqualTo(1));
    }

    /// <summary>One VM for the server on all hosts, running on <paramref name="where"/>, bytes intact, nothing left over.</summary>
    protected async Task ExpectSettledAsync(string id, SimulatedHost where, string migrationStatus, string sha)
    {
        await Eventually.HoldsAsync(() => MigrationAsync(id), m => m["status"]!.GetValue<string>() == migrationStatus, TimeSpan.FromSeconds(60), migrationStatus);
        var server = await WaitForStatusAsync(id, "ACTIVE");
        Assert.That(server["OS-EXT-SRV-ATTR:host"]!.GetValue<string>(), Is.EqualTo(where.Name));

        var copies = new List<(string Host, string Power)>();
        foreach (var host in Lab.Hosts)
            copies.AddRange((await VmsOfServerAsync(host, id)).Select(v => (host.Name, v.PowerState)));
        if (copies.Count == 0) Interlocked.Increment(ref _lostVms);
        Assert.That(copies, Is.EqualTo(new[] { (where.Name, "Running") }), "exactly one VM, running where expected");

        var leftovers = (await LeftoversAsync()).Except(_leftoversBefore).ToList();
        Interlocked.Add(ref _orphans, leftovers.Count);
        Assert.That(leftovers, Is.Empty, "no orphan disks, snapshots or half-made VMs");
        Assert.That(await GuestDataShaAsync(where, id), Is.EqualTo(sha), "the guest's bytes are intact");
    }

    protected async Task<int> RunningCopiesAsync(string id)
    {
        var running = 0;
        foreach (var host in Lab.Hosts) running += (await VmsOfServerAsync(host, id)).Count(v => v.PowerState == "Running");
        return running;
    }

    /// <summary>Orphan VDIs, snapshots and VMs still tagged by a migration, on every host.</summary>
    protected async Task<List<string>> LeftoversAsync()
    {
        var found = new List<string>();
        foreach (var host in Lab.Hosts)
        {
            found.AddRange((await OrphanVdisAsync(host)).Select(v => $"{host.Name}: orphan VDI {v.NameLabel}"));
            await using var s = await OpenAsync(host);
            foreach (var vm in (await s.VmsAsync(CancellationToken.None)).Values)
            {
                if (vm.IsASnapshot) found.Add($"{host.Name}: snapshot {vm.NameLabel}");
                else if (vm.IsGuest && vm.OtherConfig.ContainsKey(MigrationTag))
                    found.Add($"{host.Name}: tagged VM {vm.NameLabel}");
            }
        }

        return found;
    }

    protected async Task<JsonArray> EventsAsync(string id, string requestId) =>
        (await Gateway.GetAsync($"/v2.1/servers/{id}/os-instance-actions/{requestId}", Admin, "2.84")).Json!["instanceAction"]!["events"]!.AsArray();
}
