using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using XenMigrate.Infrastructure.Transfer;
using XenMigrate.Infrastructure.Xapi;
using XenMigrate.XapiSimulator;
using XenMigrate.XapiSimulator.Control;

namespace XenMigrate.Tests.Transfer;

/// <summary>
/// VDI copies between two simulated hosts over export_raw_vdi → import_raw_vdi
/// (xapi's export_raw_vdi.ml and import_raw_vdi.ml, each under its own task), through the real XAPI client.
/// </summary>
public class VdiTransferTests
{
    private const long MiB = 1024 * 1024;
    private const long BlockSpan = 512 + 2 * MiB;
    private static readonly CancellationToken None = CancellationToken.None;

    private SimulatedHost _a = null!;
    private SimulatedHost _b = null!;
    private XapiSession _sa = null!;
    private XapiSession _sb = null!;
    private VdiTransfer _transfer = null!;

    [OneTimeSetUp]
    public async Task StartHosts()
    {
        _a = await SimulatedHost.StartAsync(new SimulatedHostOptions { Name = "xfer-a", Password = "pw-a", StorageBytes = 4L << 30 });
        _b = await SimulatedHost.StartAsync(new SimulatedHostOptions { Name = "xfer-b", Password = "pw-b", StorageBytes = 4L << 30 });
        _sa = await XapiSession.OpenAsync(Options(_a), TimeSpan.FromSeconds(10), None);
        _sb = await XapiSession.OpenAsync(Options(_b), TimeSpan.FromSeconds(10), None);
        _transfer = new VdiTransfer(new VdiTransferOptions
        {
            TaskPollInterval = TimeSpan.FromMilliseconds(100),
            FailureGrace = TimeSpan.FromSeconds(2),
            CleanupTimeout = TimeSpan.FromSeconds(10),
            TaskTimeout = TimeSpan.FromSeconds(30),
            ProgressInterval = TimeSpan.Zero,
        });
    }

    [OneTimeTearDown]
    public async Task StopHosts()
    {
        _transfer?.Dispose();
        if (_sa is not null) await _sa.DisposeAsync();
        if (_sb is not null) await _sb.DisposeAsync();
        if (_a is not null) await _a.DisposeAsync();
        if (_b is not null) await _b.DisposeAsync();
    }

    [TearDown]
    public async Task ClearFaultsAndCheckTasks()
    {
        _a.Faults.Clear();
        _b.Faults.Clear();
        // Whatever happened, a copy leaves no task of its own behind on either host.
        Assert.That(await TransferTasksAsync(_sa), Is.Empty, "tasks left on A");
        Assert.That(await TransferTasksAsync(_sb), Is.Empty, "tasks left on B");
    }

