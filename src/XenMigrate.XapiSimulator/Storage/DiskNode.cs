using System.Collections;
using Microsoft.Win32.SafeHandles;

namespace XenMigrate.XapiSimulator.Storage;

/// <summary>
/// One layer of a copy-on-write chain: a sparse file holding the blocks written while this layer
/// was on top, plus its allocation map (one bit per 2 MiB block). A layer that has children or is
/// shared by several disks is frozen; writers stack a fresh layer on top of it first.
/// </summary>
internal sealed class DiskNode
{
    private readonly BitArray _allocated = new(0);
    private SafeFileHandle? _handle;

    public DiskNode(Guid id, string path, DiskNode? parent)
    {
        Id = id;
        Path = path;
        Parent = parent;
    }

    public Guid Id { get; }

    public string Path { get; }

    public DiskNode? Parent { get; set; }

    /// <summary>Disks whose top layer this is.</summary>
    public int DiskReferences { get; set; }

    /// <summary>Layers stacked directly on this one.</summary>
    public int Children { get; set; }

    /// <summary>Open readers (exports, hashes) that need this layer to stay on disk, unchanged.</summary>
    public int Pins { get; set; }

    public long AllocatedCount { get; private set; }

    /// <summary>Shared, stacked on, or being read by a point-in-time reader: a writer must stack a new layer.</summary>
    public bool IsFrozen => DiskReferences > 1 || Children > 0 || Pins > 0;

    public bool IsGarbage => DiskReferences == 0 && Children == 0 && Pins == 0;

    public bool Has(long block) => block < _allocated.Length && _allocated[(int)block];

    public void MarkAllocated(long block)
    {
        if (block >= _allocated.Length) _allocated.Length = (int)Math.Max(block + 1, _allocated.Length * 2L);
        if (_allocated[(int)block]) return;
        _allocated[(int)block] = true;
        AllocatedCount++;
    }

    public IEnumerable<long> AllocatedBlocks()
    {
        for (var i = 0; i < _allocated.Length; i++)
            if (_allocated[i]) yield return i;
    }

    public SafeFileHandle Handle =>
        _handle ??= File.OpenHandle(Path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.ReadWrite);

    public bool HasFile => _handle is not null || File.Exists(Path);

    public void DeleteFile()
    {
        _handle?.Dispose();
        _handle = null;
        if (File.Exists(Path)) File.Delete(Path);
    }

    public IEnumerable<DiskNode> Chain()
    {
        for (var node = this; node is not null; node = node.Parent) yield return node;
    }
}
