using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using XenMigrate.Infrastructure.Persistence;
using XenMigrate.Tests.Simulator;
using XenMigrate.Tests.Support;
using XenMigrate.XapiSimulator;

namespace XenMigrate.Tests.Workflow;

/// <summary>
/// Disks that are not a VHD of at most 2040 GiB on a thin SR: a qcow2 image above VHD's limit
/// (XCP-ng 8.3), a raw volume on thick (legacy) LVM as the source, and thick LVM as the
/// destination, which takes no VHD stream. Each moves with the stream xapi can serve and take.
/// df-1 and df-2 have room for a 2.1 TiB thin disk; df-3's default SR is its thick LVM SR.
/// </summary>
[NonParallelizable]
public class DiskFormatWorkflowTests : WorkflowFixture
{
    private const long GiB = 1L << 30;
    private const long MiB = 1L << 20;
    private const long BigDisk = 2100 * GiB;

    protected override Task<LabHosts> StartHostsAsync() =>
        LabHosts.StartAsync(o =>
        {
            o.StorageBytes = 4096 * GiB;
            o.LegacyLvmStorageBytes = 8 * GiB;
            o.Dom0DetachDelay = TimeSpan.FromMilliseconds(100);
        }, "df-1", "df-2", "df-3");

    [OneTimeSetUp]
    public async Task MakeThickLvmTheDefaultSrOfDf3()
    {
        using var xapi = await XapiTestClient.LoginAsync(Lab[2]);
        await xapi.CallAsync("pool.set_default_SR", Lab[2].PoolRef, Lab[2].LvmSrRef);
    }

    [Test]
    public async Task AQcow2DiskAboveVhdsLimit_MovesAsQcow2_CarryingOnlyItsData()
    {
        var id = await SeedServerAsync(0, "df-big", memoryMb: 512, dataMib: 8,
            adjust: s => s with { DiskBytes = BigDisk, DiskSmConfig = new Dictionary<string, string> { ["image-format"] = "qcow2" } });
        var source = Lab[0].Control.VmDisk("df-big");
        Lab[0].Control.WriteDisk(source, BigDisk - MiB, Encoding.UTF8.GetBytes("the last mebibyte"));

        AssertStatus(await ActionAsync(id, Admin, """{"migrate":{"host":"df-2"}}""", "2.56"), HttpStatusCode.Accepted);
        await WaitForStatusAsync(id, "VERIFY_RESIZE", seconds: 120);

        var copy = (await VmsOfServerAsync(Lab[1], id)).Single();
        var disk = Lab[1].Control.VmDisk(copy.Ref);
        var record = Lab[1].Database.GetRecord(disk)!;
        Assert.That(record["virtual_size"]!.GetValue<long>(), Is.EqualTo(BigDisk));
        Assert.That((string?)record["sm_config"]!["image-format"], Is.EqualTo("qcow2"), "made as qcow2: a VHD cannot be this large");
        Assert.That(Lab[1].Control.ReadDisk(disk, 0, (int)(8 * MiB)), Is.EqualTo(Lab[0].Control.ReadDisk(source, 0, (int)(8 * MiB))));
        Assert.That(Lab[1].Control.ReadDisk(disk, BigDisk - MiB, 17), Is.EqualTo(Encoding.UTF8.GetBytes("the last mebibyte")));
        Assert.That(await BytesMovedAsync(id), Is.LessThan(64 * MiB), "only the written clusters travel, not 2.1 TiB");

        AssertStatus(await ActionAsync(id, Admin, """{"confirmResize":null}"""), HttpStatusCode.NoContent);
        await WaitForStatusAsync(id, "ACTIVE");
        Assert.That(await VmsOfServerAsync(Lab[0], id), Is.Empty);
    }

    [Test]
    public async Task ARawVolumeOnThickLvm_MovesToAThinSr_WithoutVhdDeltas()
    {
        var id = await SeedServerAsync(2, "df-raw", memoryMb: 512, diskGb: 1, dataMib: 16, adjust: s => s with { StorageRepository = Lab[2].LvmSrRef });
        var source = Lab[2].Control.VmDisk("df-raw");
        Assert.That((string?)Lab[2].Database.GetRecord(source)!["sm_config"]!["vdi_type"], Is.EqualTo("aio"), "a raw volume");
        var sha = Lab[2].Control.GetDiskSha256(source);

        AssertStatus(await ActionAsync(id, Admin, """{"migrate":{"host":"df-2"}}""", "2.56"), HttpStatusCode.Accepted);
        await WaitForStatusAsync(id, "VERIFY_RESIZE");

        var copy = (await VmsOfServerAsync(Lab[1], id)).Single();
        Assert.That(Lab[1].Control.GetVmDiskSha256(copy.Ref), Is.EqualTo(sha));
        Assert.That(await BytesMovedAsync(id), Is.LessThan(1 * GiB), "a sparse stream: the unwritten part of the volume does not travel");

        AssertStatus(await ActionAsync(id, Admin, """{"revertResize":null}"""), HttpStatusCode.Accepted);
        await WaitForStatusAsync(id, "ACTIVE");
        Assert.That(await VmsOfServerAsync(Lab[1], id), Is.Empty);
        Assert.That(Lab[2].Control.GetDiskSha256(source), Is.EqualTo(sha));
    }

    [Test]
    public async Task AThickLvmDestination_TakesTheWholeDiskRaw_AfterTheShutdown()
    {
        var id = await SeedServerAsync(0, "df-thick", memoryMb: 512, diskGb: 1, dataMib: 16);
        var sha = Lab[0].Control.GetVmDiskSha256("df-thick");

        AssertStatus(await ActionAsync(id, Admin, """{"migrate":{"host":"df-3"}}""", "2.56"), HttpStatusCode.Accepted);
        await WaitForStatusAsync(id, "VERIFY_RESIZE");

        var copy = (await VmsOfServerAsync(Lab[2], id)).Single();
        var disk = Lab[2].Control.VmDisk(copy.Ref);
        var record = Lab[2].Database.GetRecord(disk)!;
        Assert.That(record["SR"]!.GetValue<string>(), Is.EqualTo(Lab[2].LvmSrRef));
        Assert.That(Lab[2].Control.GetDiskSha256(disk), Is.EqualTo(sha));
        Assert.That(await BytesMovedAsync(id), Is.EqualTo(1 * GiB), "every byte, zeros included: thick LVM is written whole");

        AssertStatus(await ActionAsync(id, Admin, """{"confirmResize":null}"""), HttpStatusCode.NoContent);
        await WaitForStatusAsync(id, "ACTIVE");
        Assert.That(await VmsOfServerAsync(Lab[0], id), Is.Empty);
    }

    private async Task<long> BytesMovedAsync(string serverId)
    {
        await using var scope = Gateway.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<XenMigrateDbContext>();
        return await db.Migrations.AsNoTracking().Where(m => m.InstanceUuid == Guid.Parse(serverId))
            .OrderByDescending(m => m.Id).Select(m => m.DiskProcessedBytes).FirstAsync();
    }
}