    [Test]
    public async Task FullCopy_ThenDeltas_KeepTheDestinationEqualToTheLatestSnapshot()
    {
        var vm = await SeedAsync("warm", diskBytes: 64 * MiB, dataBytes: 10 * MiB);
        var snap1 = await SnapshotDiskAsync(vm.VmRef, "gw-1");
        var target = await CreateTargetAsync("warm replica", 64 * MiB);
        var fullProgress = new Recorder();

        var full = await _transfer.CopyAsync(_sa, snap1, null, _sb, target, fullProgress, None);

        Assert.That(_b.Control.GetDiskSha256(target), Is.EqualTo(_a.Control.GetDiskSha256(snap1)));
        Assert.That((full.BlocksCopied, full.Differencing, full.VirtualSize, full.ImportedVdiRef), Is.EqualTo((5, false, 64 * MiB, target)));
        Assert.That(full.BytesCopied, Is.EqualTo(2048 + 512 + 5 * BlockSpan + 512));
        AssertProgressReachesTotal(fullProgress, full.BytesCopied);

        // The guest keeps writing: into a block the full copy carried, and into a new one.
        _a.Control.WriteVmDisk(vm.VmRef, 3 * MiB + 100, Encoding.UTF8.GetBytes("rewritten after the first snapshot"));
        _a.Control.WriteVmDisk(vm.VmRef, 40 * MiB + 7, Encoding.UTF8.GetBytes("a block that was never written"));
        var snap2 = await SnapshotDiskAsync(vm.VmRef, "gw-2");
        var deltaProgress = new Recorder();

        var delta = await _transfer.CopyAsync(_sa, snap2, snap1, _sb, target, deltaProgress, None);

        Assert.That(_b.Control.GetDiskSha256(target), Is.EqualTo(_a.Control.GetDiskSha256(snap2)));
        Assert.That(_b.Control.GetDiskSha256(target), Is.Not.EqualTo(_a.Control.GetDiskSha256(snap1)));
        Assert.That((delta.BlocksCopied, delta.Differencing), Is.EqualTo((2, true)));
        Assert.That(delta.BytesCopied, Is.EqualTo(2048 + 512 + 2 * BlockSpan + 512));
        Assert.That(delta.BytesCopied, Is.LessThan(full.BytesCopied));
        AssertProgressReachesTotal(deltaProgress, delta.BytesCopied);

        // Cutover: the halted VM's own disk over the last snapshot.
        await _sa.CallAsyncTaskAsync("VM.hard_shutdown", TimeSpan.FromSeconds(30), None, vm.VmRef);
        _a.Control.WriteVmDisk(vm.VmRef, 63 * MiB, Encoding.UTF8.GetBytes("last words before the cutover"));
        var final = await _transfer.CopyAsync(_sa, vm.VdiRef, snap2, _sb, target, null, None);

        Assert.That(_b.Control.GetDiskSha256(target), Is.EqualTo(_a.Control.GetVmDiskSha256(vm.VmRef)));
        Assert.That(final.BlocksCopied, Is.EqualTo(1));
        TestContext.Out.WriteLine($"64 MiB disk, 10 MiB data: full {full.BytesCopied} B ({full.BlocksCopied} blocks, {full.Elapsed.TotalMilliseconds:F0} ms); " +
                                  $"delta {delta.BytesCopied} B ({delta.BlocksCopied} blocks); final delta {final.BytesCopied} B ({final.BlocksCopied} block)");
    }

    [Test]
    public async Task ComputedLength_IsWhatTheExportActuallyProduces()
    {
        var vm = await SeedAsync("length", diskBytes: 24 * MiB, dataBytes: 7 * MiB);
        var snap1 = await SnapshotDiskAsync(vm.VmRef, "len-1");
        _a.Control.WriteVmDisk(vm.VmRef, 20 * MiB, new byte[] { 1, 2, 3 });
        var snap2 = await SnapshotDiskAsync(vm.VmRef, "len-2");

        foreach (var (vdi, baseVdi) in new[] { (snap1, (string?)null), (snap2, snap1) })
        {
            var computed = await ComputeLengthAsync(vdi, baseVdi);
            var downloaded = await DownloadExportAsync(vdi, baseVdi);

            Assert.That(computed.StreamLength, Is.EqualTo(downloaded), baseVdi is null ? "full" : "delta");
            Assert.That(computed.StreamLength, Is.EqualTo(computed.TableOffset + 512 + computed.UsedBlocks * BlockSpan + 512));
        }
    }

    [Test]
    public async Task CopiedStream_IsByteForByteTheExport()
    {
        var vm = await SeedAsync("bytes", diskBytes: 16 * MiB, dataBytes: 5 * MiB);
        var snap = await SnapshotDiskAsync(vm.VmRef, "bytes-1");
        var target = await CreateTargetAsync("bytes replica", 16 * MiB);
        var length = await DownloadExportAsync(snap, null);

        var result = await _transfer.CopyAsync(_sa, snap, null, _sb, target, null, None);

        Assert.That(result.BytesCopied, Is.EqualTo(length));
        Assert.That(_b.Control.GetDiskSha256(target), Is.EqualTo(_a.Control.GetDiskSha256(snap)));
    }

    [Test]
    public async Task ExportCutShort_FailsTheCopy_AndTheDestinationIsNotComplete()
    {
        var vm = await SeedAsync("cut", diskBytes: 32 * MiB, dataBytes: 8 * MiB);
        var snap = await SnapshotDiskAsync(vm.VmRef, "cut-1");
        var target = await CreateTargetAsync("cut replica", 32 * MiB);
        _a.Faults.CutNextExportAfter(3 * MiB);
        var progress = new Recorder();

        var ex = await Assert.ThrowsAsync<VdiTransferException>(() => _transfer.CopyAsync(_sa, snap, null, _sb, target, progress, None));

        TestContext.Out.WriteLine(ex!.Message);
        Assert.That(ex.FailedSide, Is.EqualTo(TransferSide.Source));
        Assert.That(ex.ExpectedBytes, Is.EqualTo(2048 + 512 + 4 * BlockSpan + 512));
        Assert.That(ex.BytesCopied, Is.LessThan(ex.ExpectedBytes!.Value).And.LessThanOrEqualTo(3 * MiB));
        Assert.That(ex.Message, Does.Contain("export").And.Contain("incomplete"));
        Assert.That(ex.DestinationTaskError, Is.InstanceOf<XapiException>(), "the import task saw a short body and failed");
        Assert.That(progress.Last?.BytesCopied ?? 0, Is.LessThan(ex.ExpectedBytes));
        Assert.That(_b.Control.GetDiskSha256(target), Is.Not.EqualTo(_a.Control.GetDiskSha256(snap)));
        AssertNoSessionRefs(ex);
    }

