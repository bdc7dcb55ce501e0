using System.Net;
using XenMigrate.Infrastructure.Xapi;
using XenMigrate.Tests.Support;

namespace XenMigrate.Tests.Workflow;

/// <summary>Resize, cold migration, confirm and revert end to end: real HTTP, Hangfire, XAPI on simulated hosts, real bytes.</summary>
[NonParallelizable]
public class ResizeWorkflowTests : WorkflowFixture
{
    [Test]
    public async Task ResizeUp_ThenConfirm_MovesTheRunningVmWithEveryByte()
    {
        var id = await SeedServerAsync(0, "wf-up", memoryMb: 1024, diskGb: 1, dataMib: 48);
        Lab[0].Faults.Throttle(40); // slow the base copy down so the guest writes during it
        try
        {
            var accepted = await ActionAsync(id, Demo, """{"resize":{"flavorRef":"w2"}}""");
            AssertStatus(accepted, HttpStatusCode.Accepted);
            var now = await ServerAsync(id);
            Assert.That(now["status"]!.GetValue<string>(), Is.EqualTo("RESIZE"), "RESIZE before the 202 went out");

            // The guest keeps writing while the base copy runs: into copied blocks and into new ones.
            await Eventually.HoldsAsync(() => ServerAsync(id), s => s["OS-EXT-STS:task_state"]?.GetValue<string>() == "resize_migrating");
            var payload = System.Text.Encoding.ASCII.GetBytes(new string('Z', 300_000));
            Lab[0].Control.WriteVmDisk("wf-up", 0, payload);
            Lab[0].Control.WriteVmDisk("wf-up", 900L << 20, payload);
        }
        finally
        {
            Lab[0].Faults.Throttle(null);
        }

        var resized = await WaitForStatusAsync(id, "VERIFY_RESIZE");
        var dest = HostNamed(resized["OS-EXT-SRV-ATTR:host"]!.GetValue<string>());
        Assert.That(dest.Name, Is.Not.EqualTo("xs-1"));
        Assert.That(resized["flavor"]!["original_name"]!.GetValue<string>(), Is.EqualTo("w2.medium"));

        var sourceSha = Lab[0].Control.GetVmDiskSha256("wf-up");
        var destVm = (await VmsOfServerAsync(dest, id)).Single();
        Assert.That((destVm.PowerState, destVm.MemoryStaticMax, destVm.VcpusMax), Is.EqualTo(("Running", 2048L << 20, 2L)));
        await using (var s = await OpenAsync(dest))
        {
            var vbd = (await s.VbdsAsync(CancellationToken.None)).Values.Single(b => b.Vm == destVm.Ref && b.IsDisk);
            var vdi = (await s.VdisAsync(CancellationToken.None))[vbd.Vdi];
            Assert.That(vdi.VirtualSize, Is.EqualTo(2L << 30), "the disk grew to the new flavor");
        }

        // The grown disk holds the source's bytes followed by zeros: compare the source-sized prefix via a fresh copy.
        var sourceVm = (await VmsOfServerAsync(Lab[0], id)).Single();
        Assert.That(sourceVm.PowerState, Is.EqualTo("Halted"), "exactly one copy runs");
        Assert.That(await DiskPrefixSha(dest, destVm.Uuid, 1L << 30), Is.EqualTo(sourceSha), "every byte arrived, including those written during the copy");

        var migration = await MigrationAsync(id);
        Assert.That((migration["status"]!.GetValue<string>(), migration["migration_type"]!.GetValue<string>()), Is.EqualTo(("finished", "resize")));

        AssertStatus(await ActionAsync(id, Demo, """{"confirmResize":null}"""), HttpStatusCode.NoContent);
        var confirmed = await WaitForStatusAsync(id, "ACTIVE");
        Assert.That(confirmed["OS-EXT-SRV-ATTR:host"]!.GetValue<string>(), Is.EqualTo(dest.Name));
        await Eventually.HoldsAsync(() => MigrationAsync(id), m => m["status"]!.GetValue<string>() == "confirmed");
        Assert.That(await VmsOfServerAsync(Lab[0], id), Is.Empty, "the source VM is destroyed on confirm");
        Assert.That(await OrphanVdisAsync(Lab[0]), Is.Empty, "its disks and snapshot too");
        Assert.That(await OrphanVdisAsync(dest), Is.Empty);
    }

