using System.Buffers;
using System.Security.Cryptography;

namespace XenMigrate.XapiSimulator.Storage;

/// <summary>
/// The local SR's bytes: every disk (VDI) is a chain of sparse layer files with allocation maps
/// at VHD block granularity (2 MiB). Snapshots and clones share the chain, so they are instant
/// and cost no space; the first write to a shared block gives the writer its own copy (the block
/// is copied up into the writer's top layer). This mirrors a file-based SR's VHD chains, which is
/// also what defines the blocks of a differencing export.
/// </summary>
internal sealed class CowDiskStore : IDisposable
{
    public const int BlockSize = 2 * 1024 * 1024;

    private readonly Lock _sync = new();
    private readonly Dictionary<string, Disk> _disks = new(StringComparer.Ordinal);
    private readonly List<DiskNode> _nodes = [];
    private readonly Dictionary<string, CbtLog> _cbt = new(StringComparer.Ordinal);
    private bool _disposed;

    public CowDiskStore(string directory, long capacityBytes)
    {
        Directory.CreateDirectory(directory);
        RootDirectory = directory;
        CapacityBytes = capacityBytes;
    }

    public string RootDirectory { get; }

    public long CapacityBytes { get; }

    /// <summary>Bytes held by all layers (what the SR reports as physical utilisation).</summary>
    public long AllocatedBytes
    {
        get
        {
            lock (_sync) return AllocatedBlockCount * BlockSize;
        }
    }

    public long FreeBytes
    {
        get
        {
            lock (_sync) return Math.Max(0, CapacityBytes - AllocatedBlockCount * BlockSize);
        }
    }

    private long AllocatedBlockCount => _nodes.Sum(n => n.AllocatedCount);

    public static long BlockCount(long virtualSize) => (virtualSize + BlockSize - 1) / BlockSize;

    public bool Exists(string diskId)
    {
        lock (_sync) return _disks.ContainsKey(diskId);
    }