    [Test]
    public async Task ExportCutInsideTheVhdHeader_FailsBeforeAnythingIsSent()
    {
        var vm = await SeedAsync("cut-head", diskBytes: 8 * MiB, dataBytes: 2 * MiB);
        var snap = await SnapshotDiskAsync(vm.VmRef, "cut-head-1");
        var target = await CreateTargetAsync("cut-head replica", 8 * MiB);
        _a.Faults.CutNextExportAfter(1000);

        var ex = await Assert.ThrowsAsync<VdiTransferException>(() => _transfer.CopyAsync(_sa, snap, null, _sb, target, null, None));

        TestContext.Out.WriteLine(ex!.Message);
        Assert.That(ex.FailedSide, Is.EqualTo(TransferSide.Source));
        Assert.That((ex.BytesCopied, ex.ExpectedBytes), Is.EqualTo((0L, (long?)null)));
        Assert.That(ex.Message, Does.Contain("Nothing was sent to the destination"));
        Assert.That(ex.SourceTaskError, Is.InstanceOf<XapiException>());
        AssertNoSessionRefs(ex);
    }

    [Test]
    public async Task FailingImportTask_FailsTheCopy_WithTheHostsError()
    {
        var vm = await SeedAsync("import-fails", diskBytes: 16 * MiB, dataBytes: 6 * MiB);
        var snap = await SnapshotDiskAsync(vm.VmRef, "if-1");
        var target = await CreateTargetAsync("import-fails replica", 16 * MiB);
        _b.Faults.FailNext("import_raw_vdi", "SR_BACKEND_FAILURE_44", ["", "There is insufficient space", ""]);

        var ex = await Assert.ThrowsAsync<VdiTransferException>(() => _transfer.CopyAsync(_sa, snap, null, _sb, target, null, None));

        TestContext.Out.WriteLine(ex!.Message);
        Assert.That(ex.FailedSide, Is.EqualTo(TransferSide.Destination));
        Assert.That(ex.DestinationTaskError, Is.InstanceOf<XapiException>());
        Assert.That(((XapiException)ex.DestinationTaskError!).Code, Is.EqualTo("SR_BACKEND_FAILURE_44"));
        Assert.That(ex.Message, Does.Contain("SR_BACKEND_FAILURE_44").And.Contain("xfer-b"));
        AssertNoSessionRefs(ex);
    }

    [Test]
    public async Task RefusedExport_FailsTheCopy_WithTheSourcesError()
    {
        var vm = await SeedAsync("export-refused", diskBytes: 8 * MiB, dataBytes: 2 * MiB);
        var snap = await SnapshotDiskAsync(vm.VmRef, "er-1");
        var target = await CreateTargetAsync("export-refused replica", 8 * MiB);
        _a.Faults.FailNext("export_raw_vdi", "VDI_IN_USE", [snap, "export"]);

        var ex = await Assert.ThrowsAsync<VdiTransferException>(() => _transfer.CopyAsync(_sa, snap, null, _sb, target, null, None));

        TestContext.Out.WriteLine(ex!.Message);
        Assert.That(ex.FailedSide, Is.EqualTo(TransferSide.Source));
        Assert.That(((XapiException)ex.SourceTaskError!).Code, Is.EqualTo("VDI_IN_USE"));
        AssertNoSessionRefs(ex);
    }

