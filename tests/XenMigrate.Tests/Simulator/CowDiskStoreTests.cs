using XenMigrate.XapiSimulator.Storage;

namespace XenMigrate.Tests.Simulator;

/// <summary>The copy-on-write layer store behind the SR, without HTTP.</summary>
public class CowDiskStoreTests
{
    private const int Block = CowDiskStore.BlockSize;
    private string _directory = null!;
    private CowDiskStore _store = null!;

    [SetUp]
    public void Open()
    {
        _directory = Directory.CreateTempSubdirectory("cow-store-").FullName;
        _store = new CowDiskStore(_directory, 64L * Block);
    }

    [TearDown]
    public void Close()
    {
        _store.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    [Test]
    public void Files_AreSparse_AndHoldOnlyWrittenBlocks()
    {
        _store.CreateDisk("a", 100L * Block);
        _store.Write("a", 50L * Block + 10, [1, 2, 3]);

        Assert.That(_store.AllocatedBytes, Is.EqualTo(Block));
        using var reader = _store.OpenReader("a");
        Assert.That(_store.AllocatedBlocks(reader), Is.EqualTo(new long[] { 50 }));
    }

    [Test]
    public void Snapshot_SharesEverything_UntilTheParentWrites()
    {
        _store.CreateDisk("vm", 4L * Block);
        _store.Write("vm", 0, Enumerable.Repeat((byte)1, 3 * Block).ToArray());
        _store.CloneDisk("vm", "snap");
        var snapHash = _store.ComputeSha256("snap");

        Assert.That(_store.AllocatedBytes, Is.EqualTo(3L * Block), "the snapshot is free");
        _store.Write("vm", Block + 7, [9]);

        Assert.That(_store.ComputeSha256("snap"), Is.EqualTo(snapHash));
        Assert.That(_store.AllocatedBytes, Is.EqualTo(4L * Block), "one block copied up for the writer");
        using var vm = _store.OpenReader("vm");
        using var snap = _store.OpenReader("snap");
        Assert.That(_store.DifferingBlocks(vm, snap), Is.EqualTo(new long[] { 1 }));
        var data = new byte[Block];
        vm.ReadBlock(1, data);
        Assert.That(data[6], Is.EqualTo(1), "the rest of the copied block came from the parent");
        Assert.That(data[7], Is.EqualTo(9));
    }

    [Test]
    public void DeletingDisks_FreesLayersNobodyNeeds()
    {
        _store.CreateDisk("vm", 2L * Block);
        _store.Write("vm", 0, new byte[Block]);
        _store.CloneDisk("vm", "snap");
        _store.Write("vm", 0, [5]);

        _store.DeleteDisk("snap");
        Assert.That(_store.AllocatedBytes, Is.EqualTo(1L * Block), "the snapshot's layer was merged into the VM's");
        Assert.That(Directory.GetFiles(_directory), Has.Length.EqualTo(1));
        _store.DeleteDisk("vm");

        Assert.That(_store.AllocatedBytes, Is.Zero);
        Assert.That(Directory.GetFiles(_directory), Is.Empty);
    }

    [Test]
    public void Coalescing_KeepsTheContent()
    {
        _store.CreateDisk("vm", 3L * Block);
        _store.Write("vm", 0, Enumerable.Repeat((byte)1, 3 * Block).ToArray());
        _store.CloneDisk("vm", "snap1");
        _store.Write("vm", Block, [2]);
        _store.CloneDisk("vm", "snap2");
        _store.Write("vm", 2L * Block, [3]);
        var hashes = new[] { "vm", "snap2" }.Select(d => Convert.ToHexString(_store.ComputeSha256(d))).ToList();

        _store.DeleteDisk("snap1");
        _store.DeleteDisk("snap2");

        Assert.That(Convert.ToHexString(_store.ComputeSha256("vm")), Is.EqualTo(hashes[0]));
        Assert.That(_store.AllocatedBytes, Is.EqualTo(3L * Block), "one layer left, one copy of each block");
        Assert.That(Directory.GetFiles(_directory), Has.Length.EqualTo(1));
    }

    [Test]
    public void OpenReader_KeepsItsPointInTime()
    {
        _store.CreateDisk("vm", 2L * Block);
        _store.Write("vm", 0, [1]);
        _store.CloneDisk("vm", "snap");
        var reader = _store.OpenReader("snap");
        _store.DeleteDisk("snap");
        _store.Write("vm", 0, [2]);

        var data = new byte[Block];
        reader.ReadBlock(0, data);
        reader.Dispose();

        Assert.That(data[0], Is.EqualTo(1));
    }

    [Test]
    public void FullStore_RefusesNewBlocks()
    {
        using var small = new CowDiskStore(Path.Combine(_directory, "small"), 2L * Block);
        small.CreateDisk("d", 8L * Block);
        small.Write("d", 0, new byte[2 * Block]);

        Assert.Throws<StorageFullException>(() => small.Write("d", 4L * Block, [1]));
        small.Write("d", 10, [1]);
    }
}