    public void CreateDisk(string diskId, long virtualSize)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(virtualSize);
        lock (_sync)
        {
            ThrowIfDisposed();
            if (_disks.ContainsKey(diskId)) throw new InvalidOperationException($"Disk {diskId} exists.");
            var node = NewNode(parent: null);
            node.DiskReferences = 1;
            _disks[diskId] = new Disk(diskId, virtualSize, node);
        }
    }

    /// <summary>An instant copy-on-write copy (VDI.snapshot / VDI.clone): both disks share the chain.</summary>
    public void CloneDisk(string sourceId, string newId)
    {
        lock (_sync)
        {
            ThrowIfDisposed();
            var source = Get(sourceId);
            if (_disks.ContainsKey(newId)) throw new InvalidOperationException($"Disk {newId} exists.");
            source.Top.DiskReferences++;
            _disks[newId] = new Disk(newId, source.VirtualSize, source.Top);
        }
    }

    public long GetVirtualSize(string diskId)
    {
        lock (_sync) return Get(diskId).VirtualSize;
    }

    /// <summary>Grows a disk; the new tail reads as zeros and takes no space.</summary>
    public void ResizeDisk(string diskId, long newSize)
    {
        lock (_sync)
        {
            var disk = Get(diskId);
            if (newSize < disk.VirtualSize) throw new InvalidOperationException("Disks only grow.");
            disk.VirtualSize = newSize;
            if (_cbt.TryGetValue(diskId, out var log)) log.Grow(newSize);
        }
    }

    /// <summary>Deletes a disk and, if it has one, its changed-block log (merged into its child's first, as SM does).</summary>
    public void DeleteDisk(string diskId)
    {
        lock (_sync)
        {
            if (_cbt.ContainsKey(diskId)) CbtRemoveFromChain(diskId, coalesce: true);
            DeleteData(diskId);
        }
    }

    /// <summary>Deletes a disk's data but keeps its changed-block log (VDI.data_destroy).</summary>
    public void DeleteData(string diskId)
    {
        lock (_sync)
        {
            if (!_disks.Remove(diskId, out var disk)) return;
            disk.Top.DiskReferences--;
            Collect(disk.Top);
        }
    }

    /// <summary>Bytes in the disk's own top layer (its private allocation).</summary>
    public long PrivateBytes(string diskId)
    {
        lock (_sync) return Get(diskId).Top.AllocatedCount * BlockSize;
    }

    /// <summary>
    /// Writes bytes at an offset. Blocks shared with a snapshot are copied up into the writer's
    /// own layer first, so the snapshot keeps its content.
    /// </summary>
    public void Write(string diskId, long offset, ReadOnlySpan<byte> data)
    {
        lock (_sync)
        {
            ThrowIfDisposed();
            var disk = Get(diskId);
            if (offset < 0 || offset + data.Length > disk.VirtualSize)
                throw new ArgumentOutOfRangeException(nameof(offset), $"Write [{offset}, +{data.Length}) is outside the disk ({disk.VirtualSize} bytes).");
            if (data.IsEmpty) return;
            var top = WritableTop(disk);
            if (_cbt.TryGetValue(diskId, out var log)) log.Mark(offset, data.Length);
            var position = offset;
            var remaining = data;
            while (!remaining.IsEmpty)
            {
                var block = position / BlockSize;
                var inBlock = (int)(position % BlockSize);
                var length = Math.Min(remaining.Length, BlockSize - inBlock);
                if (!top.Has(block))
                {
                    if ((AllocatedBlockCount + 1) * BlockSize > CapacityBytes)
                        throw new StorageFullException(BlockSize, Math.Max(0, CapacityBytes - AllocatedBlockCount * BlockSize));
                    CopyUp(top, block, coveredWhole: inBlock == 0 && length == BlockSize);
                }

                RandomAccess.Write(top.Handle, remaining[..length], block * BlockSize + inBlock);
                top.MarkAllocated(block);
                remaining = remaining[length..];
                position += length;
            }
        }
    }

    /// <summary>Reads the disk as it is now (not a pinned point in time), as a block device in dom0 does.</summary>
    public void Read(string diskId, long offset, Span<byte> destination)
    {
        lock (_sync)
        {
            ThrowIfDisposed();
            var disk = Get(diskId);
            if (offset < 0 || offset + destination.Length > disk.VirtualSize)
                throw new ArgumentOutOfRangeException(nameof(offset), $"Read [{offset}, +{destination.Length}) is outside the disk ({disk.VirtualSize} bytes).");
            var position = offset;
            var remaining = destination;
            var buffer = ArrayPool<byte>.Shared.Rent(BlockSize);
            try
            {
                while (!remaining.IsEmpty)
                {
                    var block = position / BlockSize;
                    var inBlock = (int)(position % BlockSize);
                    var length = Math.Min(remaining.Length, BlockSize - inBlock);
                    if (Resolve(disk.Top, block) is { } node)
                    {
                        ReadFully(node, block, buffer.AsSpan(0, BlockSize));
                        buffer.AsSpan(inBlock, length).CopyTo(remaining);
                    }
                    else
                    {
                        remaining[..length].Clear();
                    }

                    remaining = remaining[length..];
                    position += length;
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
    }

    // --- Changed block tracking: SM's cbtlog files (libs/sm/VDI.py), one log per VDI, linked parent/child. ---

    /// <summary>Whether the disk (or a data-destroyed snapshot) has a changed-block log.</summary>
    public bool HasCbt(string diskId)
    {
        lock (_sync) return _cbt.ContainsKey(diskId);
    }

    /// <summary>Starts a fresh log for the disk (VDI.py configure_blocktracking, _create_cbt_log); no-op when it has one.</summary>
    public void EnableCbt(string diskId)
    {
        lock (_sync)
        {
            var disk = Get(diskId);
            if (!_cbt.ContainsKey(diskId)) _cbt[diskId] = new CbtLog(disk.VirtualSize);
        }
    }

    /// <summary>Deletes the disk's log and clears its parent's child pointer (VDI.py configure_blocktracking, enable=False).</summary>
    public void DisableCbt(string diskId)
    {
        lock (_sync)
        {
            if (!_cbt.Remove(diskId, out var log)) return;
            if (log.Parent is { } parent && _cbt.TryGetValue(parent, out var parentLog)) parentLog.Child = null;
        }
    }

    /// <summary>
    /// A snapshot of a tracked disk (VDI.py _cbt_snapshot): the disk's log becomes the snapshot's
    /// (the blocks written since the previous snapshot), and the disk starts a new empty log whose
    /// parent is the snapshot.
    /// </summary>
    public void SnapshotCbt(string diskId, string snapshotId)
    {
        lock (_sync)
        {
            if (!_cbt.Remove(diskId, out var log)) return;
            _cbt[snapshotId] = log;
            if (log.Parent is { } parent && _cbt.TryGetValue(parent, out var parentLog)) parentLog.Child = snapshotId;
            var fresh = new CbtLog(Get(diskId).VirtualSize) { Parent = snapshotId, Child = log.Child };
            log.Child = diskId;
            _cbt[diskId] = fresh;
        }
    }

    /// <summary>
    /// VDI.list_changed_blocks as SM computes it (VDI.py list_changed_blocks): from the log after
    /// <paramref name="fromId"/>'s, along child pointers, OR every log up to and including
    /// <paramref name="toId"/>'s. Null when the two are not on one chain. Bit i (MSB first in each
    /// byte, as bitarray's tobytes) is the 64 KiB block i.
    /// </summary>
    public byte[]? ListChangedBlocks(string fromId, string toId)
    {
        lock (_sync)
        {
            if (!_cbt.TryGetValue(fromId, out var current) || !_cbt.ContainsKey(toId)) return null;
            bool[]? merged = null;
            var seen = new HashSet<string>(StringComparer.Ordinal);
            while (current.Child is { } next && _cbt.TryGetValue(next, out var nextLog) && seen.Add(next))
            {
                if (merged is null) merged = nextLog.Bits.ToArray();
                else
                {
                    if (nextLog.Bits.Length > merged.Length) Array.Resize(ref merged, nextLog.Bits.Length);
                    for (var i = 0; i < Math.Min(merged.Length, nextLog.Bits.Length); i++) merged[i] |= nextLog.Bits[i];
                }

                if (next == toId) return CbtLog.ToBytes(merged);
                current = nextLog;
            }

            return null;
        }
    }

    private void CbtRemoveFromChain(string diskId, bool coalesce)
    {
        var log = _cbt[diskId];
        _cbt.Remove(diskId);
        if (log.Parent is { } parent && _cbt.TryGetValue(parent, out var parentLog)) parentLog.Child = log.Child;
        if (log.Child is { } child && _cbt.TryGetValue(child, out var childLog))
        {
            childLog.Parent = log.Parent;
            if (coalesce) childLog.Coalesce(log);
        }
    }

    /// <summary>True when no layer of the disk's chain holds the block, so it reads as zeros.</summary>
    public bool IsUnallocated(string diskId, long block)
    {
        lock (_sync) return Resolve(Get(diskId).Top, block) is null;
    }

    /// <summary>
    /// Pins the disk's current chain and reads it block by block (exports, hashes): a consistent
    /// point in time, since a writer to a pinned layer stacks a new layer first.
    /// </summary>
    public DiskReader OpenReader(string diskId)
    {
        lock (_sync)
        {
            ThrowIfDisposed();
            var disk = Get(diskId);
            disk.Top.Pins++;
            return new DiskReader(this, disk.Top, disk.VirtualSize);
        }
    }

    /// <summary>Blocks holding data anywhere in the reader's chain, ascending.</summary>
    public IReadOnlyList<long> AllocatedBlocks(DiskReader disk)
    {
        lock (_sync) return Allocated(disk.Top.Chain(), disk.BlockCount);
    }

    /// <summary>
    /// The blocks that may differ between two disks: those allocated in the private parts of the
    /// two chains (below their common ancestor). Blocks in shared layers are equal by construction.
    /// </summary>
    public IReadOnlyList<long> DifferingBlocks(DiskReader disk, DiskReader baseDisk)
    {
        lock (_sync)
        {
            var chain = disk.Top.Chain().ToList();
            var baseChain = baseDisk.Top.Chain().ToList();
            var common = chain.Intersect(baseChain).ToHashSet();
            var privateLayers = chain.Concat(baseChain).Where(n => !common.Contains(n)).Distinct();
            return Allocated(privateLayers, disk.BlockCount);
        }
    }

    /// <summary>
    /// Copies every allocated block of one disk into another (on this store or another SR's):
    /// a full copy, as VDI.copy across SRs and a storage migration make. The target keeps its size.
    /// </summary>
    public static void CopyBlocks(CowDiskStore source, string sourceId, CowDiskStore target, string targetId)
    {
        using var reader = source.OpenReader(sourceId);
        var buffer = ArrayPool<byte>.Shared.Rent(BlockSize);
        try
        {
            foreach (var block in source.AllocatedBlocks(reader))
            {
                var length = reader.BlockLength(block);
                reader.ReadBlock(block, buffer.AsSpan(0, length));
                target.Write(targetId, block * BlockSize, buffer.AsSpan(0, length));
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    public byte[] ComputeSha256(string diskId)
    {
        using var reader = OpenReader(diskId);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = ArrayPool<byte>.Shared.Rent(BlockSize);
        try
        {
            for (long block = 0; block < reader.BlockCount; block++)
            {
                var length = reader.BlockLength(block);
                reader.ReadBlock(block, buffer.AsSpan(0, length));
                hash.AppendData(buffer, 0, length);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        return hash.GetHashAndReset();
    }

    public void Dispose()
    {
        lock (_sync)
        {
            if (_disposed) return;
            _disposed = true;
            foreach (var node in _nodes) node.DeleteFile();
            _nodes.Clear();
            _disks.Clear();
            _cbt.Clear();
        }
    }

    internal void ReadResolved(DiskNode top, long block, Span<byte> destination)
    {
        lock (_sync)
        {
            ThrowIfDisposed();
            if (Resolve(top, block) is { } source) ReadFully(source, block, destination);
            else destination.Clear();
        }
    }

    internal bool IsAllocated(DiskNode top, long block)
    {
        lock (_sync) return Resolve(top, block) is not null;
    }

    internal void Unpin(DiskNode top)
    {
        lock (_sync)
        {
            if (_disposed) return;
            top.Pins--;
            Collect(top);
        }
    }

    private static void ReadFully(DiskNode node, long block, Span<byte> destination)
    {
        var read = 0;
        while (read < destination.Length)
        {
            var n = RandomAccess.Read(node.Handle, destination[read..], block * BlockSize + read);
            if (n == 0) break;
            read += n;
        }

        // A block written only partly ends in a hole or before the end of the file: zeros.
        destination[read..].Clear();
    }

    private static DiskNode? Resolve(DiskNode top, long block) => top.Chain().FirstOrDefault(n => n.Has(block));

    private static List<long> Allocated(IEnumerable<DiskNode> layers, long blockCount) =>
        layers.SelectMany(n => n.AllocatedBlocks()).Where(b => b < blockCount).Distinct().Order().ToList();

    private static void CopyUp(DiskNode top, long block, bool coveredWhole)
    {
        if (coveredWhole) return;
        var source = top.Parent is null ? null : Resolve(top.Parent, block);
        if (source is null) return; // never written below: the hole already reads as zeros
        var buffer = ArrayPool<byte>.Shared.Rent(BlockSize);
        try
        {
            ReadFully(source, block, buffer.AsSpan(0, BlockSize));
            RandomAccess.Write(top.Handle, buffer.AsSpan(0, BlockSize), block * BlockSize);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private DiskNode WritableTop(Disk disk)
    {
        if (!disk.Top.IsFrozen) return disk.Top;
        var frozen = disk.Top;
        var top = NewNode(frozen);
        frozen.Children++;
        frozen.DiskReferences--;
        top.DiskReferences = 1;
        disk.Top = top;
        return top;
    }

    private DiskNode NewNode(DiskNode? parent)
    {
        var id = Guid.NewGuid();
        var node = new DiskNode(id, Path.Combine(RootDirectory, $"{id:D}.img"), parent);
        _nodes.Add(node);
        return node;
    }

    /// <summary>
    /// Drops layers nobody needs any more and, like SM's coalescing, merges a layer that only
    /// backs a single child into that child, so chains stay short as snapshots come and go.
    /// </summary>
    private void Collect(DiskNode? node)
    {
        while (node is not null)
        {
            var parent = node.Parent;
            if (node.IsGarbage)
            {
                node.DeleteFile();
                _nodes.Remove(node);
                if (parent is not null) parent.Children--;
            }
            else if (node is { DiskReferences: 0, Pins: 0, Children: 1 })
            {
                MergeIntoChild(node);
            }
            else
            {
                return;
            }

            node = parent;
        }
    }

    private void MergeIntoChild(DiskNode node)
    {
        var child = _nodes.Single(n => n.Parent == node);
        var buffer = ArrayPool<byte>.Shared.Rent(BlockSize);
        try
        {
            foreach (var block in node.AllocatedBlocks().Where(b => !child.Has(b)).ToList())
            {
                ReadFully(node, block, buffer.AsSpan(0, BlockSize));
                RandomAccess.Write(child.Handle, buffer.AsSpan(0, BlockSize), block * BlockSize);
                child.MarkAllocated(block);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        child.Parent = node.Parent;
        node.DeleteFile();
        _nodes.Remove(node);
    }

    private Disk Get(string diskId) =>
        _disks.TryGetValue(diskId, out var disk) ? disk : throw new KeyNotFoundException($"No disk {diskId}.");

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_disposed, this);

    private sealed class Disk(string id, long virtualSize, DiskNode top)
    {
        public string Id { get; } = id;

        public long VirtualSize { get; set; } = virtualSize;

        public DiskNode Top { get; set; } = top;
    }
}

/// <summary>One changed-block log: a bit per 64 KiB block (SM's CBT_BLOCK_SIZE) and the links of its chain.</summary>
internal sealed class CbtLog(long virtualSize)
{
    public const int BlockSize = 64 * 1024;

    public bool[] Bits { get; private set; } = new bool[(virtualSize + BlockSize - 1) / BlockSize];

    public string? Parent { get; set; }

    public string? Child { get; set; }

    public void Mark(long offset, int length)
    {
        if (length <= 0) return;
        var last = Math.Min(Bits.Length - 1, (offset + length - 1) / BlockSize);
        for (var block = offset / BlockSize; block <= last; block++) Bits[block] = true;
    }

    public void Grow(long virtualSize)
    {
        var blocks = (virtualSize + BlockSize - 1) / BlockSize;
        if (blocks <= Bits.Length) return;
        var bits = Bits;
        Array.Resize(ref bits, (int)blocks);
        Bits = bits;
    }

    public void Coalesce(CbtLog other)
    {
        if (other.Bits.Length > Bits.Length) Grow((long)other.Bits.Length * BlockSize);
        for (var i = 0; i < other.Bits.Length; i++) Bits[i] |= other.Bits[i];
    }

    public static byte[] ToBytes(bool[] bits)
    {
        var bytes = new byte[(bits.Length + 7) / 8];
        for (var i = 0; i < bits.Length; i++)
            if (bits[i]) bytes[i / 8] |= (byte)(0x80 >> (i % 8));
        return bytes;
    }
}

/// <summary>A point-in-time view of a disk's chain; the layers stay on disk until it is disposed.</summary>
internal sealed class DiskReader : IDisposable
{
    private readonly CowDiskStore _store;
    private readonly DiskNode _top;
    private bool _disposed;

    internal DiskReader(CowDiskStore store, DiskNode top, long virtualSize)
    {
        _store = store;
        _top = top;
        VirtualSize = virtualSize;
    }

    public long VirtualSize { get; }

    public long BlockCount => CowDiskStore.BlockCount(VirtualSize);

    /// <summary>Identity of the content this reader sees (its top layer); used as a VHD unique id.</summary>
    public Guid LayerId => Top.Id;

    internal DiskNode Top => _top;

    /// <summary>Bytes of the block inside the disk (the last one may be short).</summary>
    public int BlockLength(long block) => (int)Math.Min(CowDiskStore.BlockSize, VirtualSize - block * CowDiskStore.BlockSize);

    public bool IsAllocated(long block) => _store.IsAllocated(_top, block);

    /// <summary>Reads a block (or its first <c>destination.Length</c> bytes); unallocated blocks read as zeros.</summary>
    public void ReadBlock(long block, Span<byte> destination) => _store.ReadResolved(_top, block, destination);

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _store.Unpin(_top);
    }
}

/// <summary>The SR has no room for a new block (SR_FULL [requested, maximum]).</summary>
internal sealed class StorageFullException(long requested, long available)
    : IOException($"The SR is full: {requested} bytes requested, {available} available.")
{
    public long Requested { get; } = requested;

    public long Available { get; } = available;
}