    [Test]
    public async Task ImportTaskCancelledOnTheHost_StopsTheCopy()
    {
        var vm = await SeedAsync("host-cancel", diskBytes: 32 * MiB, dataBytes: 16 * MiB);
        var snap = await SnapshotDiskAsync(vm.VmRef, "hc-1");
        var target = await CreateTargetAsync("host-cancel replica", 32 * MiB);
        _a.Faults.Throttle(4);
        var underway = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var progress = new Recorder(p =>
        {
            if (p.BytesCopied >= 2 * MiB) underway.TrySetResult();
        });

        var copy = _transfer.CopyAsync(_sa, snap, null, _sb, target, progress, None);
        await underway.Task.WaitAsync(TimeSpan.FromSeconds(30));
        // An operator cancels the import on the destination (as XenCenter's task list allows).
        var import = (await TransferTaskRecordsAsync(_sb)).Single(t => XapiValues.String(t.Value?["status"]) == "pending");
        await _sb.CallAsync("task.cancel", None, import.Key);
        var stopwatch = Stopwatch.StartNew();

        var ex = await Assert.ThrowsAsync<VdiTransferException>(() => copy);

        TestContext.Out.WriteLine($"{ex!.Message} ({stopwatch.ElapsedMilliseconds} ms)");
        Assert.That(ex.FailedSide, Is.EqualTo(TransferSide.Destination));
        Assert.That(((XapiException)ex.DestinationTaskError!).Code, Is.EqualTo(XapiException.TaskCancelled));
        Assert.That(stopwatch.Elapsed, Is.LessThan(TimeSpan.FromSeconds(5)));
    }

    [Test]
    public async Task StalledExport_IsAbandoned()
    {
        var vm = await SeedAsync("stall", diskBytes: 8 * MiB, dataBytes: 4 * MiB);
        var snap = await SnapshotDiskAsync(vm.VmRef, "stall-1");
        var target = await CreateTargetAsync("stall replica", 8 * MiB);
        using var impatient = new VdiTransfer(new VdiTransferOptions
        {
            StallTimeout = TimeSpan.FromSeconds(1),
            TaskPollInterval = TimeSpan.FromMilliseconds(100),
            FailureGrace = TimeSpan.FromSeconds(2),
            CleanupTimeout = TimeSpan.FromSeconds(10),
        });
        _a.Faults.Throttle(0.01); // 10 kB/s: a 64 KiB piece, then seconds of silence
        var stopwatch = Stopwatch.StartNew();

        var ex = await Assert.ThrowsAsync<VdiTransferException>(() => impatient.CopyAsync(_sa, snap, null, _sb, target, null, None));

        TestContext.Out.WriteLine($"{ex!.Message} ({stopwatch.ElapsedMilliseconds} ms)");
        Assert.That(ex.Message, Does.Contain("no data moved for 00:00:01"));
        Assert.That(stopwatch.Elapsed, Is.LessThan(TimeSpan.FromSeconds(10)));
    }

    [Test]
    public async Task Cancellation_StopsTheCopyMidStream()
    {
        var vm = await SeedAsync("cancel", diskBytes: 64 * MiB, dataBytes: 32 * MiB);
        var snap = await SnapshotDiskAsync(vm.VmRef, "cancel-1");
        var target = await CreateTargetAsync("cancel replica", 64 * MiB);
        _a.Faults.Throttle(4); // ~9 s for the whole disk
        var underway = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var progress = new Recorder(p =>
        {
            if (p.BytesCopied >= 4 * MiB) underway.TrySetResult();
        });
        using var cts = new CancellationTokenSource();

        var copy = _transfer.CopyAsync(_sa, snap, null, _sb, target, progress, cts.Token);
        await underway.Task.WaitAsync(TimeSpan.FromSeconds(30));
        var stopwatch = Stopwatch.StartNew();
        await cts.CancelAsync();

        await Assert.CatchAsync<OperationCanceledException>(() => copy);
        TestContext.Out.WriteLine($"cancelled after {progress.Last?.BytesCopied} of {progress.Last?.TotalBytes} bytes; stopped in {stopwatch.ElapsedMilliseconds} ms");
        Assert.That(stopwatch.Elapsed, Is.LessThan(TimeSpan.FromSeconds(5)));
        var atCancel = progress.Last!.Value.BytesCopied;
        await Task.Delay(500);
        Assert.That(progress.Last!.Value.BytesCopied, Is.EqualTo(atCancel), "nothing moves after the cancellation");
        Assert.That(atCancel, Is.LessThan(progress.Last!.Value.TotalBytes));
    }