    [Test]
    public async Task Resize_ThenRevert_BringsTheUntouchedSourceBack()
    {
        var id = await SeedServerAsync(1, "wf-revert", memoryMb: 512, diskGb: 1);
        var before = Lab[1].Control.GetVmDiskSha256("wf-revert");
        AssertStatus(await ActionAsync(id, Demo, """{"resize":{"flavorRef":"2"}}"""), HttpStatusCode.Accepted);
        var resized = await WaitForStatusAsync(id, "VERIFY_RESIZE");
        var dest = HostNamed(resized["OS-EXT-SRV-ATTR:host"]!.GetValue<string>());

        AssertStatus(await ActionAsync(id, Demo, """{"revertResize":null}"""), HttpStatusCode.Accepted);
        var reverting = await ServerAsync(id);
        Assert.That(reverting["status"]!.GetValue<string>(), Is.AnyOf("REVERT_RESIZE", "ACTIVE"));
        var reverted = await WaitForStatusAsync(id, "ACTIVE");
        Assert.That(reverted["OS-EXT-SRV-ATTR:host"]!.GetValue<string>(), Is.EqualTo("xs-2"));
        Assert.That(reverted["flavor"]!["original_name"]!.GetValue<string>(), Is.EqualTo("m1.tiny"));

        var source = (await VmsOfServerAsync(Lab[1], id)).Single();
        Assert.That((source.PowerState, source.MemoryStaticMax), Is.EqualTo(("Running", 512L << 20)));
        Assert.That(Lab[1].Control.GetVmDiskSha256("wf-revert"), Is.EqualTo(before));
        Assert.That(await VmsOfServerAsync(dest, id), Is.Empty, "the destination copy is gone");
        Assert.That(await OrphanVdisAsync(dest), Is.Empty);
        Assert.That(await OrphanVdisAsync(Lab[1]), Is.Empty, "the snapshot is gone too");
        await Eventually.HoldsAsync(() => MigrationAsync(id), m => m["status"]!.GetValue<string>() == "reverted");
    }

    [Test]
    public async Task ColdMigration_ThenConfirm_KeepsTheFlavor()
    {
        var id = await SeedServerAsync(2, "wf-cold", memoryMb: 512, diskGb: 1);
        var member = await ActionAsync(id, Demo, """{"migrate":null}""");
        AssertStatus(member, HttpStatusCode.Forbidden);
        Assert.That(member.Json!["forbidden"]!["message"]!.GetValue<string>(),
            Is.EqualTo("Policy doesn't allow os_compute_api:os-migrate-server:migrate to be performed."));

        AssertStatus(await ActionAsync(id, Admin, """{"migrate":{"host":"xs-1"}}""", "2.56"), HttpStatusCode.Accepted);
        var migrated = await WaitForStatusAsync(id, "VERIFY_RESIZE");
        Assert.That(migrated["OS-EXT-SRV-ATTR:host"]!.GetValue<string>(), Is.EqualTo("xs-1"));
        Assert.That(migrated["flavor"]!["original_name"]!.GetValue<string>(), Is.EqualTo("m1.tiny"));
        Assert.That((await MigrationAsync(id))["migration_type"]!.GetValue<string>(), Is.EqualTo("migration"));
        AssertStatus(await ActionAsync(id, Admin, """{"confirmResize":{}}"""), HttpStatusCode.NoContent);
        await WaitForStatusAsync(id, "ACTIVE");
        Assert.That(await VmsOfServerAsync(Lab[2], id), Is.Empty);
    }