    [Test]
    public async Task Memory_StaysFlat_WhateverTheDiskSize()
    {
        var small = await PrepareAsync("mem-small", 2 * MiB);
        var large = await PrepareAsync("mem-large", 60 * MiB);
        await _transfer.CopyAsync(_sa, small.Snap, null, _sb, small.Target, null, None); // warm-up: pools, connections, JIT

        var smallAllocated = await AllocatedDuringAsync(() => _transfer.CopyAsync(_sa, small.Snap, null, _sb, small.Target, null, None));
        var largeAllocated = await AllocatedDuringAsync(() => _transfer.CopyAsync(_sa, large.Snap, null, _sb, large.Target, null, None));

        // Both simulated hosts run in this process, so their allocations (a few MiB of pool misses)
        // count too; holding the disk anywhere would cost at least the 58 MiB of extra data.
        TestContext.Out.WriteLine($"allocated: 2 MiB of data {smallAllocated / 1024} KiB, 60 MiB of data {largeAllocated / 1024} KiB");
        Assert.That(largeAllocated - smallAllocated, Is.LessThan(58 * MiB / 4));
        Assert.That(_b.Control.GetDiskSha256(large.Target), Is.EqualTo(_a.Control.GetDiskSha256(large.Snap)));
    }

    [Test]
    public async Task SourceGoingDownMidCopy_FailsTheCopy_WithoutLeakingSessionRefs()
    {
        var vm = await SeedAsync("down", diskBytes: 16 * MiB, dataBytes: 8 * MiB);
        var snap = await SnapshotDiskAsync(vm.VmRef, "down-1");
        var target = await CreateTargetAsync("down replica", 16 * MiB);
        _a.Faults.Throttle(8);
        var underway = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var progress = new Recorder(p =>
        {
            if (p.BytesCopied >= 2 * MiB) underway.TrySetResult();
        });

        var copy = _transfer.CopyAsync(_sa, snap, null, _sb, target, progress, None);
        await underway.Task.WaitAsync(TimeSpan.FromSeconds(30));
        _a.Faults.SetHostDown(restoreAfter: TimeSpan.FromSeconds(3));
        var stopwatch = Stopwatch.StartNew();

        var ex = await Assert.ThrowsAsync<VdiTransferException>(() => copy);

        TestContext.Out.WriteLine($"{ex!.Message} ({stopwatch.ElapsedMilliseconds} ms)");
        Assert.That(ex.DestinationTaskError, Is.InstanceOf<XapiException>(), "B's import failed on the short body");
        Assert.That(stopwatch.Elapsed, Is.LessThan(TimeSpan.FromSeconds(20)));
        AssertNoSessionRefs(ex);

        // A was unreachable, so its export task could not be destroyed: it is left for xapi's GC,
        // finished (failed), not pending.
        await Task.Delay(3500);
        var leftovers = await TransferTaskRecordsAsync(_sa);
        Assert.That(leftovers.Select(t => XapiValues.String(t.Value?["status"])), Is.All.Not.EqualTo("pending"));
        foreach (var task in leftovers) await _sa.CallAsync("task.destroy", None, task.Key);
    }

    private static XapiHostOptions Options(SimulatedHost host) =>
        new() { Name = host.Name, Url = host.Url, Username = host.Username, Password = host.Password };

    private Task<SeededVm> SeedAsync(string name, long diskBytes, long dataBytes) =>
        _a.Control.SeedVmAsync(new SeedVmSpec { Name = $"{name}-{Guid.NewGuid():N}"[..(name.Length + 7)], DiskBytes = diskBytes, DataBytes = dataBytes });

    private async Task<(string Snap, string Target)> PrepareAsync(string name, long dataBytes)
    {
        var vm = await SeedAsync(name, 64 * MiB, dataBytes);
        return (await SnapshotDiskAsync(vm.VmRef, name + "-snap"), await CreateTargetAsync(name + " replica", 64 * MiB));
    }

    /// <summary>Async.VM.snapshot, then the snapshot's disk VDI (closing step 5).</summary>
    private async Task<string> SnapshotDiskAsync(string vmRef, string name)
    {
        var snapshot = await _sa.CallAsyncTaskAsync("VM.snapshot", TimeSpan.FromSeconds(30), None, vmRef, name);
        var vm = await _sa.VmAsync(snapshot, None);
        var vbds = await _sa.VbdsAsync(None);
        return vm.Vbds.Select(v => vbds[v]).Single(v => v.IsDisk).Vdi;
    }