    [Test]
    public async Task StoppedServer_StaysShutoff_ThroughResizeAndConfirm()
    {
        var id = await SeedServerAsync(0, "wf-stopped", memoryMb: 512, diskGb: 1, power: "Halted");
        await WaitForStatusAsync(id, "SHUTOFF");
        AssertStatus(await ActionAsync(id, Demo, """{"resize":{"flavorRef":"2"}}"""), HttpStatusCode.Accepted);
        var resized = await WaitForStatusAsync(id, "VERIFY_RESIZE");
        Assert.That(resized["OS-EXT-STS:power_state"]!.GetValue<int>(), Is.EqualTo(4));
        var dest = HostNamed(resized["OS-EXT-SRV-ATTR:host"]!.GetValue<string>());
        Assert.That((await VmsOfServerAsync(dest, id)).Single().PowerState, Is.EqualTo("Halted"));
        AssertStatus(await ActionAsync(id, Demo, """{"confirmResize":null}"""), HttpStatusCode.NoContent);
        await WaitForStatusAsync(id, "SHUTOFF");
        Assert.That((await MigrationAsync(id))["status"]!.GetValue<string>(), Is.AnyOf("confirming", "confirmed"));
    }

    [Test]
    public async Task InstanceActions_RecordNovasEvents_UnderTheRequestId()
    {
        var id = await SeedServerAsync(1, "wf-events", memoryMb: 512, diskGb: 1);
        var accepted = await ActionAsync(id, Demo, """{"resize":{"flavorRef":"2"}}""");
        var requestId = accepted.Header("x-openstack-request-id");
        await WaitForStatusAsync(id, "VERIFY_RESIZE");
        var list = (await Gateway.GetAsync($"/v2.1/servers/{id}/os-instance-actions", Demo)).Json!["instanceActions"]!.AsArray();
        Assert.That(list[0]!["request_id"]!.GetValue<string>(), Is.EqualTo(requestId));
        Assert.That(list[0]!["action"]!.GetValue<string>(), Is.EqualTo("resize"));
        var action = (await Gateway.GetAsync($"/v2.1/servers/{id}/os-instance-actions/{requestId}", Admin)).Json!["instanceAction"]!;
        Assert.That(action["events"]!.AsArray().Select(e => e!["event"]!.GetValue<string>()),
            Is.EqualTo(new[] { "compute_prep_resize", "compute_resize_instance", "compute_finish_resize" }));
        Assert.That(action["events"]!.AsArray().Select(e => e!["result"]!.GetValue<string>()), Is.All.EqualTo("Success"));
        AssertStatus(await ActionAsync(id, Demo, """{"revertResize":null}"""), HttpStatusCode.Accepted);
        await WaitForStatusAsync(id, "ACTIVE");
        var revert = (await Gateway.GetAsync($"/v2.1/servers/{id}/os-instance-actions", Demo)).Json!["instanceActions"]![0]!;
        Assert.That(revert["action"]!.GetValue<string>(), Is.EqualTo("revertResize"));
    }

    /// <summary>SHA-256 of the first <paramref name="bytes"/> of a disk (a grown disk is the old one plus zeros).</summary>
    private static async Task<string> DiskPrefixSha(XapiSimulator.SimulatedHost host, string vmUuid, long bytes)
    {
        // Export the raw disk over HTTP, as any client would, and hash its first bytes.
        await using var s = await OpenAsync(host);
        var vm = await s.CallForStringAsync("VM.get_by_uuid", CancellationToken.None, vmUuid);
        var record = await s.VmAsync(vm, CancellationToken.None);
        var vbd = (await s.VbdsAsync(CancellationToken.None))[record.Vbds.Single()];
        using var http = new HttpClient { Timeout = TimeSpan.FromMinutes(5) };
        await using var stream = await http.GetStreamAsync($"{host.Url}/export_raw_vdi?session_id={s.SessionRef}&vdi={vbd.Vdi}&format=raw");
        using var sha = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
        var buffer = new byte[1 << 20];
        long left = bytes;
        while (left > 0)
        {
            var n = await stream.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, left)));
            if (n == 0) break;
            sha.AppendData(buffer, 0, n);
            left -= n;
        }

        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }
}