    /// <summary>VDI.create on B's default SR (closing step 4).</summary>
    private async Task<string> CreateTargetAsync(string name, long size)
    {
        var pool = await _sb.PoolAsync(None);
        return await _sb.CallForStringAsync("VDI.create", None, new JsonObject
        {
            ["name_label"] = name,
            ["SR"] = pool.DefaultSr,
            ["virtual_size"] = size,
            ["type"] = "user",
            ["sharable"] = false,
            ["read_only"] = false,
            ["other_config"] = new JsonObject(),
        });
    }

    private Uri ExportUri(string vdi, string? baseVdi) =>
        new($"{_a.Url}/export_raw_vdi?session_id={Uri.EscapeDataString(_sa.SessionRef)}&vdi={Uri.EscapeDataString(vdi)}&format=vhd" +
            (baseVdi is null ? "" : $"&base={Uri.EscapeDataString(baseVdi)}"));

    /// <summary>The export read to its end and counted (never held whole).</summary>
    private async Task<long> DownloadExportAsync(string vdi, string? baseVdi)
    {
        using var http = new HttpClient();
        using var response = await http.GetAsync(ExportUri(vdi, baseVdi), HttpCompletionOption.ResponseHeadersRead);
        response.EnsureSuccessStatusCode();
        await using var body = await response.Content.ReadAsStreamAsync();
        var buffer = new byte[256 * 1024];
        long length = 0;
        int n;
        while ((n = await body.ReadAsync(buffer)) > 0) length += n;
        return length;
    }

    private async Task<VhdStreamPrefix> ComputeLengthAsync(string vdi, string? baseVdi)
    {
        using var http = new HttpClient();
        using var response = await http.GetAsync(ExportUri(vdi, baseVdi), HttpCompletionOption.ResponseHeadersRead);
        response.EnsureSuccessStatusCode();
        await using var body = await response.Content.ReadAsStreamAsync();
        return await VhdStreamPrefix.ReadAsync(body, None);
    }

    private static async Task<long> AllocatedDuringAsync(Func<Task> action)
    {
        GC.Collect();
        var before = GC.GetTotalAllocatedBytes(precise: true);
        await action();
        return GC.GetTotalAllocatedBytes(precise: true) - before;
    }

    private static async Task<List<KeyValuePair<string, JsonNode?>>> TransferTaskRecordsAsync(XapiSession session)
    {
        var tasks = await session.CallAsync("task.get_all_records", None) as JsonObject ?? [];
        return tasks.Where(t => XapiValues.String(t.Value?["name_label"]).StartsWith("XenMigrate:", StringComparison.Ordinal)).ToList();
    }

    private static async Task<List<string>> TransferTasksAsync(XapiSession session) =>
        (await TransferTaskRecordsAsync(session))
        .Select(t => $"{XapiValues.String(t.Value?["name_label"])} ({XapiValues.String(t.Value?["status"])})").ToList();

    private static void AssertProgressReachesTotal(Recorder progress, long total)
    {
        var reports = progress.All;
        Assert.That(reports, Is.Not.Empty);
        Assert.That(reports.Select(r => r.TotalBytes), Is.All.EqualTo(total));
        Assert.That(reports.Select(r => r.BytesCopied), Is.Ordered);
        Assert.That(reports[^1], Is.EqualTo(new TransferProgress(total, total)));
        Assert.That(reports[^1].Fraction, Is.EqualTo(1.0));
    }

    private void AssertNoSessionRefs(Exception ex)
    {
        var text = ex.ToString();
        Assert.That(text, Does.Not.Contain(_sa.SessionRef).And.Not.Contain(_sb.SessionRef));
        Assert.That(text, Does.Not.Contain(Uri.EscapeDataString(_sa.SessionRef)).And.Not.Contain(Uri.EscapeDataString(_sb.SessionRef)));
    }

    /// <summary>Records progress synchronously, on the copying thread.</summary>
    private sealed class Recorder(Action<TransferProgress>? onReport = null) : IProgress<TransferProgress>
    {
        private readonly Lock _sync = new();
        private readonly List<TransferProgress> _reports = [];

        public List<TransferProgress> All
        {
            get
            {
                lock (_sync) return [.. _reports];
            }
        }

        public TransferProgress? Last
        {
            get
            {
                lock (_sync) return _reports.Count == 0 ? null : _reports[^1];
            }
        }

        public void Report(TransferProgress value)
        {
            lock (_sync) _reports.Add(value);
            onReport?.Invoke(value);
        }
    }
}
